/**
 * `fusedAddNorm(dense, residual, γ, β, eps, store, dropout)`: a post-LN residual branch, y =
 * LayerNorm(dropout(dense) + residual), as one op in a half precision on the cpu backend with the C
 * kernels (BERT's two branches per layer).
 *
 * The three ops it replaces (dropout, the saveless add, `fusedLayerNorm`) each read and wrote a full
 * [rows, H] float32 array, and the LayerNorm wrote x̂ in float32 before packing it: 38 MB of traffic per
 * branch of BERT-mini's training step against 14 here, which reads `dense` and `residual` once and writes y
 * and x̂'s 16-bit codes (`simcse_dropout_add_layernorm`). The values are those of the three kernels in turn
 * (the same dropout hash and scaling, the same float32 sum, the same LayerNorm row), so the step's bits do
 * not change. The backward pass is the LayerNorm's (x̂'s codes, 1/σ, γ: what `fusedLayerNorm` saves) and
 * dropout's mask drawn again for the dense input's gradient; the residual's gradient is the sum's.
 *
 * At evaluation (no tape) nothing is kept and x̂ goes no further than a row buffer. While a tape records the
 * op registers its x̂ codes as the output's LayerNorm source, as `fusedLayerNorm` does, so the Linears
 * reading y save those codes.
 *
 * @example
 * ```ts
 * import { tf } from "../runtime/tf.ts";
 * import { fusedAddNorm, fusedAddNormAvailable } from "./add_norm.ts";
 * const x = tf.ones([2, 4]), r = tf.tensor2d([[1, 2, 3, 4], [0, 0, 0, 1]]);
 * if (fusedAddNormAvailable()) fusedAddNorm(x, r, tf.ones([4]), tf.zeros([4]), 1e-12, undefined, null).print();
 * ```
 * @module
 */
import { tf } from "../runtime/tf.ts";
import { allocFloat32, FUSED_KERNELS, nativeKernels, peekFloat32 } from "../kernels/mod.ts";
import { releasing } from "./grad_release.ts";
import { emptyHalfCodes } from "./half_codes.ts";
import { packedBf16Bits } from "./bf16.ts";
import { type HalfStore, hasFusedKernel, markLayerNormSource } from "./fused.ts";

/** The dropout of the dense input: its rate and the seed of the hash mask (`seededDropout`'s per site). */
export interface BranchDropout {
  rate: number;
  seed: number;
}

/** Whether {@link fusedAddNorm} runs here: the cpu backend with the C kernels and the fused kernels. */
export function fusedAddNormAvailable(): boolean {
  return tf.getBackend() === "cpu" && nativeKernels() !== null &&
    hasFusedKernel(FUSED_KERNELS.layerNormGrad) && hasFusedKernel(FUSED_KERNELS.dropout);
}

function values(t: tf.Tensor): Float32Array {
  return peekFloat32(t) ?? t.dataSync() as Float32Array;
}

function run(name: string, inputs: Record<string, tf.Tensor>, attrs: Record<string, unknown>) {
  return tf.engine().runKernel(name, inputs as never, attrs as never) as tf.Tensor | tf.Tensor[];
}

/**
 * LayerNorm(dropout(dense) + residual) over the last axis (torch.nn.LayerNorm semantics), `dropout` null
 * for none; while a tape records, x̂ is kept as codes of `store`'s format. Only where
 * {@link fusedAddNormAvailable}.
 */
export function fusedAddNorm(
  dense: tf.Tensor,
  residual: tf.Tensor,
  gamma: tf.Tensor,
  beta: tf.Tensor,
  eps: number,
  store: HalfStore | undefined,
  dropout: BranchDropout | null,
): tf.Tensor {
  if (!fusedAddNormAvailable()) throw new Error("fusedAddNorm: needs the cpu backend with the C kernels");
  if (dense.shape.join() !== residual.shape.join()) {
    throw new Error(`fusedAddNorm: dense [${dense.shape}] and residual [${residual.shape}] differ`);
  }
  const H = dense.shape[dense.rank - 1], rows = dense.size / H;
  const taping = tf.engine().isTapeOn();
  if (taping && !store) {
    throw new Error("fusedAddNorm: a gradient tape needs a half store (x̂ is kept as codes)");
  }
  const s = taping ? store : undefined;
  const drop = dropout && dropout.rate > 0
    ? {
      seed: dropout.seed >>> 0,
      threshold: Math.min(2 ** 32 - 1, Math.floor(dropout.rate * 2 ** 32)),
      inv: 1 / (1 - dropout.rate),
    }
    : null;
  const codes = s ? emptyHalfCodes(dense.size) : undefined;
  const op = tf.customGrad(
    ((d: tf.Tensor, r: tf.Tensor, g: tf.Tensor, b: tf.Tensor, save: tf.GradSaveFunc) => {
      const y = allocFloat32(dense.size), rstd = allocFloat32(rows);
      const ok = nativeKernels()!.dropoutAddLayerNorm(
        s?.type ?? "bf16",
        values(d),
        values(r),
        drop,
        values(g),
        values(b),
        y,
        codes ? packedBf16Bits(codes) : null,
        rstd,
        rows,
        H,
        eps,
      );
      if (!ok) throw new Error("fusedAddNorm: out of memory for the row buffers");
      const rstdT = tf.tensor(rstd, dense.shape.slice(0, -1));
      if (codes) save([codes, rstdT, g]);
      return {
        value: tf.tensor(y, dense.shape),
        gradFunc: releasing((dy: tf.Tensor, saved: tf.Tensor[]) => {
          const [kept, rs, gs] = saved;
          const [dx, dg, db] = run(FUSED_KERNELS.layerNormGrad, { dy, xhat: kept, rstd: rs, gamma: gs }, {
            codes: s!.type,
          }) as tf.Tensor[];
          // dropout's gradient: the mask (seed, index) drawn again, on the sum's gradient
          const dDense = dropout && dropout.rate > 0
            ? run(FUSED_KERNELS.dropout, { x: dx }, { rate: dropout.rate, seed: dropout.seed }) as tf.Tensor
            : tf.clone(dx);
          return [dDense, dx, dg, db];
        }),
      };
    }) as unknown as Parameters<typeof tf.customGrad>[0],
  );
  const y = op(dense, residual, gamma, beta) as tf.Tensor;
  if (codes && s) markLayerNormSource(y, codes, s.type, gamma, beta);
  return y;
}
