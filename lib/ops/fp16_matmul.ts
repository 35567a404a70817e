/**
 * Attention matmuls in fp16 mixed precision with hand-written backward passes (`tf.customGrad`), the
 * TF.js counterpart of SimCSE-Jittor's `FP16_Matmul` (docs/SIMCSE.md §d.1): both operands rounded to
 * binary16, products accumulated in fp32, the result rounded to fp16; in the backward pass grad_out
 * is rounded to fp16 and both operand gradients are computed from the fp16 operands and rounded to fp16
 * (as Jittor). What the backward pass needs is saved packed at 16 bits (see `fp16.ts`).
 *
 * - `fp16MatMul(a, b, transposeA, transposeB)`: the general batched op.
 * - `fp16AttentionScores(q, k, shape, scale)`: QKᵀ·scale for Q and K given as the [B·L, H] outputs of
 *   their Linear layers; the head split happens inside the op, so no fp32 copy of Q, K or the raw
 *   scores is kept for the backward pass (TF.js's reshape and multiply would each keep one). The scale
 *   is applied in fp16 after the product, as Jittor divides the fp16 scores by √d.
 * - `fp16AttentionContext(probs, v, shape)`: probs·V with V as [B·L, H] rows, returning the context with
 *   heads merged, [B·L, H].
 *
 * On webgpu the two attention ops run each product (forward and both gradients) as one dispatch of the
 * tiled WGSL kernel (`kernels/webgpu/matmul.ts`; WGSL f16 storage and tiles where the device has
 * `shader-f16`): heads and transposes are strides, float32 operands are rounded as they are loaded,
 * the saved packed copies are read at 16 bits. `fp16MatMul` there runs the same kernel in f32 on
 * rounded, materialised operands.
 *
 * @example
 * ```ts
 * import { tf } from "../runtime/tf.ts";
 * import { fp16MatMul } from "./fp16_matmul.ts";
 * fp16MatMul(tf.fill([1, 2, 2], 1 / 3), tf.ones([1, 2, 2])).print(); // 0.66650390625 everywhere
 * ```
 * @module
 */
import { tf } from "../runtime/tf.ts";
import { releasing } from "./grad_release.ts";
import { asF16, isF16Valued, markF16, roundF16, unpackF16Tensor } from "./fp16.ts";
import { fp16KernelPath } from "./fp16_linear.ts";
import type { HeadDims } from "./fused.ts";
import { recordingGradients, sharedPackedF16 } from "./saved_inputs.ts";
import { F16, halfAttentionContext, halfAttentionScores } from "./bf16_ops.ts";
import { type ViewStrides, webgpuGemm, type WebgpuGemmOperand, webgpuMatMul } from "../kernels/mod.ts";

/** Batch, sequence length and number of heads of [B·L, H] activations (the kernels' `HeadDims`). */
export type HeadShape = HeadDims;

/** Swap the last two axes, materialised. */
function swapLast(t: tf.Tensor): tf.Tensor {
  const perm = [...Array(t.rank).keys()];
  [perm[t.rank - 2], perm[t.rank - 1]] = [perm[t.rank - 1], perm[t.rank - 2]];
  return tf.transpose(t, perm);
}

/** a @ b on materialised operands (plain batched matmul, no transpose flags); the tiled WGSL kernel on webgpu. */
function mm(a: tf.Tensor, b: tf.Tensor): tf.Tensor {
  if (tf.getBackend() !== "webgpu") return tf.matMul(a as tf.Tensor3D, b as tf.Tensor3D);
  const lead = a.shape.slice(0, -2), [m, k] = a.shape.slice(-2), n = b.shape[b.rank - 1];
  const batch = lead.reduce((x, y) => x * y, 1);
  const c = webgpuMatMul(tf.reshape(a, [batch, m, k]), tf.reshape(b, [batch, k, n]));
  return tf.reshape(c, [...lead, m, n]);
}

// On webgpu the attention matmuls are single dispatches of the tiled WGSL kernel on strided views: the
// heads of [B·L, H] rows are split and merged by index arithmetic, transposes are strides, float32
// operands are rounded to binary16 as they are loaded, packed copies are read at 16 bits.

