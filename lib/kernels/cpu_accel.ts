/**
 * One call that turns the TF.js `cpu` backend into the toolkit's fast CPU path: the output buffer
 * pool (`cpu_pool.ts`), the hand-written float32 kernels (`cpu_fast.ts`), the fused layer kernels
 * (`cpu_fused.ts`: LayerNorm, GELU, attention softmax, dropout) and, when a system BLAS can be
 * opened, sgemm matmuls (`cpu_blas.ts`) and head-strided attention matmuls (`cpu_head_matmul.ts`). Without BLAS it prints ONE line saying why and keeps
 * the stock matmul. `SIMCSE_CPU_KERNELS=stock` leaves the cpu backend untouched (for comparisons).
 *
 * @example
 * ```ts
 * import { tf } from "../tf.ts";
 * import { accelerateCpuBackend } from "./cpu_accel.ts";
 * await tf.setBackend("cpu");
 * const { blas } = accelerateCpuBackend(); // blas: BlasInfo | null
 * ```
 * @module
 */
import { type BlasInfo, registerBlasKernels } from "./cpu_blas.ts";
import { registerFastCpuKernels } from "./cpu_fast.ts";
import { registerFusedCpuKernels } from "./cpu_fused.ts";
import { registerHeadMatMulKernel } from "./cpu_head_matmul.ts";
import { installCpuPool } from "./cpu_pool.ts";

/** What {@link accelerateCpuBackend} enabled. */
export interface CpuAcceleration {
  /** The BLAS in use for matmuls, or null (stock JS matmul). */
  blas: BlasInfo | null;
  /** Why there is no BLAS (null when there is one). */
  blasReason: string | null;
  /** Whether the fast JS kernels and buffer pool are on. */
  fastKernels: boolean;
}

let result: CpuAcceleration | null = null;

/** Enable the fast CPU path (idempotent; the cpu backend must be registered). */
export function accelerateCpuBackend(opts: { quiet?: boolean } = {}): CpuAcceleration {
  if (result) return result;
  if (Deno.env.get("SIMCSE_CPU_KERNELS") === "stock") {
    return result = { blas: null, blasReason: "SIMCSE_CPU_KERNELS=stock", fastKernels: false };
  }
  installCpuPool();
  registerFastCpuKernels();
  registerFusedCpuKernels();
  const r = registerBlasKernels();
  if (r.ok) registerHeadMatMulKernel();
  result = r.ok
    ? { blas: r.info, blasReason: null, fastKernels: true }
    : { blas: null, blasReason: r.reason, fastKernels: true };
  if (!r.ok && !opts.quiet) {
    console.warn(`cpu backend: no BLAS for matmuls (${r.reason}); using slow JS matmuls.`);
  }
  return result;
}

/** The acceleration in effect, or null when {@link accelerateCpuBackend} has not run. */
export function cpuAcceleration(): CpuAcceleration | null {
  return result;
}
