/**
 * One call that turns the TF.js `cpu` backend into the toolkit's fast CPU path: the output buffer
 * pool (`cpu_pool.ts`), the hand-written float32 kernels (`cpu_fast.ts`), the fused layer kernels
 * (`cpu_fused.ts`: LayerNorm, GELU, attention softmax, dropout) and, when a system BLAS can be
 * opened, sgemm matmuls (`cpu_blas.ts`) and head-strided attention matmuls (`cpu_head_matmul.ts`);
 * the fused kernels run as vectorised C (`native_kernels.ts`) when a C compiler can build them.
 * Without BLAS it keeps the stock matmul and, when stderr is a terminal, prints ONE line saying why
 * (likewise without C kernels). On a pipe or in a log it prints nothing, so a CLI's stderr stays the
 * one `error: ...` line when it fails; {@link cpuAcceleration} keeps the reasons for records.
 * `SIMCSE_CPU_KERNELS=stock` leaves the cpu backend untouched (for comparisons).
 *
 * @example
 * ```ts
 * import { tf } from "../runtime/tf.ts";
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
import { cpuFlags, loadNativeKernels, nativeKernelsUnavailableReason } from "./native_kernels.ts";
import { installCpuPool } from "./cpu_pool.ts";

/** What {@link accelerateCpuBackend} enabled. */
export interface CpuAcceleration {
  /** The BLAS in use for matmuls, or null (stock JS matmul). */
  blas: BlasInfo | null;
  /** Why there is no BLAS (null when there is one). */
  blasReason: string | null;
  /** Whether the fast JS kernels and buffer pool are on. */
  fastKernels: boolean;
  /** The compiled C kernels in use (`native_kernels.ts`), or null. */
  native: string | null;
  /** Why there are no C kernels (null when there are). */
  nativeReason: string | null;
}

let result: CpuAcceleration | null = null;

/** Enable the fast CPU path (idempotent; the cpu backend must be registered). */
export function accelerateCpuBackend(opts: { quiet?: boolean } = {}): CpuAcceleration {
  if (result) return result;
  if (Deno.env.get("SIMCSE_CPU_KERNELS") === "stock") {
    return result = {
      blas: null,
      blasReason: "SIMCSE_CPU_KERNELS=stock",
      fastKernels: false,
      native: null,
      nativeReason: "SIMCSE_CPU_KERNELS=stock",
    };
  }
  installCpuPool();
  registerFastCpuKernels();
  registerFusedCpuKernels();
  const r = registerBlasKernels();
  if (r.ok) registerHeadMatMulKernel();
  const nk = loadNativeKernels();
  const native = { native: nk?.path ?? null, nativeReason: nk ? null : nativeKernelsUnavailableReason() };
  result = r.ok
    ? { blas: r.info, blasReason: null, fastKernels: true, ...native }
    : { blas: null, blasReason: r.reason, fastKernels: true, ...native };
  // Advice for people, not logs: on a pipe these lines would come before a CLI's `error: ...` line.
  const tell = !opts.quiet && Deno.stderr.isTerminal();
  if (!r.ok && tell) {
    console.warn(`cpu backend: no BLAS for matmuls (${r.reason}); using slow JS matmuls.`);
  }
  const hint = r.ok ? openblasCoreHint(r.info) : null;
  if (hint && tell) console.warn(`cpu backend: ${hint}`);
  if (!nk && tell && nativeKernelsUnavailableReason() !== "SIMCSE_NATIVE_KERNELS=off") {
    console.warn(`cpu backend: no compiled C kernels (${nativeKernelsUnavailableReason()}); using JS loops.`);
  }
  return result;
}

const AVX512_CORES = new Set(["SkylakeX", "Cooperlake", "SapphireRapids"]);

/**
 * Whether a /proc/cpuinfo flags line has the AVX-512 subsets OpenBLAS's SkylakeX kernels need
 * (F, BW, VL, DQ, CD).
 */
export function hasSkylakeXFlags(flags: string): boolean {
  const has = new Set(flags.split(/\s+/));
  return ["avx512f", "avx512bw", "avx512vl", "avx512dq", "avx512cd"].every((f) => has.has(f));
}

/**
 * One line of advice when OpenBLAS runs older kernels than the CPU supports: Debian's OpenBLAS 0.3.21
 * does not recognise recent AVX-512 CPUs (e.g. AMD Zen 4) and falls back to its Haswell (AVX2)
 * kernels. Only the user can choose otherwise, by setting `OPENBLAS_CORETYPE` before the process
 * starts (OpenBLAS reads it when the library loads); this toolkit never sets it. Null when there is
 * nothing to say.
 */
export function openblasCoreHint(
  info: BlasInfo,
  sys: { cpuFlags?: string; coretypeEnv?: string | null } = {},
): string | null {
  if (!info.corename || AVX512_CORES.has(info.corename)) return null;
  let coretype = sys.coretypeEnv;
  if (coretype === undefined) {
    try {
      coretype = Deno.env.get("OPENBLAS_CORETYPE") ?? null;
    } catch {
      return null;
    }
  }
  if (coretype) return null; // the user (or the environment) chose; this is their setting
  if (!hasSkylakeXFlags(sys.cpuFlags ?? cpuFlags())) return null;
  return `OpenBLAS uses its ${info.corename} kernels on this AVX-512 CPU (its build does not know the CPU); ` +
    "`export OPENBLAS_CORETYPE=SkylakeX` before starting runs its AVX-512 kernels " +
    "(`deno task bench --openblas-coretype SkylakeX` measures the difference).";
}

/** The acceleration in effect, or null when {@link accelerateCpuBackend} has not run. */
export function cpuAcceleration(): CpuAcceleration | null {
  return result;
}