/** Views of batch z = b·nh + h: head h of [B·L, H] rows as (l, d), its transpose (d, l), and [B, nh, L, L] scores. */
function headViews(s: HeadShape, H: number) {
  const L = s.seqLen, dh = H / s.heads;
  return {
    rows: [L * H, dh, H, 1] as ViewStrides,
    cols: [L * H, dh, 1, H] as ViewStrides,
    scores: [s.heads * L * L, L * L, L, 1] as ViewStrides,
    scoresT: [s.heads * L * L, L * L, 1, L] as ViewStrides,
  };
}

/** The packed copy when there is one, else the float32 tensor (rounded as it is loaded). */
function gpuOperand(t: tf.Tensor, packed: tf.Tensor | undefined, strides: ViewStrides): WebgpuGemmOperand {
  return packed ? { tensor: packed, packed: true, strides } : { tensor: t, strides };
}

/**
 * f16(A·B) per head (× postScale and rounded again) in one dispatch; the result as [B·L, H] rows
 * (`merged`, M = L, N = dh) or as [B, nh, L, L] scores (M = N = L). Marked fp16-valued.
 */
function headGemm(
  s: HeadShape,
  H: number,
  K: number,
  a: WebgpuGemmOperand,
  b: WebgpuGemmOperand,
  merged: boolean,
  postScale?: number,
): tf.Tensor {
  const L = s.seqLen, dh = H / s.heads;
  const { out } = webgpuGemm({
    batch: s.batch * s.heads,
    zInner: s.heads,
    M: L,
    N: merged ? dh : L,
    K,
    a,
    b,
    precision: "fp16",
    round: true,
    postScale,
    out: merged ? { size: s.batch * L * H, strides: headViews(s, H).rows } : undefined,
  });
  const shaped = tf.reshape(out, merged ? [s.batch * L, H] : [s.batch, s.heads, L, L]);
  out.dispose();
  return markF16(shaped);
}

/** [B·L, H] -> [B, nh, L, dh]. */
function splitHeads(x: tf.Tensor, s: HeadShape): tf.Tensor4D {
  const H = x.shape[1]!;
  return tf.transpose(tf.reshape(x, [s.batch, s.seqLen, s.heads, H / s.heads]), [0, 2, 1, 3]);
}

/** [B, nh, L, dh] -> [B·L, H]. */
function mergeHeads(x: tf.Tensor, s: HeadShape): tf.Tensor2D {
  const dh = x.shape[3]!;
  return tf.reshape(tf.transpose(x, [0, 2, 1, 3]), [s.batch * s.seqLen, s.heads * dh]);
}

/** Packed copy of `t` for the backward pass, or undefined when no tape records. */
function packIfTaping(t: tf.Tensor, taping: boolean): tf.Tensor | undefined {
  return taping ? sharedPackedF16(t) : undefined;
}

/** Rounded operand: `t` itself when already fp16-valued, else from its packed copy, else rounded. */
function operand(t: tf.Tensor, packed: tf.Tensor | undefined): tf.Tensor {
  if (isF16Valued(t)) return t;
  return packed ? unpackF16Tensor(packed, t.shape) : roundF16(t);
}

/**
 * op(a) @ op(b) in fp16 mixed precision, op = optional transpose of the last two axes; batch axes must
 * match exactly (no broadcasting).
 */
export function fp16MatMul(a: tf.Tensor, b: tf.Tensor, transposeA = false, transposeB = false): tf.Tensor {
  if (a.rank < 2 || a.rank !== b.rank || a.shape.slice(0, -2).join() !== b.shape.slice(0, -2).join()) {
    throw new Error(`fp16MatMul: shapes [${a.shape}] and [${b.shape}] need equal batch axes`);
  }
  const r = a.rank;
  const k1 = transposeA ? a.shape[r - 2] : a.shape[r - 1];
  const k2 = transposeB ? b.shape[r - 1] : b.shape[r - 2];
  if (k1 !== k2) throw new Error(`fp16MatMul: inner dimensions of [${a.shape}] and [${b.shape}] differ`);
  const taping = recordingGradients();
  const aPacked = packIfTaping(a, taping), bPacked = packIfTaping(b, taping);
  const aShape = a.shape, bShape = b.shape;
  const op = tf.customGrad(
    ((as: tf.Tensor, bs: tf.Tensor, save: tf.GradSaveFunc) => {
      let a16 = operand(as, aPacked), b16 = operand(bs, bPacked);
      if (transposeA) a16 = swapLast(a16);
      if (transposeB) b16 = swapLast(b16);
      if (taping) save([aPacked!, bPacked!]);
      return {
        value: roundF16(mm(a16, b16)),
        gradFunc: releasing((dy: tf.Tensor, saved: tf.Tensor[]) =>
          tf.tidy(() => {
            const g = asF16(dy);
            const A = unpackF16Tensor(saved[0], aShape), B = unpackF16Tensor(saved[1], bShape);
            // C = op(A) op(B): dop(A) = g op(B)ᵀ, dop(B) = op(A)ᵀ g; undo op on the way back.
            const opA = transposeA ? swapLast(A) : A, opB = transposeB ? swapLast(B) : B;
            const dOpA = mm(g, swapLast(opB)), dOpB = mm(swapLast(opA), g);
            return [
              roundF16(transposeA ? swapLast(dOpA) : dOpA),
              roundF16(transposeB ? swapLast(dOpB) : dOpB),
            ];
          })
        ),
      };
    }) as unknown as Parameters<typeof tf.customGrad>[0],
  );
  return op(a, b);
}

