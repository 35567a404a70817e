/**
 * Per-kernel wall-clock profile for the TF.js `cpu` backend: `startKernelProfile()` wraps every
 * registered cpu kernel with a timer (nested kernel calls are counted in their caller only);
 * `stopKernelProfile()` restores the kernels and returns time and call count per kernel name.
 * A benchmark aid, not used by the toolkit.
 *
 * @example
 * ```ts
 * import { startKernelProfile, stopKernelProfile } from "./kernel_profile.ts";
 * startKernelProfile();
 * // ... run a training step ...
 * console.table(stopKernelProfile().slice(0, 10));
 * ```
 * @module
 */
import { tf } from "../lib/runtime/tf.ts";

/** Time spent in one kernel. */
export interface KernelTime {
  kernel: string;
  ms: number;
  calls: number;
}

let saved: tf.KernelConfig[] = [];
const times = new Map<string, KernelTime>();
let depth = 0;

/** Wrap every cpu kernel with a timer (idempotent). */
export function startKernelProfile(): void {
  if (saved.length > 0) return;
  times.clear();
  saved = tf.getKernelsForBackend("cpu");
  for (const cfg of saved) {
    const inner = cfg.kernelFunc;
    const name = cfg.kernelName;
    tf.unregisterKernel(name, "cpu");
    tf.registerKernel({
      ...cfg,
      kernelFunc: (args) => {
        if (depth > 0) return inner(args);
        depth++;
        const t0 = performance.now();
        try {
          return inner(args);
        } finally {
          depth--;
          let e = times.get(name);
          if (!e) times.set(name, e = { kernel: name, ms: 0, calls: 0 });
          e.ms += performance.now() - t0;
          e.calls++;
        }
      },
    });
  }
}

/** Restore the kernels; returns the profile, slowest first. */
export function stopKernelProfile(): KernelTime[] {
  for (const cfg of saved) {
    tf.unregisterKernel(cfg.kernelName, "cpu");
    tf.registerKernel(cfg);
  }
  saved = [];
  return [...times.values()].sort((a, b) => b.ms - a.ms);
}
