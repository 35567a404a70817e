/**
 * Per-call profile of the toolkit's native calls on the `cpu` backend: `startFfiProfile()` wraps every
 * function of the C kernels (`lib/kernels/native_kernels.ts`), OpenBLAS's `sgemm` and oneDNN's shim
 * symbols (`lib/kernels/onednn.ts`) with a timer that reads the wall clock and the process's CPU time
 * (all threads: OpenMP's and OpenBLAS's too) around each call; `stopFfiProfile()` restores them and returns
 * time, CPU time and call count per function. Calls made from inside a timed call are counted in it only.
 * A benchmark aid (`deno task bench --profile`), not used by the toolkit: TF.js kernels and the half
 * precisions' custom ops both reach these functions, so this shows where a step's native time goes whatever
 * called it (docs/CPU-PERF.md, "Nineteenth round", was measured this way).
 *
 * @example
 * ```ts
 * import { startFfiProfile, stopFfiProfile } from "./ffi_profile.ts";
 * startFfiProfile();
 * // ... run a training step ...
 * console.table(stopFfiProfile().slice(0, 10));
 * ```
 * @module
 */
import process from "node:process";
import { loadBlas, loadNativeKernels, oneDnnSymbols } from "../lib/kernels/mod.ts";

/** Time spent in one native function. */
export interface FfiTime {
  /** "C simcse_…" name of the kernels' wrapper, "sgemm", or "oneDNN <symbol>". */
  fn: string;
  ms: number;
  /** CPU time of the whole process during the calls (all threads). */
  cpuMs: number;
  calls: number;
}

const restore: (() => void)[] = [];
const times = new Map<string, FfiTime>();
let depth = 0;

function cpuMs(): number {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1000;
}

// deno-lint-ignore no-explicit-any
type AnyFn = (...args: any[]) => any;

/** Wrap `obj[key]` (a function) with the timer, remembering how to put it back. */
function wrap(obj: Record<string, unknown>, key: string, name: string): void {
  const inner = obj[key] as AnyFn;
  obj[key] = (...args: unknown[]) => {
    if (depth > 0) return inner(...args);
    depth++;
    const t0 = performance.now(), c0 = cpuMs();
    try {
      return inner(...args);
    } finally {
      depth--;
      let e = times.get(name);
      if (!e) times.set(name, e = { fn: name, ms: 0, cpuMs: 0, calls: 0 });
      e.ms += performance.now() - t0;
      e.cpuMs += cpuMs() - c0;
      e.calls++;
    }
  };
  restore.push(() => obj[key] = inner);
}

/** Wrap every native function that is loaded (idempotent); returns how many were wrapped. */
export function startFfiProfile(): number {
  if (restore.length > 0) return restore.length;
  times.clear();
  const kernels = loadNativeKernels() as unknown as Record<string, unknown> | null;
  for (const [key, v] of Object.entries(kernels ?? {})) {
    if (typeof v === "function") wrap(kernels!, key, `C ${key}`);
  }
  const blas = loadBlas() as unknown as Record<string, unknown> | null;
  if (blas) wrap(blas, "sgemm", "sgemm");
  const dnn = oneDnnSymbols() as unknown as Record<string, unknown> | null;
  for (const [key, v] of Object.entries(dnn ?? {})) {
    if (typeof v === "function") wrap(dnn!, key, `oneDNN ${key}`);
  }
  return restore.length;
}

/** Restore the functions; returns the profile, slowest first. */
export function stopFfiProfile(): FfiTime[] {
  for (const f of restore.splice(0)) f();
  return [...times.values()].sort((a, b) => b.ms - a.ms);
}
