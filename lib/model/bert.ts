/**
 * BERT encoder in TensorFlow.js, mirroring Hugging Face `BertModel` (transformers 4.2.1
 * `modeling_bert.py`; see docs/SIMCSE.md §i): word + absolute position + token-type embeddings,
 * LayerNorm, dropout; post-LN transformer layers with additive (1 - mask) * -10000 attention
 * masking and exact (erf) GELU; the optional pooler (dense + tanh on [CLS]).
 *
 * Parameters live in a `Map` keyed by Hugging Face `BertModel` names
 * (`encoder.layer.0.attention.self.query.weight`, ...). One difference from HF: Linear weights
 * are kept as kernels of shape [in, out] (HF stores [out, in]), so the forward pass is a plain
 * `x @ W`; `bert_checkpoint.ts` transposes on load and save.
 *
 * @example
 * ```ts
 * import { tf } from "../runtime/tf.ts";
 * import { BertModel } from "./bert.ts";
 * const model = BertModel.init({ vocabSize: 50, hiddenSize: 16, numHiddenLayers: 1, numAttentionHeads: 2,
 *   intermediateSize: 32, hiddenAct: "gelu", hiddenDropoutProb: 0.1, attentionProbsDropoutProb: 0.1,
 *   maxPositionEmbeddings: 16, typeVocabSize: 2, layerNormEps: 1e-12, initializerRange: 0.02, padTokenId: 0 }, 1);
 * const out = model.forward({ inputIds: tf.tensor2d([[2, 5, 3]], undefined, "int32"), attentionMask: tf.tensor2d([[1, 1, 1]], undefined, "int32") });
 * console.log(out.lastHiddenState.shape); // [1, 3, 16]
 * ```
 * @module
 */
import { tf } from "../runtime/tf.ts";
import type { BertConfig } from "./bert_config.ts";
import { linear } from "../ops/linear.ts";
import { checkpointed } from "../ops/checkpointing.ts";
import { addSameShape } from "../ops/saveless_add.ts";
import { firstPosition, savelessReshape } from "../ops/saveless_view.ts";
import { attentionContext, attentionScores, attentionSoftmax } from "../ops/fused.ts";
import { checkPrecision, halfOps, type HalfPrecisionOps, PRECISIONS, usesHalfOps } from "../ops/precision.ts";
import type { Encoder, EncoderInputs, EncoderOutput, ForwardOptions } from "./encoder.ts";
import { activationThenLinear, layerNorm, positionIds, release } from "./layers.ts";
import { embeddingLookup } from "../ops/row_gradient.ts";
import { type BranchDropout, fusedAddNorm, fusedAddNormAvailable } from "../ops/add_norm.ts";

export type { BertConfig };
/** The inputs of `BertModel.forward` (every encoder takes the same). */
export type BertInputs = EncoderInputs;

/** Names of the parameters of one layer, in HF order. */
export function bertLayerParamNames(i: number): string[] {
  const p = `encoder.layer.${i}.`;
  return [
    "attention.self.query",
    "attention.self.key",
    "attention.self.value",
    "attention.output.dense",
    "attention.output.LayerNorm",
    "intermediate.dense",
    "output.dense",
    "output.LayerNorm",
  ].flatMap((m) => [`${p}${m}.weight`, `${p}${m}.bias`]);
}

/** Every parameter name and its shape as stored here (Linear kernels [in, out]). */
export function bertParamShapes(cfg: BertConfig, withPooler: boolean): Map<string, number[]> {
  const H = cfg.hiddenSize, I = cfg.intermediateSize;
  const m = new Map<string, number[]>([
    ["embeddings.word_embeddings.weight", [cfg.vocabSize, H]],
    ["embeddings.position_embeddings.weight", [cfg.maxPositionEmbeddings, H]],
    ["embeddings.token_type_embeddings.weight", [cfg.typeVocabSize, H]],
    ["embeddings.LayerNorm.weight", [H]],
    ["embeddings.LayerNorm.bias", [H]],
  ]);
  for (let i = 0; i < cfg.numHiddenLayers; i++) {
    const p = `encoder.layer.${i}.`;
    for (const n of ["query", "key", "value"]) {
      m.set(`${p}attention.self.${n}.weight`, [H, H]);
      m.set(`${p}attention.self.${n}.bias`, [H]);
    }
    m.set(`${p}attention.output.dense.weight`, [H, H]);
    m.set(`${p}attention.output.dense.bias`, [H]);
    m.set(`${p}attention.output.LayerNorm.weight`, [H]);
    m.set(`${p}attention.output.LayerNorm.bias`, [H]);
    m.set(`${p}intermediate.dense.weight`, [H, I]);
    m.set(`${p}intermediate.dense.bias`, [I]);
    m.set(`${p}output.dense.weight`, [I, H]);
    m.set(`${p}output.dense.bias`, [H]);
    m.set(`${p}output.LayerNorm.weight`, [H]);
    m.set(`${p}output.LayerNorm.bias`, [H]);
  }
  if (withPooler) {
    m.set("pooler.dense.weight", [H, H]);
    m.set("pooler.dense.bias", [H]);
  }
  return m;
}

