/**
 * The TypeScript API a notebook or script uses: load a checkpoint folder, `encode(sentences)`,
 * `similarity(a, b)`. Wraps a model, its tokenizer and a pooler; evaluation gets its embedding
 * function from here too (`embedBatch`, one forward pass per batch exactly as given).
 *
 * @example
 * ```ts
 * import { SentenceEncoder } from "./sentence_encoder.ts";
 * const enc = await SentenceEncoder.load("testdata/bert/tiny-safetensors", { pooler: "cls_before_pooler" });
 * const sims = await enc.similarity(["a man is playing a guitar."], ["a woman is slicing an onion."]);
 * console.log(sims[0][0]);
 * enc.dispose();
 * ```
 * @module
 */
import { type Tensor2D, tf } from "../runtime/tf.ts";
import { pool, poolerProblem, type PoolerType, poolsFirstToken } from "./pooling.ts";
import type { EncoderInputs, TextTokenizer } from "../model/encoder.ts";
import { loadEncoder } from "../model/registry.ts";
import { checkPrecision, type Precision } from "../ops/precision.ts";
import { ProgressBar } from "../runtime/progress.ts";
import { firstNonFinite } from "../checkpoint/state_dict.ts";
import { inputError } from "../runtime/printable.ts";
import { Embeddings } from "./embeddings.ts";

/** Options of {@link SentenceEncoder.encode}. */
export interface EncodeOptions {
  /** Sentences per forward pass (default 128, SentEval's). */
  batchSize?: number;
  /** L2-normalise each embedding (default false). */
  normalize?: boolean;
  /** Show a progress bar on stderr (default: when more than 2 batches). */
  progress?: boolean;
}

/**
 * Sentences in, one embedding per sentence out: a model, its tokenizer and a pooler behind
 * `encode(sentences)` and `similarity(a, b)`. Build one with {@link SentenceEncoder.load}.
 */
export class SentenceEncoder {
  private warnedLength = false;

  /**
   * Wrap an embedding function; {@link SentenceEncoder.load} builds one from a checkpoint folder.
   *
   * @param tokenizer turns sentences into padded id batches
   * @param embedInputs one forward pass + pooling: [B, L] inputs -> [B, H] (dropout off)
   * @param maxPositions the model's position limit (longer inputs are truncated with a warning)
   * @param owned disposed by `dispose()`
   */
  constructor(
    readonly tokenizer: TextTokenizer,
    readonly embedInputs: (inputs: EncoderInputs) => Tensor2D,
    readonly maxPositions: number,
    private readonly owned?: { dispose(): void },
  ) {}

  /**
   * Load a Hugging Face checkpoint folder (config.json, weights, tokenizer files). `precision` (default
   * fp32) is the matmul precision of every forward pass, e.g. fp16 for a model trained in fp16.
   */
  static async load(
    dir: string,
    opts: { pooler: PoolerType; precision?: Precision },
  ): Promise<SentenceEncoder> {
    const { encoder: model, tokenizer } = await loadEncoder(dir);
    const precision = opts.precision ?? "fp32";
    try {
      checkPrecision(precision, model.precisions, model.kind);
      const problem = poolerProblem(opts.pooler, model, dir);
      if (problem) throw problem;
    } catch (e) {
      model.dispose();
      throw e;
    }
    const pooler = opts.pooler;
    return new SentenceEncoder(
      tokenizer,
      (x) => pool(pooler, model.forward(x, { firstTokenOnly: poolsFirstToken(pooler), precision })),
      model.config.maxPositionEmbeddings,
      model,
    );
  }

  /**
   * Embed one batch in one forward pass (no re-ordering), as SentEval's batcher does: pad to the
   * longest sentence, no truncation except at the model's position limit (with a warning). The
   * result is read back asynchronously in one read (GPU backends allow no synchronous reads).
   */
  embedBatch(sentences: string[]): Promise<Float32Array[]> {
    return this.readRows(this.startBatch(sentences), sentences);
  }

  /** Run the forward pass of one batch; the [B, H] result is still on the backend. */
  private startBatch(sentences: string[]): tf.Tensor2D | null {
    if (sentences.length === 0) return null;
    const maxPos = this.maxPositions;
    // Tokenize with the model's position limit: identical ids when nothing is that long, and a huge
    // line costs no more than the part that is kept.
    const batch = this.tokenizer.encodeBatch(sentences, { maxLength: maxPos });
    if (batch.seqLen >= maxPos && !this.warnedLength) {
      console.warn(
        `warning: a sentence reaches the model's limit of ${maxPos} tokens; longer ones are truncated`,
      );
      this.warnedLength = true;
    }
    const { batchSize: B, seqLen: L } = batch;
    return tf.tidy(() => {
      return this.embedInputs({
        inputIds: tf.tensor2d(batch.inputIds, [B, L], "int32"),
        attentionMask: tf.tensor2d(batch.attentionMask, [B, L], "int32"),
        tokenTypeIds: tf.tensor2d(batch.tokenTypeIds, [B, L], "int32"),
      });
    });
  }

