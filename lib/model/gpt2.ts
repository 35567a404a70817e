/**
 * GPT-2 encoder in TensorFlow.js, mirroring Hugging Face `GPT2Model` (transformers 4.2.1
 * `modeling_gpt2.py`; docs/SIMCSE.md §i, §d.2): token (`wte`) + position (`wpe`, ids 0…L−1, not derived
 * from the mask) embeddings, embedding dropout; pre-LayerNorm blocks
 * `x + attn(ln_1(x))`, `x + mlp(ln_2(x))`; the final `ln_f`.
 *
 * Attention as HF 4.2.1: scores = q·kᵀ / √d; causal (future) positions are *replaced* by
 * `masked_bias` = −1e4; then the additive key-padding mask (1 − m)·(−10000) is added; softmax;
 * dropout; ·v; `c_proj`; dropout. MLP: `c_fc` → `gelu_new` → `c_proj` → dropout. Padding sits on the
 * right, so real tokens never see a pad and their states do not depend on the batch's padding; pad
 * positions still get hidden states (they see every earlier token).
 *
 * Parameters live in a `Map` keyed by Hugging Face `GPT2Model` names (`h.0.attn.c_attn.weight`, …).
 * Conv1D weights are already [in, out], so the forward pass is `linear(x, W, b)` with no transpose.
 * Token type ids are ignored: GPT-2's tokenizer returns none and SimCSE passes none (HF would add
 * `wte(token_type_ids)` if they were given).
 *
 * Dropout sites are numbered as BERT's (`dropout.ts`): embeddings 0; block l: attention
 * probabilities 1 + 3l, attention output 2 + 3l, MLP output 3 + 3l.
 *
 * `hiddenStates` as HF: [embedding output, block 1, …, block n−1, ln_f(block n)], so the last entry is
 * `lastHiddenState`.
 *
 * @example
 * ```ts
 * import { tf } from "../runtime/tf.ts";
 * import { Gpt2Model } from "./gpt2.ts";
 * import { gpt2ConfigFromJson } from "./gpt2_config.ts";
 * const cfg = gpt2ConfigFromJson({ model_type: "gpt2", vocab_size: 50, n_embd: 16, n_layer: 1, n_head: 2,
 *   n_positions: 16 }, "config.json");
 * const model = Gpt2Model.init(cfg, 1);
 * const out = model.forward({ inputIds: tf.tensor2d([[2, 5, 3]], undefined, "int32"),
 *   attentionMask: tf.tensor2d([[1, 1, 1]], undefined, "int32") });
 * console.log(out.lastHiddenState.shape); // [1, 3, 16]
 * ```
 * @module
 */
import { tf } from "../runtime/tf.ts";
import { activationThenLinear, layerNorm, positionIds, release } from "./layers.ts";
import type { Encoder, EncoderInputs, EncoderOutput, ForwardOptions } from "./encoder.ts";
import { checkPrecision, halfOps, type HalfPrecisionOps, PRECISIONS, usesHalfOps } from "../ops/precision.ts";
import type { Gpt2Config } from "./gpt2_config.ts";
import { linear, type WeightColumns } from "../ops/linear.ts";
import { checkpointed } from "../ops/checkpointing.ts";
import { addSameShape } from "../ops/saveless_add.ts";
import { savelessReshape } from "../ops/saveless_view.ts";
import { attentionContext, attentionScores, attentionSoftmax } from "../ops/fused.ts";
import { embeddingLookup } from "../ops/row_gradient.ts";

export type { Gpt2Config };

/** HF 4.2.1 `Attention.masked_bias`: the logit that replaces causally masked scores. */
export const MASKED_BIAS = -1e4;

/** Every parameter name of `GPT2Model` and its shape (Conv1D weights [in, out], as stored by HF). */
export function gpt2ParamShapes(cfg: Gpt2Config): Map<string, number[]> {
  const H = cfg.hiddenSize, I = cfg.intermediateSize;
  const m = new Map<string, number[]>([
    ["wte.weight", [cfg.vocabSize, H]],
    ["wpe.weight", [cfg.nPositions, H]],
  ]);
  for (let i = 0; i < cfg.numHiddenLayers; i++) {
    const p = `h.${i}.`;
    m.set(`${p}ln_1.weight`, [H]);
    m.set(`${p}ln_1.bias`, [H]);
    m.set(`${p}attn.c_attn.weight`, [H, 3 * H]);
    m.set(`${p}attn.c_attn.bias`, [3 * H]);
    m.set(`${p}attn.c_proj.weight`, [H, H]);
    m.set(`${p}attn.c_proj.bias`, [H]);
    m.set(`${p}ln_2.weight`, [H]);
    m.set(`${p}ln_2.bias`, [H]);
    m.set(`${p}mlp.c_fc.weight`, [H, I]);
    m.set(`${p}mlp.c_fc.bias`, [I]);
    m.set(`${p}mlp.c_proj.weight`, [I, H]);
    m.set(`${p}mlp.c_proj.bias`, [H]);
  }
  m.set("ln_f.weight", [H]);
  m.set("ln_f.bias", [H]);
  return m;
}