/** True for 2-D Linear weights (stored transposed relative to HF); false for embeddings and vectors. */
export function isLinearKernel(name: string): boolean {
  return name.endsWith(".weight") && !name.startsWith("embeddings.") && !name.includes("LayerNorm");
}

export class BertModel implements Encoder {
  readonly kind = "bert";
  /**
   * Every precision: in "fp16" and "bf16" each encoder-layer Linear and the attention matmuls
   * (QKᵀ, probs·V) run as that precision's mixed-precision ops (`precision.ts`; GELU fused into the
   * intermediate Linear, as in SimCSE-Jittor); embeddings, LayerNorms, softmax and the pooler stay fp32.
   */
  readonly precisions = PRECISIONS;
  constructor(readonly config: BertConfig, readonly params: Map<string, tf.Variable>) {}

  /** HF's BertEmbeddings uses `padding_idx = pad_token_id`: the [PAD] row gets no gradient. */
  get paddingIdx(): number {
    return this.config.padTokenId;
  }

  readonly wordEmbeddingName = "embeddings.word_embeddings.weight";

  setDropout(rate: number): void {
    this.config.hiddenDropoutProb = rate;
    this.config.attentionProbsDropoutProb = rate;
  }

  trainableParams(): Map<string, tf.Variable> {
    return new Map([...this.params].filter(([n]) => !n.startsWith("pooler.")));
  }

  /** Fresh random weights (normal(0, initializerRange), LayerNorm 1/0, zero biases), for tests and from-scratch runs. */
  static init(config: BertConfig, seed: number, withPooler = true): BertModel {
    const params = new Map<string, tf.Variable>();
    let s = seed;
    for (const [name, shape] of bertParamShapes(config, withPooler)) {
      let t: tf.Tensor;
      if (name.includes("LayerNorm.weight")) t = tf.ones(shape);
      else if (name.endsWith(".bias") || name.includes("LayerNorm")) t = tf.zeros(shape);
      else t = tf.randomNormal(shape, 0, config.initializerRange, "float32", s++);
      params.set(name, tf.variable(t, true));
      t.dispose();
    }
    return new BertModel(config, params);
  }

  /** A parameter by HF name; throws naming it if absent. */
  p(name: string): tf.Variable {
    const v = this.params.get(name);
    if (!v) throw new Error(`BERT parameter '${name}' is missing`);
    return v;
  }

  get hasPooler(): boolean {
    return this.params.has("pooler.dense.weight");
  }

  /** x [N, in] @ W [in, out] + b; through `half`'s ops when given (optionally with a fused activation). */
  private linear(
    x: tf.Tensor2D,
    name: string,
    half?: HalfPrecisionOps,
    act?: BertConfig["hiddenAct"],
  ): tf.Tensor2D {
    const w = this.p(`${name}.weight`) as tf.Tensor2D, b = this.p(`${name}.bias`) as tf.Tensor1D;
    return half ? half.linear(x, w, b, act) : linear(x, w, b);
  }

  /** LayerNorm `name`; in a half precision (`half`) it keeps what its gradient needs at 16 bits. */
  private ln(x: tf.Tensor, name: string, half?: HalfPrecisionOps): tf.Tensor {
    return layerNorm(
      x,
      this.p(`${name}.weight`),
      this.p(`${name}.bias`),
      this.config.layerNormEps,
      half?.store,
    );
  }

