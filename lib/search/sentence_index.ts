/**
 * The sentence-search tool, like the official `simcse` package (docs/SIMCSE.md §e.3): build an index
 * of sentences, search it with a query (or a list of queries, handled one by one), add sentences,
 * compute cosine similarities, save and reload the index.
 *
 * Semantics (the official `search(queries, threshold=0.6, top_k=5)`):
 * - exact index (default): cosine of the query against every indexed sentence, keep scores
 *   >= threshold, sort descending (ties in index order), take topK;
 * - approximate index (`approximate: true`, an HNSW graph from `usearch`): retrieve topK
 *   candidates by inner product, then drop those below threshold (scores are exact cosines).
 * Embeddings are L2-normalised, so inner product = cosine.
 *
 * The encoder is a {@link SentenceEncoder} or any `(sentences) => Promise<Float32Array[]>`.
 *
 * @example
 * ```ts
 * import { SentenceEncoder } from "../simcse/sentence_encoder.ts";
 * import { buildIndex } from "./sentence_index.ts";
 * const enc = await SentenceEncoder.load("testdata/bert/tiny-safetensors", { pooler: "cls_before_pooler" });
 * const index = await buildIndex(["a man is playing a guitar .", "a woman is slicing an onion ."], enc);
 * console.log(await index.search("a man plays the guitar .", { topK: 1, threshold: 0 }));
 * await index.save("/tmp/demo.simidx");
 * enc.dispose();
 * ```
 * @module
 */
import type { EmbedFn } from "../eval/sts_eval.ts";
import { InputError } from "../runtime/errors.ts";
import { SentenceEncoder } from "../simcse/sentence_encoder.ts";
import { EmbeddingMatrix, unitVector } from "./embedding_matrix.ts";
import { HnswIndex, type HnswOptions } from "./hnsw_index.ts";
import { type IndexMeta, readIndexFile, writeIndexFile } from "./index_file.ts";
import { readSentenceFile } from "./sentence_file.ts";
import { selectTopK, type TopKOptions } from "./top_k.ts";

/** Any sentence embedding function: one vector per sentence, in order (the evaluator's type). */
export type { EmbedFn };

/** What turns sentences into vectors: a loaded checkpoint or a plain function. */
export type SentenceEmbedder = SentenceEncoder | EmbedFn;

/** Sentences, or the path of a text file with one sentence per line (as the official tool). */
export type SentenceSource = string[] | string;

/** Options of {@link buildIndex}. */
export interface BuildIndexOptions {
  /** Sentences per forward pass (default 64, the official tool's). */
  batchSize?: number;
  /** Also build an HNSW graph for approximate search (`true` or HNSW parameters). Default false. */
  approximate?: boolean | HnswOptions;
  /** Recorded in the saved file: the model folder the embeddings come from. */
  modelPath?: string;
  /** Recorded in the saved file: the pooler. */
  pooler?: string;
  /** Progress bar on stderr while encoding (default: for more than 2 batches). */
  progress?: boolean;
}

/** Options of {@link SentenceIndex.load}. */
export interface LoadIndexOptions {
  /**
   * Approximate search: `undefined` (default) uses the saved HNSW graph when the file has one;
   * `true` (or parameters) also builds one when it has none; `false` always searches exactly.
   */
  approximate?: boolean | HnswOptions;
  /** Sentences per forward pass for later queries and additions (default 64). */
  batchSize?: number;
}

/** One search result. */
export interface SearchHit {
  /** The indexed sentence. */
  sentence: string;
  /** Cosine similarity to the query. */
  score: number;
  /** Row of the sentence in the index. */
  index: number;
}

const DEFAULT_BATCH = 64;

/** Turn any embedder into a batched function that returns unit vectors. */
function embedder(e: SentenceEmbedder, batchSize: number, progress?: boolean): EmbedFn {
  if (!Number.isInteger(batchSize) || batchSize <= 0) {
    throw new InputError(`batchSize must be a positive integer, got ${batchSize}`, { key: "batchSize" });
  }
  if (e instanceof SentenceEncoder) {
    return (s) => e.encodeRows(s, { batchSize, normalize: true, progress });
  }
  return async (s) => {
    const out: Float32Array[] = [];
    for (let i = 0; i < s.length; i += batchSize) {
      const part = await e(s.slice(i, i + batchSize));
      if (part.length !== Math.min(batchSize, s.length - i)) {
        throw new Error(
          `the embedding function returned ${part.length} vectors for ${
            s.slice(i, i + batchSize).length
          } sentences`,
        );
      }
      out.push(...part.map(unitVector));
    }
    return out;
  };
}

