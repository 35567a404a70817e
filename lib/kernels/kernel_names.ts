/**
 * The names of the kernels the toolkit registers on a backend (cpu: `cpu_fused.ts`,
 * `cpu_head_matmul.ts`; webgpu: `webgpu/`), with their inputs and attributes: the one list the ops
 * (`lib/ops/fused.ts`) and every backend's kernels agree on, as tfjs-core's `kernel_names.ts`.
 *
 * @module
 */

/** Kernel names the fused backends register (inputs / attrs as documented on each). */
export const FUSED_KERNELS = {
  /** inputs {x [N,H], gamma [H], beta [H]}, attrs {eps} → [y [N,H], xhat [N,H], rstd [N]]. */
  layerNorm: "SimcseLayerNorm",
  /** inputs {dy, xhat, rstd, gamma} → [dx [N,H], dgamma [H], dbeta [H]]. */
  layerNormGrad: "SimcseLayerNormGrad",
  /** inputs {x} → y = x·Φ(x). */
  gelu: "SimcseGelu",
  /** inputs {dy, x} → dy·(Φ(x) + x·φ(x)). */
  geluGrad: "SimcseGeluGrad",
  /** inputs {x} → 0.5·x·(1 + tanh(√(2/π)·(x + 0.044715·x³))) (GPT-2's `gelu_new`). */
  geluNew: "SimcseGeluNew",
  /** inputs {dy, x} → dy · d gelu_new / dx. */
  geluNewGrad: "SimcseGeluNewGrad",
  /** inputs {scores [..., L], mask [B,1,1,L] or any shape broadcasting to scores}, attrs {scale} → probs. */
  attnSoftmax: "SimcseAttnSoftmax",
  /** inputs {dp, p}, attrs {scale} → ds. */
  attnSoftmaxGrad: "SimcseAttnSoftmaxGrad",
  /**
   * inputs {x}, attrs {rate, seed} → y = x·keep/(1−rate), keep fixed by (seed, index); the gradient is
   * the same kernel on dy, so no mask is stored.
   */
  dropout: "SimcseDropout",
  /**
   * Per-(batch, head) matmul on head-strided operands, see {@link HeadMatMulAttrs}:
   * inputs {a, b} → [B·L, H] (outHeads) or [B, heads, L, L].
   */
  headMatMul: "SimcseHeadMatMul",
} as const;

/** Batch, sequence length and number of heads of [B·L, H] activations. */
export interface HeadDims {
  batch: number;
  seqLen: number;
  heads: number;
}

/**
 * Attributes of the `SimcseHeadMatMul` kernel. For every (b, h) it computes op(A_bh)·op(B_bh), where
 * an operand marked "heads" is the [L, H/heads] column block of head h in the rows of batch b of a
 * [B·L, H] matrix (row stride H), and otherwise the [L, L] matrix (b, h) of a [B, heads, L, L]
 * tensor; the output is of the same two kinds (`outHeads`).
 */
export interface HeadMatMulAttrs extends HeadDims {
  aHeads: boolean;
  bHeads: boolean;
  transposeA: boolean;
  transposeB: boolean;
  outHeads: boolean;
}