  /** Run the encoder. Call inside `tf.tidy` (or dispose the outputs). */
  forward(inputs: BertInputs, opts: ForwardOptions = {}): EncoderOutput {
    const cfg = this.config;
    const precision = opts.precision ?? "fp32";
    checkPrecision(precision, this.precisions, this.kind);
    const [B, L] = inputs.inputIds.shape;
    const H = cfg.hiddenSize, nh = cfg.numAttentionHeads, dh = H / nh;
    if (L > cfg.maxPositionEmbeddings) {
      throw new Error(`sequence length ${L} exceeds max_position_embeddings ${cfg.maxPositionEmbeddings}`);
    }
    const training = opts.training ?? false;
    if (training && !opts.dropout) throw new Error("forward(training: true) needs a dropout function");
    const drop = (x: tf.Tensor, rate: number, site: number) =>
      training && rate > 0 ? opts.dropout!(x, rate, site) : x;
    // A residual branch's dropout as the fused add-norm op draws it: null for none, undefined where the
    // dropout function's masks are not the hash kernel's (fixed masks in tests).
    const branchDrop = (rate: number, site: number): BranchDropout | null | undefined =>
      !training || rate <= 0
        ? null
        : opts.dropout!.hashSeed
        ? { rate, seed: opts.dropout!.hashSeed(site) }
        : undefined;

    const mask = tf.cast(inputs.attentionMask, "float32") as tf.Tensor2D; // [B, L]
    const ids = tf.reshape(inputs.inputIds, [B * L]) as tf.Tensor1D;
    const positions = positionIds(B, L);
    const types = inputs.tokenTypeIds ? tf.reshape(inputs.tokenTypeIds, [B * L]) : tf.zeros([B * L], "int32");
    const word = embeddingLookup(this.p("embeddings.word_embeddings.weight"), ids);
    const pos = tf.gather(this.p("embeddings.position_embeddings.weight"), positions);
    const type = tf.gather(this.p("embeddings.token_type_embeddings.weight"), types);
    const wordPos = addSameShape(word, pos);
    const sum = addSameShape(wordPos, type); // [B*L, H]
    const half = usesHalfOps(precision) ? halfOps(precision) : undefined;
    const normed = this.ln(sum, "embeddings.LayerNorm", half);
    release(word, pos, type, wordPos, sum); // no op saved them (the LayerNorm keeps its own copy)
    let h = drop(normed, cfg.hiddenDropoutProb, 0) as tf.Tensor2D;
    if (h !== normed) release(normed); // the dropout keeps nothing of it
    const allHidden = opts.allHiddenStates ?? true;
    const hiddenStates: tf.Tensor3D[] = allHidden ? [tf.reshape(h, [B, L, H])] : [];

    // Additive key mask, broadcast over heads and queries: [B, 1, 1, L].
    const extMask = tf.reshape(tf.mul(tf.sub(1, mask), -10000), [B, 1, 1, L]);
    const scale = 1 / Math.sqrt(dh);

    const checkpoint = training && (opts.checkpointLayers ?? false) && !half;
    // A training layer may drop its input once its attention residual is added (nothing else reads it).
    const releaseInput = training && !allHidden && !checkpoint;
    const layerCtx = { B, L, extMask, drop, branchDrop, half, scale, releaseInput };
    const firstOnly = (opts.firstTokenOnly ?? false) && !training;
    for (let i = 0; i < cfg.numHiddenLayers; i++) {
      const prev = h;
      if (firstOnly && i === cfg.numHiddenLayers - 1) {
        hiddenStates.push(tf.reshape(tf.tidy(() => this.firstTokenLayer(i, prev, layerCtx)), [B, 1, H]));
        break;
      }
      const body = (x: tf.Tensor, [m]: tf.Tensor[]) =>
        this.layer(i, x as tf.Tensor2D, { ...layerCtx, extMask: m });
      // At evaluation each layer's intermediates go as soon as it is done (not when the caller's tidy ends).
      h = checkpoint
        ? checkpointed(body, h, [extMask], bertLayerParamNames(i).map((n) => this.p(n))) as tf.Tensor2D
        : training
        ? body(h, [extMask])
        : tf.tidy(() => body(prev, [extMask]));
      if (allHidden) hiddenStates.push(tf.reshape(h, [B, L, H]));
      else release(prev); // the ops of layer i saved what they need of it (training), or are done
    }
    if (!allHidden) {
      // The output alone holds the last layer's data (or, first-token only, nothing reads that layer's
      // input any more): a caller done with it frees it, and no reshape or slice keeps it for the
      // backward pass (saveless_view.ts).
      if (hiddenStates.length === 0) hiddenStates.push(savelessReshape(h, [B, L, H]));
      release(h);
    }
    const lastHiddenState = hiddenStates[hiddenStates.length - 1];
    let pooledOutput: tf.Tensor2D | undefined;
    if (this.hasPooler) {
      const cls = firstPosition(lastHiddenState);
      pooledOutput = tf.tanh(this.linear(cls, "pooler.dense"));
    }
    return { lastHiddenState, hiddenStates, attentionMask: mask, pooledOutput };
  }