async function resolveSource(source: SentenceSource): Promise<string[]> {
  if (typeof source === "string") return await readSentenceFile(source);
  if (!Array.isArray(source) || source.some((s) => typeof s !== "string")) {
    throw new InputError("sentences must be an array of strings or a file path");
  }
  return source;
}

function hnswOptions(a: boolean | HnswOptions | undefined): HnswOptions | null {
  if (a === undefined || a === false) return null;
  return a === true ? {} : a;
}

/**
 * Indexed sentences and their unit-length embeddings, searchable by cosine similarity (exactly, or
 * through an HNSW graph). Build one with {@link buildIndex} or load a saved one with
 * {@link SentenceIndex.load}.
 */
export class SentenceIndex {
  private constructor(
    private readonly embed: EmbedFn,
    private readonly matrix: EmbeddingMatrix,
    private readonly texts: string[],
    private readonly info: { modelPath: string | null; pooler: string | null },
    private hnsw: HnswIndex | null,
  ) {}

  /** @internal Used by {@link buildIndex}. */
  static async fromEmbeddings(
    embed: EmbedFn,
    sentences: string[],
    vectors: Float32Array[],
    info: { modelPath: string | null; pooler: string | null },
    approximate: HnswOptions | null,
  ): Promise<SentenceIndex> {
    if (vectors.length === 0) throw new InputError("cannot build an index of zero sentences");
    const matrix = new EmbeddingMatrix(vectors[0].length, vectors.length);
    matrix.append(vectors);
    let hnsw: HnswIndex | null = null;
    if (approximate) {
      hnsw = await HnswIndex.create(matrix.dim, approximate);
      hnsw.add(0, matrix.data);
    }
    return new SentenceIndex(embed, matrix, [...sentences], info, hnsw);
  }

  /**
   * Load a saved index (see `index_file.ts`); `encoder` embeds later queries and must be the model
   * the index was built with (its embedding size is checked at the first query).
   */
  static async load(
    path: string,
    encoder: SentenceEmbedder,
    opts: LoadIndexOptions = {},
  ): Promise<SentenceIndex> {
    const c = await readIndexFile(path);
    const matrix = EmbeddingMatrix.fromData(c.meta.dim, c.embeddings);
    let hnsw: HnswIndex | null = null;
    const want = opts.approximate;
    if (want !== false && c.hnsw && c.meta.hnsw) {
      const o = hnswOptions(want) ?? {};
      hnsw = await HnswIndex.deserialize(c.hnsw, c.meta.dim, c.meta.hnsw, c.meta.count, path, o);
    } else if (want) {
      console.error(`${path}: no saved HNSW graph; building one for ${c.meta.count} sentences`);
      hnsw = await HnswIndex.create(c.meta.dim, hnswOptions(want) ?? {});
      hnsw.add(0, matrix.data);
    }
    return new SentenceIndex(
      embedder(encoder, opts.batchSize ?? DEFAULT_BATCH),
      matrix,
      c.sentences,
      { modelPath: c.meta.modelPath, pooler: c.meta.pooler },
      hnsw,
    );
  }

  /** Number of indexed sentences. */
  get size(): number {
    return this.matrix.count;
  }

  /** Embedding size. */
  get dim(): number {
    return this.matrix.dim;
  }

  /** Whether searches use the HNSW graph. */
  get approximate(): boolean {
    return this.hnsw !== null;
  }

  /** The indexed sentences, in index order (a copy). */
  get sentences(): string[] {
    return [...this.texts];
  }

  /** Model folder and pooler recorded when the index was built (null when unknown). */
  get source(): { modelPath: string | null; pooler: string | null } {
    return { ...this.info };
  }

  /** Embed and append sentences (or a file of them), as the official `add_to_index`. */
  async addToIndex(source: SentenceSource): Promise<void> {
    const sentences = await resolveSource(source);
    if (sentences.length === 0) return;
    const vectors = await this.embed(sentences);
    this.checkDim(vectors[0]);
    const first = this.matrix.count;
    this.matrix.append(vectors);
    this.texts.push(...sentences);
    this.hnsw?.add(first, this.matrix.data.subarray(first * this.dim));
  }

