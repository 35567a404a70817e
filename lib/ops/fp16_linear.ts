/**
 * `fp16Linear(x, W, b)`: a Linear layer in fp16 mixed precision with a hand-written forward and
 * backward (a `tf.customGrad` op), the TF.js counterpart of SimCSE-Jittor's `FP16_Linear`
 * (docs/SIMCSE.md §d.1), for x [N, in] and W as an [in, out] kernel (so it also serves GPT-2's Conv1D).
 *
 * Forward: x, W and b are rounded to binary16; z = x16 @ W16 + b16 is accumulated in fp32 and rounded
 * to fp16 once (tensor-core style; Jittor added the bias in fp16, a second rounding). With
 * `activation` the op is "linear + activation in fp16", as Jittor runs GELU on the fp16 intermediate:
 * y = fp16(act(z16)).
 *
 * Backward: grad_out is rounded to fp16 (times act'(z16), rounded again, when fused);
 * grad_x = fp16(g16 @ W16ᵀ) as in Jittor; grad_W = x16ᵀ @ g16 and grad_b = Σ g16 are accumulated and
 * returned in fp32 (Jittor left grad_b in fp16 — a summed bias gradient loses low bits and overflows
 * first). The master weights stay fp32: the optimizer updates the fp32 variables.
 *
 * On webgpu the three products run as the tiled WGSL kernel of `kernels/webgpu/matmul.ts` (real WGSL
 * f16 storage and tiles where the device has `shader-f16`, else its f32 emulation; same values): it
 * reads x16 and g16 from their 16-bit packed copies, rounds W (and b) as it loads them, takes the
 * transposes as strides, and fuses the bias and the rounding; with f16 also the activation, so
 * GELU+Linear is one dispatch that writes y and the packed z16.
 *
 * Memory: what the backward pass needs is kept at 16 bits. x16 (and z16 when fused) are saved as packed
 * int32 pairs; W16 is not saved but re-rounded from the fp32 master weight, which lives anyway. When
 * several ops read the same input tensor in one forward pass (Q, K and V of a layer), they share one
 * packed copy. When no gradient is being recorded nothing is packed.
 *
 * @example
 * ```ts
 * import { tf } from "../runtime/tf.ts";
 * import { fp16Linear } from "./fp16_linear.ts";
 * fp16Linear(tf.fill([2, 3], 0.1) as tf.Tensor2D, tf.ones([3, 4]) as tf.Tensor2D, tf.zeros([4]) as tf.Tensor1D)
 *   .print(); // 0.2998046875 everywhere: 3 × fp16(0.1) = 0.2999267578125 in fp32, a tie, to even in fp16
 * ```
 * @module
 */
import { tf } from "../runtime/tf.ts";
import { releasing } from "./grad_release.ts";
import { activationInputGrad, activationValue, type AnyActivation } from "./fused.ts";
import { asF16, isF16Valued, markF16, packF16Tensor, roundF16, unpackF16Tensor } from "./fp16.ts";
import { recordingGradients, releaseSavedCopies, sharedPackedF16 } from "./saved_inputs.ts";

import { gemmEngine, webgpuF16Support, webgpuGemm } from "../kernels/mod.ts";
import { F16, halfLinear } from "./bf16_ops.ts";
import { halfFeedForward } from "./half_feed_forward.ts";
import type { WeightColumns } from "./linear.ts";

let kernelPath = true;

/**
 * Whether the fp16 ops run on the 16-bit gemm kernels of `lib/kernels/onednn.ts` (`bf16_ops.ts` with
 * binary16): on the cpu backend, when oneDNN or OpenBLAS is there. The operands are rounded inside the
 * kernel (oneDNN with an f16 kernel; oneDNN 2.6 has none, see docs/CPU-PERF.md) or, on OpenBLAS, by one
 * C (else JS) pass each, and the transposes are sgemm flags; same semantics as the tf-ops path below.
 */
export function fp16KernelPath(): boolean {
  return kernelPath && tf.getBackend() === "cpu" && gemmEngine("f16") !== "js";
}

/** Switch the kernel path off (tests and benches compare it with the tf-ops emulation). */
export function setFp16KernelPath(on: boolean): void {
  kernelPath = on;
}

/** Activation fused into the fp16 op (HF names; "none" = plain Linear). */
export type Fp16Activation = AnyActivation;

export interface Fp16LinearOptions {
  /** Apply this activation in fp16 on the rounded pre-activation (default "none"). */
  activation?: Fp16Activation;
  /**
   * W is these columns of a wider weight (`linear.ts`): the kernel path saves that weight instead of
   * W; the tf-ops path keeps its own reference to W.
   */
  columnsOf?: WeightColumns;
}

/**
 * act(x W₁ + b₁) W₂ + b₂ in fp16: on the kernel path one op with the hidden layer at 16 bits
 * (`half_feed_forward.ts`); on the tf-ops path (wasm, webgpu) two `fp16Linear`s, the same values.
 */
export function fp16FeedForward(
  x: tf.Tensor2D,
  w1: tf.Tensor2D,
  b1: tf.Tensor1D,
  activation: Fp16Activation,
  w2: tf.Tensor2D,
  b2: tf.Tensor1D,
): tf.Tensor2D {
  if (fp16KernelPath()) return halfFeedForward(F16, x, w1, b1, activation, w2, b2);
  const hidden = fp16Linear(x, w1, b1, { activation });
  const y = fp16Linear(hidden, w2, b2);
  releaseSavedCopies(hidden); // the second Linear keeps its own clone of hidden's packed copy
  hidden.dispose();
  return y;
}