/**
 * Attention scores fp16(fp16(Q Kᵀ)·scale) per head: q, k [B·L, H] -> [B, nh, L, L]. The caller adds
 * the mask and takes the softmax in fp32.
 */
export function fp16AttentionScores(
  q: tf.Tensor2D,
  k: tf.Tensor2D,
  shape: HeadShape,
  scale: number,
): tf.Tensor4D {
  if (fp16KernelPath()) return halfAttentionScores(F16, q, k, shape, scale);
  checkRows(q, shape, "fp16AttentionScores: q");
  checkRows(k, shape, "fp16AttentionScores: k");
  const taping = recordingGradients();
  const qPacked = packIfTaping(q, taping), kPacked = packIfTaping(k, taping);
  if (tf.getBackend() === "webgpu") return gpuAttentionScores(q, k, shape, scale, qPacked, kPacked, taping);
  const op = tf.customGrad(
    ((qs: tf.Tensor2D, ks: tf.Tensor2D, save: tf.GradSaveFunc) => {
      const qh = splitHeads(operand(qs, qPacked), shape), kh = splitHeads(operand(ks, kPacked), shape);
      if (taping) save([qPacked!, kPacked!]);
      return {
        value: roundF16(tf.mul(roundF16(mm(qh, swapLast(kh))), scale)),
        gradFunc: releasing((dy: tf.Tensor, saved: tf.Tensor[]) =>
          tf.tidy(() => {
            const g = roundF16(tf.mul(asF16(dy), scale)); // d(QKᵀ), fp16
            const qh = splitHeads(unpackF16Tensor(saved[0], q.shape), shape);
            const kh = splitHeads(unpackF16Tensor(saved[1], k.shape), shape);
            return [
              roundF16(mergeHeads(mm(g, kh), shape)), // dQ = g K
              roundF16(mergeHeads(mm(swapLast(g), qh), shape)), // dK = gᵀ Q
            ];
          })
        ),
      };
    }) as unknown as Parameters<typeof tf.customGrad>[0],
  );
  return op(q, k) as tf.Tensor4D;
}

/** Attention context fp16(probs · V): probs [B, nh, L, L], v [B·L, H] -> [B·L, H] (heads merged). */
export function fp16AttentionContext(probs: tf.Tensor4D, v: tf.Tensor2D, shape: HeadShape): tf.Tensor2D {
  if (fp16KernelPath()) return halfAttentionContext(F16, probs, v, shape);
  checkRows(v, shape, "fp16AttentionContext: v");
  const { batch: B, seqLen: L, heads: nh } = shape;
  if (probs.shape.join() !== [B, nh, L, L].join()) {
    throw new Error(`fp16AttentionContext: probs [${probs.shape}] is not [${[B, nh, L, L]}]`);
  }
  const taping = recordingGradients();
  const pPacked = packIfTaping(probs, taping), vPacked = packIfTaping(v, taping);
  if (tf.getBackend() === "webgpu") return gpuAttentionContext(probs, v, shape, pPacked, vPacked, taping);
  const op = tf.customGrad(
    ((ps: tf.Tensor4D, vs: tf.Tensor2D, save: tf.GradSaveFunc) => {
      const p16 = operand(ps, pPacked), vh = splitHeads(operand(vs, vPacked), shape);
      if (taping) save([pPacked!, vPacked!]);
      return {
        value: markF16(mergeHeads(roundF16(mm(p16, vh)), shape)),
        gradFunc: releasing((dy: tf.Tensor, saved: tf.Tensor[]) =>
          tf.tidy(() => {
            const g = splitHeads(asF16(dy), shape); // [B, nh, L, dh]
            const p = unpackF16Tensor(saved[0], probs.shape);
            const vh = splitHeads(unpackF16Tensor(saved[1], v.shape), shape);
            return [
              roundF16(mm(g, swapLast(vh))), // dP = g Vᵀ
              roundF16(mergeHeads(mm(swapLast(p), g), shape)), // dV = Pᵀ g
            ];
          })
        ),
      };
    }) as unknown as Parameters<typeof tf.customGrad>[0],
  );
  return op(probs, v) as tf.Tensor2D;
}