export class Gpt2Model implements Encoder {
  readonly kind = "gpt2";
  /** GPT-2 has no pretrained pooler. */
  readonly hasPooler = false;
  /** `wte` has no padding_idx: every row, the pad (EOS) row included, is trained. */
  readonly paddingIdx = null;
  readonly wordEmbeddingName = "wte.weight";
  /** Every precision: in "fp16"/"bf16" the blocks' Linear layers and attention matmuls run as that precision's ops. */
  readonly precisions = PRECISIONS;

  constructor(readonly config: Gpt2Config, readonly params: Map<string, tf.Variable>) {}

  /** Fresh random weights (HF 4.2.1 `_init_weights`: normal(0, initializerRange), LayerNorm 1/0, zero biases). */
  static init(config: Gpt2Config, seed: number): Gpt2Model {
    const params = new Map<string, tf.Variable>();
    let s = seed;
    for (const [name, shape] of gpt2ParamShapes(config)) {
      let t: tf.Tensor;
      const isLn = /(^|\.)ln_(1|2|f)\./.test(name);
      if (isLn && name.endsWith(".weight")) t = tf.ones(shape);
      else if (name.endsWith(".bias")) t = tf.zeros(shape);
      else t = tf.randomNormal(shape, 0, config.initializerRange, "float32", s++);
      params.set(name, tf.variable(t, true));
      t.dispose();
    }
    return new Gpt2Model(config, params);
  }

  /** A parameter by HF name; throws naming it if absent. */
  p(name: string): tf.Variable {
    const v = this.params.get(name);
    if (!v) throw new Error(`GPT-2 parameter '${name}' is missing`);
    return v;
  }

  /** Every parameter (GPT-2 has no unused pooler). */
  trainableParams(): Map<string, tf.Variable> {
    return new Map(this.params);
  }

  /** Set resid/embd/attn dropout (SimCSE-jittor `--dropout_rate` overwrites every `*pdrop`). */
  setDropout(rate: number): void {
    this.config.residPdrop = rate;
    this.config.embdPdrop = rate;
    this.config.attnPdrop = rate;
  }

  private linear(x: tf.Tensor2D, name: string): tf.Tensor2D {
    return linear(x, this.p(`${name}.weight`) as tf.Tensor2D, this.p(`${name}.bias`) as tf.Tensor1D);
  }

  /** LayerNorm `name`; in a half precision (`half`) it keeps what its gradient needs at 16 bits. */
  private ln(x: tf.Tensor, name: string, half?: HalfPrecisionOps): tf.Tensor2D {
    return layerNorm(
      x,
      this.p(`${name}.weight`),
      this.p(`${name}.bias`),
      this.config.layerNormEps,
      half?.store,
    ) as tf.Tensor2D;
  }