  /** The official `search`: one query gives a list of hits; a list of queries gives one list per query. */
  search(query: string, opts?: TopKOptions): Promise<SearchHit[]>;
  /** Search with each query of a list: one list of hits per query, in query order. */
  search(queries: string[], opts?: TopKOptions): Promise<SearchHit[][]>;
  async search(q: string | string[], opts: TopKOptions = {}): Promise<SearchHit[] | SearchHit[][]> {
    const list = typeof q === "string" ? [q] : q;
    if (list.length === 0) return [];
    const vecs = await this.embed(list);
    const out = vecs.map((v) => this.searchEmbedding(v, opts));
    return typeof q === "string" ? out[0] : out;
  }

  /** Search with a query embedding (normalised here). */
  searchEmbedding(query: Float32Array, opts: TopKOptions = {}): SearchHit[] {
    this.checkDim(query);
    const q = unitVector(query);
    let picked;
    if (this.hnsw) {
      // Candidates in index order, so equal scores rank as in the exact search.
      const ids = this.hnsw.search(q, opts.topK ?? 5).sort((a, b) => a - b);
      // Exact cosines of the candidates, in float32 like the brute-force scores.
      const scores = ids.map((i) => Math.fround(dotRow(this.matrix.row(i), q)));
      picked = selectTopK(scores, opts, ids);
    } else {
      picked = selectTopK(this.matrix.scores(q), opts);
    }
    return picked.map(({ index, score }) => ({ sentence: this.texts[index], score, index }));
  }

  /** Cosine similarity; like the official tool, a single string on a side collapses that dimension. */
  similarity(a: string, b: string): Promise<number>;
  /** Cosine similarity of one sentence with each of `b`. */
  similarity(a: string, b: string[]): Promise<number[]>;
  /** Cosine similarity of each of `a` with one sentence. */
  similarity(a: string[], b: string): Promise<number[]>;
  /** Cosine-similarity matrix [a.length][b.length]. */
  similarity(a: string[], b: string[]): Promise<number[][]>;
  async similarity(a: string | string[], b: string | string[]): Promise<number | number[] | number[][]> {
    const m = await similarity(this.embed, typeof a === "string" ? [a] : a, typeof b === "string" ? [b] : b);
    return collapse(m, a, b);
  }

  /** Save to `path` atomically (with the HNSW graph when the index has one). */
  async save(path: string): Promise<void> {
    const meta: IndexMeta = {
      modelPath: this.info.modelPath,
      pooler: this.info.pooler,
      dim: this.dim,
      count: this.size,
      createdAt: new Date().toISOString(),
      hnsw: this.hnsw ? this.hnsw.params : null,
    };
    await writeIndexFile(path, {
      meta,
      sentences: this.texts,
      embeddings: this.matrix.data,
      hnsw: this.hnsw ? await this.hnsw.serialize() : null,
    });
  }

  /** Throw an InputError when `v` does not have the index's embedding size (a different model). */
  private checkDim(v: Float32Array): void {
    if (v.length !== this.dim) {
      const from = this.info.modelPath ? ` (built with ${this.info.modelPath})` : "";
      throw new InputError(
        `the model gives embeddings of size ${v.length}, the index${from} holds size ${this.dim}: use the same model`,
      );
    }
  }
}

/** Build an index from sentences or a sentence file (the official `build_index`). */
export async function buildIndex(
  source: SentenceSource,
  encoder: SentenceEmbedder,
  opts: BuildIndexOptions = {},
): Promise<SentenceIndex> {
  const sentences = await resolveSource(source);
  if (sentences.length === 0) throw new InputError("cannot build an index of zero sentences");
  const embed = embedder(encoder, opts.batchSize ?? DEFAULT_BATCH, opts.progress);
  const vectors = await embed(sentences);
  return await SentenceIndex.fromEmbeddings(
    embedder(encoder, opts.batchSize ?? DEFAULT_BATCH),
    sentences,
    vectors,
    { modelPath: opts.modelPath ?? null, pooler: opts.pooler ?? null },
    hnswOptions(opts.approximate),
  );
}

/** Cosine-similarity matrix [a.length][b.length] of two sentence lists under any embedder. */
export async function similarity(encoder: SentenceEmbedder, a: string[], b: string[]): Promise<number[][]> {
  const embed = embedder(encoder, DEFAULT_BATCH);
  const ea = await embed(a), eb = await embed(b);
  return ea.map((x) => eb.map((y) => dotRow(x, y)));
}

function collapse(m: number[][], a: string | string[], b: string | string[]): number | number[] | number[][] {
  if (typeof a === "string" && typeof b === "string") return m[0][0];
  if (typeof a === "string") return m[0];
  if (typeof b === "string") return m.map((r) => r[0]);
  return m;
}

function dotRow(a: Float32Array, b: Float32Array): number {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += a[i] * b[i];
  return s;
}