  /** Read a [B, H] result into B rows and dispose it; a NaN or Inf in it is an error naming the sentence. */
  private async readRows(flat: tf.Tensor2D | null, sentences: string[]): Promise<Float32Array[]> {
    if (!flat) return [];
    const [B, H] = flat.shape;
    let values: Float32Array;
    try {
      values = await flat.data() as Float32Array;
    } finally {
      flat.dispose();
    }
    const bad = firstNonFinite(values);
    if (bad >= 0) {
      throw inputError(
        `the model produced ${values[bad]} in the embedding of ${
          JSON.stringify(sentences[Math.floor(bad / H)].slice(0, 80))
        } (dimension ${bad % H}): its weights or activations overflow, so no embedding is usable`,
      );
    }
    const rows: Float32Array[] = [];
    for (let i = 0; i < B; i++) rows.push(values.slice(i * H, (i + 1) * H));
    return rows;
  }

  /**
   * Embed one sentence or a list: one [n, dim] float32 matrix with its shape (`Embeddings`: `data`,
   * `shape`, `row(i)`, `toArray()`), rows in input order; a single string gives a [1, dim] matrix.
   */
  async encode(input: string | readonly string[], opts: EncodeOptions = {}): Promise<Embeddings> {
    const rows = await this.encodeRows(typeof input === "string" ? [input] : [...input], opts);
    return Embeddings.fromRows(rows);
  }

  /**
   * Embed any number of sentences, one Float32Array per sentence; batches are formed from
   * length-sorted sentences (less padding) and results come back in input order. The next batch's
   * forward pass is queued before the previous batch is read back, so a GPU backend never waits idle.
   */
  async encodeRows(sentences: string[], opts: EncodeOptions = {}): Promise<Float32Array[]> {
    const bs = opts.batchSize ?? 128;
    const order = sentences.map((s, i) => ({ i, n: s.length })).sort((a, b) => a.n - b.n || a.i - b.i);
    const out = new Array<Float32Array>(sentences.length);
    const bar = new ProgressBar(
      "encode",
      sentences.length,
      "sent",
      undefined,
      opts.progress ?? sentences.length > 2 * bs,
    );
    let pending: { idx: number[]; flat: tf.Tensor2D | null; end: number } | null = null;
    const drain = async (p: { idx: number[]; flat: tf.Tensor2D | null; end: number }) => {
      const rows = await this.readRows(p.flat, p.idx.map((i) => sentences[i]));
      p.idx.forEach((i, j) => out[i] = opts.normalize ? normalized(rows[j]) : rows[j]);
      bar.update(p.end);
    };
    try {
      for (let start = 0; start < order.length; start += bs) {
        const idx = order.slice(start, start + bs).map((o) => o.i);
        const next = {
          idx,
          flat: this.startBatch(idx.map((i) => sentences[i])),
          end: Math.min(start + bs, order.length),
        };
        const prev = pending;
        pending = next;
        if (prev) await drain(prev);
      }
      if (pending) {
        const last = pending;
        pending = null;
        await drain(last);
      }
    } finally {
      pending?.flat?.dispose();
    }
    if (sentences.length > 2 * bs) bar.finish();
    return out;
  }

  /** Cosine similarity matrix [a.length][b.length]. */
  async similarity(a: string[], b: string[]): Promise<number[][]> {
    const ea = await this.encodeRows(a, { normalize: true });
    const eb = await this.encodeRows(b, { normalize: true });
    return ea.map((x) => eb.map((y) => dot(x, y)));
  }

  /** Free the model's weights (when this encoder owns them); the encoder is unusable afterwards. */
  dispose(): void {
    this.owned?.dispose();
  }
}

/** Dot product of two equal-length vectors, in float64. */
export function dot(a: Float32Array, b: Float32Array): number {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += a[i] * b[i];
  return s;
}

/** Copy of `v` scaled to unit L2 norm (a zero vector stays zero). */
export function normalized(v: Float32Array): Float32Array {
  const n = Math.sqrt(dot(v, v));
  return n > 0 ? v.map((x) => x / n) : v.slice();
}