  /** Run the model. Call inside `tf.tidy` (or dispose the outputs). */
  forward(inputs: EncoderInputs, opts: ForwardOptions = {}): EncoderOutput {
    const cfg = this.config;
    const precision = opts.precision ?? "fp32";
    checkPrecision(precision, this.precisions, this.kind);
    const half = usesHalfOps(precision) ? halfOps(precision) : undefined;
    const [B, L] = inputs.inputIds.shape;
    const H = cfg.hiddenSize, nh = cfg.numAttentionHeads, dh = H / nh;
    if (L > cfg.maxPositionEmbeddings) {
      throw new Error(
        `sequence length ${L} exceeds the model's limit ${cfg.maxPositionEmbeddings} (n_positions/n_ctx)`,
      );
    }
    const training = opts.training ?? false;
    if (training && !opts.dropout) throw new Error("forward(training: true) needs a dropout function");
    const drop = (x: tf.Tensor, rate: number, site: number) =>
      training && rate > 0 ? opts.dropout!(x, rate, site) : x;

    const mask = tf.cast(inputs.attentionMask, "float32") as tf.Tensor2D; // [B, L]
    const ids = tf.reshape(inputs.inputIds, [B * L]) as tf.Tensor1D;
    const positions = positionIds(B, L);
    const tokens = embeddingLookup(this.p("wte.weight"), ids);
    const pos = tf.gather(this.p("wpe.weight"), positions);
    const sum = addSameShape(tokens, pos); // [B*L, H]
    let h = drop(sum, cfg.embdPdrop, 0) as tf.Tensor2D;
    release(tokens, pos); // no op saved them
    if (h !== sum) release(sum); // the dropout keeps nothing of it
    const allHidden = opts.allHiddenStates ?? true;
    const hiddenStates: tf.Tensor3D[] = [];

    // One additive mask [B, 1, L, L]: MASKED_BIAS on future keys (causal) plus the key-padding term
    // (1 − m)·(−10000). HF replaces a future score by exactly MASKED_BIAS (torch.where) where this adds
    // it to the score; either way exp(score − max) underflows to exactly 0 in float32, so the
    // probabilities are the same (a row always keeps its own position).
    const causal = tf.linalg.bandPart(tf.ones([L, L]), -1, 0);
    const future = tf.reshape(tf.mul(tf.sub(1, causal), MASKED_BIAS), [1, 1, L, L]);
    const keyPad = tf.reshape(tf.mul(tf.sub(1, mask), -10000), [B, 1, 1, L]);
    const attnMask = tf.add(future, keyPad); // [B, 1, L, L]
    const invScale = 1 / Math.sqrt(dh);
    const hs = { batch: B, seqLen: L, heads: nh };

    const checkpoint = training && (opts.checkpointLayers ?? false) && !half;
    const layerCtx = { training, drop, hs, invScale, half };
    for (let i = 0; i < cfg.numHiddenLayers; i++) {
      if (allHidden) hiddenStates.push(tf.reshape(h, [B, L, H]));
      const body = (x: tf.Tensor, [m]: tf.Tensor[]) => this.layer(i, x as tf.Tensor2D, m, layerCtx);
      const prev = h;
      // At evaluation each block's intermediates go as soon as it is done (not when the caller's tidy ends).
      h = checkpoint
        ? checkpointed(body, h, [attnMask], this.layerParams(i)) as tf.Tensor2D
        : training
        ? body(h, [attnMask])
        : tf.tidy(() => body(prev, [attnMask]));
      if (!allHidden) release(prev); // the ops of block i saved what they need of it (training), or are done
    }
    const normed = this.ln(h, "ln_f", half);
    // The output alone holds ln_f's data: a caller done with it frees it (saveless_view.ts).
    const lastHiddenState = savelessReshape<tf.Tensor3D>(normed, [B, L, H]);
    release(normed);
    hiddenStates.push(lastHiddenState);
    return { lastHiddenState, hiddenStates, attentionMask: mask };
  }

  /** Block `i`'s parameters (what a checkpointed block takes gradients for). */
  private layerParams(i: number): tf.Variable[] {
    return [...this.params.entries()].filter(([n]) => n.startsWith(`h.${i}.`)).map(([, v]) => v);
  }

  /** Block `i` on h [B·L, H] (pre-LN: h + attn(ln_1(h)), then + mlp(ln_2(·))); m is the additive mask. */
  private layer(
    i: number,
    h: tf.Tensor2D,
    m: tf.Tensor,
    c: {
      training: boolean;
      drop: (x: tf.Tensor, rate: number, site: number) => tf.Tensor;
      hs: { batch: number; seqLen: number; heads: number };
      invScale: number;
      half?: HalfPrecisionOps;
    },
  ): tf.Tensor2D {
    if (c.half) return this.halfLayer(i, h, m, { ...c, half: c.half });
    const cfg = this.config, p = `h.${i}.`, H = cfg.hiddenSize;
    const { drop, hs, invScale } = c;
    const x = this.ln(h, `${p}ln_1`);
    const w = this.p(`${p}attn.c_attn.weight`), b = this.p(`${p}attn.c_attn.bias`);
    const [q, k, v] = qkvBlocks(w, b, H, (wj, bj, cols) => linear(x, wj, bj, cols));
    // Each intermediate goes as soon as the ops that read it are done, not at the block's end (bert.ts).
    release(x);
    const scores = attentionScores(q, k, hs); // [B, nh, L, L]
    release(q, k);
    const soft = attentionSoftmax(scores, m, invScale);
    release(scores);
    const probs = drop(soft, cfg.attnPdrop, 1 + 3 * i) as tf.Tensor4D;
    const ctx = attentionContext(probs, v, hs);
    release(soft, probs, v);
    const proj = this.linear(ctx, `${p}attn.c_proj`);
    release(ctx);
    const attnOut = drop(proj, cfg.residPdrop, 2 + 3 * i);
    const h1 = addSameShape(h, attnOut) as tf.Tensor2D;
    release(proj, attnOut); // the same tensor without dropout
    const fc = this.linear(this.ln(h1, `${p}ln_2`), `${p}mlp.c_fc`);
    const mlp = activationThenLinear(
      cfg.activationFunction,
      fc,
      this.p(`${p}mlp.c_proj.weight`) as tf.Tensor2D,
      this.p(`${p}mlp.c_proj.bias`) as tf.Tensor1D,
    );
    release(fc);
    const mlpOut = drop(mlp, cfg.residPdrop, 3 + 3 * i);
    const out = addSameShape(h1, mlpOut) as tf.Tensor2D;
    release(h1, mlp, mlpOut);
    return out;
  }