  /** Encoder layer `i` on h [B·L, H] (post-LN: attention, add & norm, FFN, add & norm). */
  private layer(
    i: number,
    h: tf.Tensor2D,
    c: {
      B: number;
      L: number;
      extMask: tf.Tensor;
      drop: (x: tf.Tensor, rate: number, site: number) => tf.Tensor;
      branchDrop: (rate: number, site: number) => BranchDropout | null | undefined;
      half?: HalfPrecisionOps;
      scale: number;
      releaseInput?: boolean;
    },
  ): tf.Tensor2D {
    const cfg = this.config, p = `encoder.layer.${i}.`;
    const { drop, half, extMask, scale } = c;
    const hs = { batch: c.B, seqLen: c.L, heads: cfg.numAttentionHeads };
    let ctx: tf.Tensor2D; // [B*L, H]
    // Each intermediate goes as soon as the ops that read it are done, not at the layer's end: the half
    // ops save 16-bit copies of what they read, so their float32 inputs are freed (an fp32 op that saved
    // a tensor keeps its own clone, so releasing it there is harmless).
    if (half) {
      const q = this.linear(h, `${p}attention.self.query`, half);
      const k = this.linear(h, `${p}attention.self.key`, half);
      const scores = half.attentionScores(q, k, hs, scale); // [B, nh, L, L], scaled in the op
      release(q, k);
      const soft = attentionSoftmax(scores, extMask, 1, half.store);
      release(scores);
      const probs = drop(soft, cfg.attentionProbsDropoutProb, 1 + 3 * i) as tf.Tensor4D;
      const v = this.linear(h, `${p}attention.self.value`, half);
      ctx = half.attentionContext(probs, v, hs);
      release(soft, probs, v);
    } else {
      const q = this.linear(h, `${p}attention.self.query`);
      const k = this.linear(h, `${p}attention.self.key`);
      const scores = attentionScores(q, k, hs); // [B, nh, L, L]
      release(q, k);
      const soft = attentionSoftmax(scores, extMask, scale);
      release(scores);
      const probs = drop(soft, cfg.attentionProbsDropoutProb, 1 + 3 * i) as tf.Tensor4D;
      const v = this.linear(h, `${p}attention.self.value`);
      ctx = attentionContext(probs, v, hs);
      release(soft, probs, v);
    }
    // Residual branches: dense → dropout → + residual → LayerNorm. A residual that nothing reads after
    // the add (`dropResidual`) goes before the LayerNorm runs, where the forward pass's memory peaks. In a
    // half precision on cpu with the C kernels the three are one op (`add_norm.ts`, the same values).
    const branch = (
      dense: tf.Tensor2D,
      name: string,
      site: number,
      residual: tf.Tensor2D,
      dropResidual: boolean,
    ) => {
      const fused = half && fusedAddNormAvailable() ? c.branchDrop(cfg.hiddenDropoutProb, site) : undefined;
      if (fused !== undefined) {
        const ln = `${p}${name}.LayerNorm`;
        const out = fusedAddNorm(
          dense,
          residual,
          this.p(`${ln}.weight`),
          this.p(`${ln}.bias`),
          cfg.layerNormEps,
          half!.store,
          fused,
        ) as tf.Tensor2D;
        release(dense); // the op keeps nothing of its inputs
        if (dropResidual) release(residual);
        return out;
      }
      const dropped = drop(dense, cfg.hiddenDropoutProb, site);
      if (dropped !== dense) release(dense); // the dropout keeps nothing of it
      const sum = addSameShape(dropped, residual);
      release(dropped);
      if (dropResidual) release(residual);
      const out = this.ln(sum, `${p}${name}.LayerNorm`, half) as tf.Tensor2D;
      release(sum);
      return out;
    };
    const attnOut = this.linear(ctx, `${p}attention.output.dense`, half);
    release(ctx);
    // h is read by nothing else once added (training); the caller's release of it is then a no-op
    const a = branch(attnOut, "attention.output", 2 + 3 * i, h, !!c.releaseInput);
    if (half) {
      const out = half.feedForward( // the [B*L, I] hidden layer at 16 bits only
        a,
        this.p(`${p}intermediate.dense.weight`) as tf.Tensor2D,
        this.p(`${p}intermediate.dense.bias`) as tf.Tensor1D,
        cfg.hiddenAct,
        this.p(`${p}output.dense.weight`) as tf.Tensor2D,
        this.p(`${p}output.dense.bias`) as tf.Tensor1D,
      );
      return branch(out, "output", 3 + 3 * i, a, true); // [B*L, H]
    }
    const out = activationThenLinear(
      cfg.hiddenAct,
      this.linear(a, `${p}intermediate.dense`), // [B*L, I]
      this.p(`${p}output.dense.weight`) as tf.Tensor2D,
      this.p(`${p}output.dense.bias`) as tf.Tensor1D,
    );
    return branch(out, "output", 3 + 3 * i, a, true); // [B*L, H]
  }