/** {@link fp16AttentionScores} on webgpu: QKᵀ·scale, dQ = g′K and dK = g′ᵀQ each one dispatch. */
function gpuAttentionScores(
  q: tf.Tensor2D,
  k: tf.Tensor2D,
  shape: HeadShape,
  scale: number,
  qPacked: tf.Tensor | undefined,
  kPacked: tf.Tensor | undefined,
  taping: boolean,
): tf.Tensor4D {
  const H = q.shape[1], dh = H / shape.heads, L = shape.seqLen, v = headViews(shape, H);
  const op = tf.customGrad(
    ((qs: tf.Tensor2D, ks: tf.Tensor2D, save: tf.GradSaveFunc) => {
      if (taping) save([qPacked!, kPacked!]);
      return {
        value: headGemm(
          shape,
          H,
          dh,
          gpuOperand(qs, qPacked, v.rows),
          gpuOperand(ks, kPacked, v.cols),
          false,
          scale,
        ),
        gradFunc: releasing((dy: tf.Tensor, saved: tf.Tensor[]) =>
          tf.tidy(() => {
            const g = roundF16(tf.mul(asF16(dy), scale)); // d(QKᵀ), fp16
            const [qp, kp] = saved;
            return [
              headGemm(shape, H, L, { tensor: g, strides: v.scores }, gpuOperand(k, kp, v.rows), true), // dQ = g K
              headGemm(shape, H, L, { tensor: g, strides: v.scoresT }, gpuOperand(q, qp, v.rows), true), // dK = gᵀ Q
            ];
          })
        ),
      };
    }) as unknown as Parameters<typeof tf.customGrad>[0],
  );
  return op(q, k) as tf.Tensor4D;
}

/** {@link fp16AttentionContext} on webgpu: P·V, dP = gVᵀ and dV = Pᵀg each one dispatch. */
function gpuAttentionContext(
  probs: tf.Tensor4D,
  v: tf.Tensor2D,
  shape: HeadShape,
  pPacked: tf.Tensor | undefined,
  vPacked: tf.Tensor | undefined,
  taping: boolean,
): tf.Tensor2D {
  const H = v.shape[1], dh = H / shape.heads, L = shape.seqLen, w = headViews(shape, H);
  const op = tf.customGrad(
    ((ps: tf.Tensor4D, vs: tf.Tensor2D, save: tf.GradSaveFunc) => {
      if (taping) save([pPacked!, vPacked!]);
      return {
        value: headGemm(
          shape,
          H,
          L,
          gpuOperand(ps, pPacked, w.scores),
          gpuOperand(vs, vPacked, w.rows),
          true,
        ),
        gradFunc: releasing((dy: tf.Tensor, saved: tf.Tensor[]) =>
          tf.tidy(() => {
            // g = f16(dy), rounded as it is loaded.
            const [pp, vp] = saved;
            return [
              headGemm(shape, H, dh, { tensor: dy, strides: w.rows }, gpuOperand(v, vp, w.cols), false), // dP = g Vᵀ
              headGemm(shape, H, L, gpuOperand(probs, pp, w.scoresT), { tensor: dy, strides: w.rows }, true), // dV = Pᵀ g
            ];
          })
        ),
      };
    }) as unknown as Parameters<typeof tf.customGrad>[0],
  );
  return op(probs, v) as tf.Tensor2D;
}

function checkRows(x: tf.Tensor, s: HeadShape, what: string): void {
  if (x.rank !== 2 || x.shape[0] !== s.batch * s.seqLen || x.shape[1]! % s.heads !== 0) {
    throw new Error(`${what} [${x.shape}] is not [${s.batch}·${s.seqLen}, heads·dh] with ${s.heads} heads`);
  }
}