/** x [N, in] @ W [in, out] + b [out] in fp16 mixed precision, optionally with a fused fp16 activation. */
export function fp16Linear(
  x: tf.Tensor2D,
  w: tf.Tensor2D,
  b: tf.Tensor1D,
  opts: Fp16LinearOptions = {},
): tf.Tensor2D {
  if (
    x.rank !== 2 || w.rank !== 2 || x.shape[1] !== w.shape[0] || b.rank !== 1 || b.shape[0] !== w.shape[1]
  ) {
    throw new Error(`fp16Linear: x [${x.shape}], W [${w.shape}] and b [${b.shape}] do not chain`);
  }
  if (fp16KernelPath()) return halfLinear(F16, x, w, b, opts);
  const act = opts.activation ?? "none";
  const taping = recordingGradients();
  const xPacked = taping ? sharedPackedF16(x) : undefined;
  const [N, nIn] = x.shape, nOut = w.shape[1];
  const op = tf.customGrad(
    ((xs: tf.Tensor2D, ws: tf.Tensor2D, bs: tf.Tensor1D, save: tf.GradSaveFunc) => {
      // An input that an fp16 op produced is already fp16-valued: used as is, no pass over it.
      const gpu = tf.getBackend() === "webgpu";
      // With WGSL f16 the activation is fused too, and z16 written packed by the same dispatch.
      const fused = gpu && act !== "none" && webgpuF16Support().f16;
      let z: tf.Tensor2D;
      let zPacked: tf.Tensor | undefined;
      if (gpu) {
        // One dispatch of the tiled WGSL kernel: x16 read from its packed copy (else x rounded as it is
        // loaded), W and b rounded as they are loaded, bias and rounding (and the activation) fused.
        const r = webgpuGemm({
          batch: 1,
          M: N,
          N: nOut,
          K: nIn,
          a: xPacked
            ? { tensor: xPacked, packed: true, strides: [0, 0, nIn, 1] }
            : { tensor: xs, strides: [0, 0, nIn, 1] },
          b: { tensor: ws, strides: [0, 0, nOut, 1] },
          precision: "fp16",
          bias: bs,
          round: true,
          activation: fused ? act : "none",
          saveZ: fused && taping,
        });
        z = markF16(tf.reshape(r.out, [N, nOut]));
        r.out.dispose();
        zPacked = r.z16;
      } else {
        const x16 = isF16Valued(xs)
          ? xs
          : xPacked
          ? unpackF16Tensor(xPacked, [N, nIn]) as tf.Tensor2D
          : roundF16(xs);
        z = roundF16(tf.add(tf.matMul(x16, roundF16(ws)), roundF16(bs)) as tf.Tensor2D);
      }
      let value: tf.Tensor = z;
      if (act !== "none" && !fused) {
        value = roundF16(activationValue(act, z));
        if (taping) zPacked = packF16Tensor(z);
      }
      if (taping) save(zPacked ? [xPacked!, ws, zPacked] : [xPacked!, ws]);
      return {
        value,
        gradFunc: releasing((dy: tf.Tensor, saved: tf.Tensor[]) =>
          tf.tidy(() => {
            const [xp, wMaster, zp] = saved;
            let g = asF16(dy) as tf.Tensor2D;
            if (zp) {
              const z16 = unpackF16Tensor(zp, [N, nOut]);
              g = roundF16(activationInputGrad(act, g, z16)) as tf.Tensor2D;
            }
            if (tf.getBackend() === "webgpu") {
              // g16 packed once for both products; W16 = f16(W) rounded as it is loaded; transposes
              // are strides: dX = g16 W16ᵀ (rounded), dW = x16ᵀ g16 (fp32).
              const gp = packF16Tensor(g);
              const dx = webgpuGemm({
                batch: 1,
                M: N,
                N: nIn,
                K: nOut,
                a: { tensor: gp, packed: true, strides: [0, 0, nOut, 1] },
                b: { tensor: wMaster, strides: [0, 0, 1, nOut] },
                precision: "fp16",
                round: true,
              }).out;
              const dw = webgpuGemm({
                batch: 1,
                M: nIn,
                N: nOut,
                K: N,
                a: { tensor: xp, packed: true, strides: [0, 0, 1, nIn] },
                b: { tensor: gp, packed: true, strides: [0, 0, nOut, 1] },
                precision: "fp16",
              }).out;
              return [markF16(tf.reshape(dx, [N, nIn])), tf.reshape(dw, [nIn, nOut]), tf.sum(g, 0)];
            }
            const w16 = roundF16(wMaster) as tf.Tensor2D;
            const xh = unpackF16Tensor(xp, [N, nIn]) as tf.Tensor2D;
            // Plain 2-D matmuls with the transposes materialised (fast path on wasm; see linear.ts).
            const dx = roundF16(tf.matMul(g, tf.transpose(w16)));
            const dw = tf.matMul(tf.transpose(xh), g);
            const db = tf.sum(g, 0);
            return [dx, dw, db];
          })
        ),
      };
    }) as unknown as Parameters<typeof tf.customGrad>[0],
  );
  return op(x, w, b) as tf.Tensor2D;
}
