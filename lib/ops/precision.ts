/**
 * Matmul precision as an argument: `forward(inputs, { precision })`, like `training`. "fp32" is the
 * plain path; "fp16" and "bf16" run every encoder-layer Linear and the attention matmuls (QKᵀ, P·V)
 * as hand-written mixed-precision ops with fp32 master weights (docs/PRECISION.md). Embeddings,
 * LayerNorms, softmax and poolers compute in fp32 in every precision; in a half precision the
 * LayerNorms and the attention softmax keep what their gradients need at 16 bits.
 *
 * A half precision is one entry of `HALF_PRECISION_OPS`: its Linear (with an optional fused
 * activation), its feed-forward block (two Linears with the hidden layer at 16 bits) and its two
 * attention matmuls (and, at evaluation, [CLS]'s attention alone where it runs fast). The encoders call
 * the entry of the precision they are given and never look at which one it is, so adding a precision is
 * one ops file and one line here.
 *
 * @example
 * ```ts
 * import { parsePrecision, usesHalfOps } from "./precision.ts";
 * const p = parsePrecision("bf16");
 * console.log(usesHalfOps(p)); // true
 * ```
 * @module
 */
import type { tf } from "../runtime/tf.ts";
import type { AnyActivation, HalfStore } from "./fused.ts";
import { InputError } from "../runtime/errors.ts";
import type { WeightColumns } from "./linear.ts";
import { fp16FeedForward, fp16KernelPath, fp16Linear } from "./fp16_linear.ts";
import { fp16AttentionContext, fp16AttentionScores, type HeadShape } from "./fp16_matmul.ts";
import {
  BF16,
  bf16AttentionContext,
  bf16AttentionScores,
  bf16Linear,
  F16,
  firstTokenAttentionRuns,
  halfFirstTokenAttention,
} from "./bf16_ops.ts";
import { halfFeedForward } from "./half_feed_forward.ts";
import { packF16Tensor, roundF16, unpackF16Tensor } from "./fp16.ts";
import { packBf16Tensor, roundBf16, unpackBf16Tensor } from "./bf16.ts";

/** Every precision the encoders accept, in the order the CLIs list them. */
export const PRECISIONS = ["fp32", "fp16", "bf16"] as const;
/** Matmul precision of an encoder's Linear layers and attention matmuls. */
export type Precision = typeof PRECISIONS[number];
/** The precisions that run through hand-written half-precision ops. */
export type HalfPrecision = Exclude<Precision, "fp32">;
/** Activation an op may fuse after its Linear (HF names; "none" = plain Linear). */
export type LinearActivation = AnyActivation;

/** What a half precision provides to the encoders. */
export interface HalfPrecisionOps {
  /**
   * x [N, in] @ W [in, out] + b [out], then `activation` (default "none"): [N, out]. With `columnsOf`,
   * W is those columns of a wider weight, saved instead of W where the op can (`linear.ts`).
   */
  linear(
    x: tf.Tensor2D,
    w: tf.Tensor2D,
    b: tf.Tensor1D,
    activation?: LinearActivation,
    columnsOf?: WeightColumns,
  ): tf.Tensor2D;
  /**
   * The feed-forward block act(x W₁ + b₁) W₂ + b₂: the values of `linear` twice, with the [N, I]
   * hidden layer kept at 16 bits where the op can (`half_feed_forward.ts`).
   */
  feedForward(
    x: tf.Tensor2D,
    w1: tf.Tensor2D,
    b1: tf.Tensor1D,
    activation: LinearActivation,
    w2: tf.Tensor2D,
    b2: tf.Tensor1D,
  ): tf.Tensor2D;
  /** Per-head q·kᵀ × scale from [B·L, H] q and k: [B, nh, L, L]. */
  attentionScores(q: tf.Tensor2D, k: tf.Tensor2D, shape: HeadShape, scale: number): tf.Tensor4D;
  /** Per-head probs @ v, heads merged back: probs [B, nh, L, L], v [B·L, H] -> [B·L, H]. */
  attentionContext(probs: tf.Tensor4D, v: tf.Tensor2D, shape: HeadShape): tf.Tensor2D;
  /**
   * Evaluation only, where it runs fast (else undefined, and the caller emulates it with `round`): one
   * query row per sequence, q [B, H] against k, v [B·L, H] with the additive key mask [B, 1, 1, L]:
   * per head half(half(softmax(half(half(q·kᵀ)·scale) + mask))·v), heads merged: [B, H].
   */
  firstTokenAttention(
    q: tf.Tensor2D,
    k: tf.Tensor2D,
    v: tf.Tensor2D,
    mask: tf.Tensor,
    shape: HeadShape,
    scale: number,
  ): tf.Tensor2D | undefined;
  /** `t`'s values rounded to the format, untaped (for evaluation-only paths that emulate the ops). */
  round<T extends tf.Tensor>(t: T): T;
  /** How the float32 ops (LayerNorm's x̂, the softmax output) keep what their gradients need: 16-bit codes. */
  store: HalfStore;
}

/** The ops of each half precision. */
export const HALF_PRECISION_OPS: Record<HalfPrecision, HalfPrecisionOps> = {
  fp16: {
    linear: (x, w, b, activation, columnsOf) => fp16Linear(x, w, b, { activation, columnsOf }),
    feedForward: fp16FeedForward,
    attentionScores: fp16AttentionScores,
    attentionContext: fp16AttentionContext,
    firstTokenAttention: (q, k, v, mask, shape, scale) =>
      fp16KernelPath() && firstTokenAttentionRuns(F16)
        ? halfFirstTokenAttention(F16, q, k, v, mask, shape, scale)
        : undefined,
    round: roundF16,
    store: { type: "f16", pack: packF16Tensor, unpack: unpackF16Tensor },
  },
  bf16: {
    linear: (x, w, b, activation, columnsOf) => bf16Linear(x, w, b, { activation, columnsOf }),
    feedForward: (x, w1, b1, activation, w2, b2) => halfFeedForward(BF16, x, w1, b1, activation, w2, b2),
    attentionScores: bf16AttentionScores,
    attentionContext: bf16AttentionContext,
    firstTokenAttention: (q, k, v, mask, shape, scale) =>
      firstTokenAttentionRuns(BF16) ? halfFirstTokenAttention(BF16, q, k, v, mask, shape, scale) : undefined,
    round: roundBf16,
    store: { type: "bf16", pack: packBf16Tensor, unpack: unpackBf16Tensor },
  },
};

/** Parse a `--precision` value (case-insensitive), failing with the list of valid names. */
export function parsePrecision(name: string): Precision {
  const p = name.toLowerCase();
  if ((PRECISIONS as readonly string[]).includes(p)) return p as Precision;
  throw new InputError(`unknown precision '${name}'; expected one of ${PRECISIONS.join(", ")}`);
}

/** True for the precisions that run through `HALF_PRECISION_OPS`. */
export function usesHalfOps(p: Precision): p is HalfPrecision {
  return p !== "fp32";
}

/** The half-precision ops of `p`. */
export function halfOps(p: HalfPrecision): HalfPrecisionOps {
  return HALF_PRECISION_OPS[p];
}

/**
 * Fail with one line when `model` cannot run in `p` (`supported` lists what it can), e.g. a
 * `--precision` flag given to an encoder without half-precision layers.
 */
export function checkPrecision(p: Precision, supported: readonly Precision[], model: string): void {
  if (!supported.includes(p)) {
    throw new InputError(
      `precision '${p}' is not implemented for '${model}' encoders; use ${supported.join(" or ")}`,
    );
  }
}