  /**
   * Block `i` with its Linear layers and attention matmuls in a half precision (`c.half`): the same
   * block as `layer`, with gelu_new fused into c_fc as BERT fuses GELU into its intermediate Linear.
   */
  private halfLayer(
    i: number,
    h: tf.Tensor2D,
    m: tf.Tensor,
    c: {
      training: boolean;
      drop: (x: tf.Tensor, rate: number, site: number) => tf.Tensor;
      hs: { batch: number; seqLen: number; heads: number };
      invScale: number;
      half: HalfPrecisionOps;
    },
  ): tf.Tensor2D {
    const cfg = this.config, p = `h.${i}.`, H = cfg.hiddenSize;
    const { drop, hs, invScale, half } = c;
    const lin = (x: tf.Tensor2D, name: string, act?: Gpt2Config["activationFunction"]) =>
      half.linear(x, this.p(`${name}.weight`) as tf.Tensor2D, this.p(`${name}.bias`) as tf.Tensor1D, act);
    const x = this.ln(h, `${p}ln_1`, half);
    const w = this.p(`${p}attn.c_attn.weight`), b = this.p(`${p}attn.c_attn.bias`);
    const [q, k, v] = qkvBlocks(w, b, H, (wj, bj, cols) => half.linear(x, wj, bj, "none", cols));
    // The half ops save 16-bit copies of the float32 tensors they read, so each float32 intermediate
    // goes as soon as the ops that read it are done, not at the block's end (bert.ts).
    release(x);
    const scores = half.attentionScores(q, k, hs, invScale); // [B, nh, L, L], scaled in the op
    release(q, k);
    const soft = attentionSoftmax(scores, m, 1, half.store);
    release(scores);
    const probs = drop(soft, cfg.attnPdrop, 1 + 3 * i) as tf.Tensor4D;
    const ctx = half.attentionContext(probs, v, hs);
    release(soft, probs, v);
    const proj = lin(ctx, `${p}attn.c_proj`);
    release(ctx);
    const attnOut = drop(proj, cfg.residPdrop, 2 + 3 * i);
    const h1 = addSameShape(h, attnOut) as tf.Tensor2D;
    release(proj, attnOut); // the same tensor without dropout
    const x2 = this.ln(h1, `${p}ln_2`, half) as tf.Tensor2D;
    const mlp = half.feedForward(
      x2,
      this.p(`${p}mlp.c_fc.weight`) as tf.Tensor2D,
      this.p(`${p}mlp.c_fc.bias`) as tf.Tensor1D,
      cfg.activationFunction,
      this.p(`${p}mlp.c_proj.weight`) as tf.Tensor2D,
      this.p(`${p}mlp.c_proj.bias`) as tf.Tensor1D,
    );
    release(x2);
    const mlpOut = drop(mlp, cfg.residPdrop, 3 + 3 * i);
    const out = addSameShape(h1, mlpOut) as tf.Tensor2D;
    release(h1, mlp, mlpOut);
    return out;
  }

  dispose(): void {
    for (const v of this.params.values()) v.dispose();
    this.params.clear();
  }
}

/**
 * q, k and v as three Linear layers on column blocks of c_attn's [H, 3H] weight (slicing the [B·L, 3H]
 * output instead would cost three [B·L, 3H] zero-padded gradients and their sum). Each Linear saves
 * c_attn's weight itself, not its block (`WeightColumns`), so the sliced blocks go at once.
 */
function qkvBlocks(
  w: tf.Tensor,
  b: tf.Tensor,
  H: number,
  lin: (w: tf.Tensor2D, b: tf.Tensor1D, cols: WeightColumns) => tf.Tensor2D,
): tf.Tensor2D[] {
  return [0, 1, 2].map((j) => {
    const wj = tf.slice(w, [0, j * H], [H, H]) as tf.Tensor2D, bj = tf.slice(b, [j * H], [H]) as tf.Tensor1D;
    const out = lin(wj, bj, { full: w as tf.Tensor2D, col: j * H });
    release(wj, bj);
    return out;
  });
}