  /**
   * Encoder layer `i` at evaluation for position 0 only: [CLS]'s query attends over every token's key
   * and value, then the dense, add & norm and FFN run on B rows instead of B·L. Returns [B, H]. In a half
   * precision the roundings of the full layer's ops are applied to these rows (scores half(half(q·kᵀ)·
   * scale), probabilities and context rounded), so [CLS] gets what the full layer gives it; on cpu with a
   * gemm kernel the attention is two batched products reading K and V in place (`firstTokenAttention`).
   */
  private firstTokenLayer(
    i: number,
    h: tf.Tensor2D,
    c: { B: number; L: number; extMask: tf.Tensor; scale: number; half?: HalfPrecisionOps },
  ) {
    const cfg = this.config, p = `encoder.layer.${i}.`, half = c.half;
    const { B, L } = c, H = cfg.hiddenSize, nh = cfg.numAttentionHeads, dh = H / nh;
    const lin = (x: tf.Tensor2D, name: string, act?: BertConfig["hiddenAct"]) =>
      this.linear(x, `${p}${name}`, half, act);
    const heads = (x: tf.Tensor2D) => tf.transpose(tf.reshape(x, [B, L, nh, dh]), [0, 2, 1, 3]); // [B, nh, L, dh]
    const first = tf.reshape(tf.slice(tf.reshape(h, [B, L, H]), [0, 0, 0], [B, 1, H]), [B, H]) as tf.Tensor2D;
    const q = lin(first, "attention.self.query");
    const k = lin(h, "attention.self.key"), v = lin(h, "attention.self.value");
    const hs = { batch: B, seqLen: L, heads: nh };
    const ctx = half?.firstTokenAttention(q, k, v, c.extMask, hs, c.scale) ?? (() => {
      const qk = tf.matMul(tf.reshape(q, [B, nh, 1, dh]), heads(k), false, true); // [B, nh, 1, L]
      const probs = half // of half values: exact products, f32 sums
        ? attentionSoftmax(half.round(tf.mul(half.round(qk), c.scale)), c.extMask, 1)
        : attentionSoftmax(qk, c.extMask, c.scale);
      const pv = tf.matMul(half ? half.round(probs) : probs, heads(v));
      return tf.reshape(half ? half.round(pv) : pv, [B, H]) as tf.Tensor2D; // [B, nh, 1, dh] is [B, H]
    })();
    const addNorm = (x: tf.Tensor2D, name: string, residual: tf.Tensor2D) =>
      this.ln(tf.add(x, residual), `${p}${name}.LayerNorm`) as tf.Tensor2D;
    const a = addNorm(lin(ctx, "attention.output.dense"), "attention.output", first);
    const out = half
      ? lin(lin(a, "intermediate.dense", cfg.hiddenAct), "output.dense")
      : activationThenLinear(
        cfg.hiddenAct,
        lin(a, "intermediate.dense"),
        this.p(`${p}output.dense.weight`) as tf.Tensor2D,
        this.p(`${p}output.dense.bias`) as tf.Tensor1D,
      );
    return addNorm(out, "output", a);
  }

  dispose(): void {
    for (const v of this.params.values()) v.dispose();
    this.params.clear();
  }
}
