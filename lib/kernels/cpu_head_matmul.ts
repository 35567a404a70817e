/**
 * The `SimcseHeadMatMul` kernel (`lib/ops/fused.ts`) for the TF.js `cpu` backend with a BLAS:
 * attention matmuls computed straight on the [B·L, H] outputs of the Q/K/V Linear layers, with the
 * leading dimension H as the row stride. This removes the four [B, L, heads, dh] ↔ [B, heads, L, dh]
 * transposes per layer forward (and four more backward) that TF.js needs otherwise. All the (batch, head)
 * products go to the C kernels' small-matrix kernel in one call where it is loaded (its float32 form, as
 * the half-precision attention products use its 16-bit forms), else one `cblas_sgemm` per (batch, head)
 * with a sub-array view as the pointer offset: float32 BERT-mini training steps took 5–12% less time with
 * the one call (4 alternating rounds, docs/CPU-PERF.md). On a CPU without AVX-512 the kernel runs its plain
 * loops, which took ×0.85–1.09 of the sgemm calls' time (×0.91 in the median) with OpenBLAS's AVX2 kernels
 * (`bench/head_products_bench.ts --march haswell`; docs/CPU-PERF.md, "Twentieth round").
 *
 * @example
 * ```ts
 * import { tf } from "../runtime/tf.ts";
 * import { registerHeadMatMulKernel } from "./cpu_head_matmul.ts";
 * import { attentionScores } from "../ops/fused.ts";
 * await tf.setBackend("cpu");
 * registerHeadMatMulKernel(); // false when no BLAS can be opened
 * attentionScores(tf.ones([4, 6]), tf.ones([4, 6]), { batch: 2, seqLen: 2, heads: 3 }).print(); // all 2
 * ```
 * @module
 */
import { tf } from "../runtime/tf.ts";
import { FUSED_KERNELS, type HeadMatMulAttrs } from "./kernel_names.ts";
import { loadBlas } from "./cpu_blas.ts";
import { allocFloat32, cpuBackend, type CpuBackendLike, float32Values } from "./cpu_pool.ts";
import { nativeKernels, SMALL_GEMM_MAX } from "./native_kernels.ts";

type KernelArgs = {
  inputs: Record<string, tf.TensorInfo>;
  backend: unknown;
  attrs?: Record<string, unknown>;
};

function headMatMul({ inputs, backend, attrs }: KernelArgs): tf.TensorInfo {
  const be = backend as CpuBackendLike;
  const at = attrs as unknown as HeadMatMulAttrs;
  const { batch: B, seqLen: L, heads: nh } = at;
  const gemm = loadBlas()!.sgemm;
  const a = float32Values(be, inputs.a), b = float32Values(be, inputs.b);
  // the [B·L, H] operand fixes H (every call has at least one)
  const ref = at.aHeads ? inputs.a : inputs.b;
  const H = ref.shape[ref.shape.length - 1], dh = H / nh;
  const view = (heads: boolean, bi: number, h: number) =>
    heads
      ? { off: bi * L * H + h * dh, rows: L, cols: dh, ld: H }
      : { off: (bi * nh + h) * L * L, rows: L, cols: L, ld: L };
  const outShape = at.outHeads ? [B * L, H] : [B, nh, L, L];
  const c = allocFloat32(outShape.reduce((p, q) => p * q, 1));
  if (smallProducts(at, a, b, c, H, dh)) return be.makeTensorInfo(outShape, "float32", c);
  for (let bi = 0; bi < B; bi++) {
    for (let h = 0; h < nh; h++) {
      const va = view(at.aHeads, bi, h), vb = view(at.bHeads, bi, h), vc = view(at.outHeads, bi, h);
      const m = at.transposeA ? va.cols : va.rows, k = at.transposeA ? va.rows : va.cols;
      const n = at.transposeB ? vb.rows : vb.cols;
      if ((at.transposeB ? vb.cols : vb.rows) !== k || vc.rows !== m || vc.cols !== n) {
        throw new Error(`SimcseHeadMatMul: shapes do not chain (${JSON.stringify(at)})`);
      }
      gemm(
        at.transposeA,
        at.transposeB,
        m,
        n,
        k,
        1,
        a.subarray(va.off),
        va.ld,
        b.subarray(vb.off),
        vb.ld,
        0,
        c.subarray(vc.off),
        vc.ld,
      );
    }
  }
  return be.makeTensorInfo(outShape, "float32", c);
}

/**
 * All B·heads products in one call of the C kernels' small-matrix kernel in its float32 form
 * (`native/small_gemm.h`: a matrix per thread at a time, each element summed in the inner index's order,
 * reading the operands in place through their strides), where the kernels are loaded and L and dh are at
 * most {@link SMALL_GEMM_MAX}: an sgemm call per (batch, head) made 12 288 calls per BERT-mini training
 * step and 110 592 per BERT-base one. False (nothing written) otherwise.
 */
function smallProducts(
  at: HeadMatMulAttrs,
  a: Float32Array,
  b: Float32Array,
  c: Float32Array,
  H: number,
  dh: number,
): boolean {
  const k = nativeKernels(), { batch: B, seqLen: L, heads: nh } = at;
  if (!k || Math.max(L, dh) > SMALL_GEMM_MAX) return false;
  // a [B·L, H] operand's head h of sequence bi: rows L, columns dh, row stride H; a [B, nh, L, L] one's:
  // rows and columns L, row stride L
  const operand = (heads: boolean, data: Float32Array) =>
    heads
      ? { data, ld: H, strides: [L * H, dh] as [number, number], rows: L, cols: dh }
      : { data, ld: L, strides: [nh * L * L, L * L] as [number, number], rows: L, cols: L };
  const oa = operand(at.aHeads, a), ob = operand(at.bHeads, b), oc = operand(at.outHeads, c);
  const m = at.transposeA ? oa.cols : oa.rows, kk = at.transposeA ? oa.rows : oa.cols;
  const n = at.transposeB ? ob.rows : ob.cols;
  if ((at.transposeB ? ob.cols : ob.rows) !== kk || oc.rows !== m || oc.cols !== n) return false; // the loop says why
  return k.halfBatchGemm("f32", [at.transposeA, at.transposeB], [B, nh], [m, n, kk], oa, ob, oc, 1);
}

/** Register the kernel for the cpu backend when a BLAS can be opened; returns whether it is registered. */
export function registerHeadMatMulKernel(): boolean {
  if (tf.getKernel(FUSED_KERNELS.headMatMul, "cpu")) return true;
  if (!loadBlas()) return false;
  cpuBackend();
  tf.registerKernel({
    kernelName: FUSED_KERNELS.headMatMul,
    backendName: "cpu",
    kernelFunc: headMatMul as never,
  });
  return true;
}

/** Remove it again (tests compare against the TF.js-op path). */
export function unregisterHeadMatMulKernel(): void {
  if (tf.getKernel(FUSED_KERNELS.headMatMul, "cpu")) tf.unregisterKernel(FUSED_KERNELS.headMatMul, "cpu");
}
