/**
 * Backend selection, done once at a program's entry point (`--backend auto|tensorflow|webgpu|wasm|cpu`).
 * `lib/` never picks a backend itself. `tensorflow` means `@tensorflow/tfjs-node-gpu` or
 * `@tensorflow/tfjs-node`, loaded dynamically only when the user has installed one; `auto` takes the
 * fastest that works here: tensorflow, then a real (non-fallback) WebGPU adapter, then wasm, then cpu.
 *
 * @example
 * ```ts
 * import { useBackend } from "./backend.ts";
 * const chosen = await useBackend("cpu");
 * console.log(chosen); // "cpu"
 * ```
 * @module
 */
import { tf } from "../runtime/tf.ts";
import "@tensorflow/tfjs-backend-wasm";
import { setWasmPaths } from "@tensorflow/tfjs-backend-wasm";
import { InputError } from "../runtime/errors.ts";
import { registerWasmKernels } from "./wasm_unsorted_segment_sum.ts";
import { accelerateCpuBackend } from "./cpu_accel.ts";
import { loadBlas } from "./cpu_blas.ts";
import { registerWebgpuKernels } from "./webgpu/register.ts";
import { requestWebgpuDevice } from "./webgpu/f16_device.ts";
import { ensureXdgRuntimeDir } from "./xdg_runtime_dir.ts";

export { ensureXdgRuntimeDir };

/** Every `--backend` value {@link useBackend} accepts, `auto` first (the module doc says what each is). */
export const BACKENDS = ["auto", "tensorflow", "webgpu", "wasm", "cpu"] as const;
/** One of {@link BACKENDS}. */
export type BackendName = typeof BACKENDS[number];

/** Parse a `--backend` value, failing with the list of valid names. */
export function parseBackend(name: string): BackendName {
  if ((BACKENDS as readonly string[]).includes(name)) return name as BackendName;
  throw new InputError(`unknown backend '${name}'; expected one of ${BACKENDS.join(", ")}`);
}

let wasmPathsSet = false;

async function tryWasm(): Promise<boolean> {
  if (!wasmPathsSet) {
    // The .wasm binaries sit beside the package's JS entry in node_modules.
    const entry = import.meta.resolve("@tensorflow/tfjs-backend-wasm");
    setWasmPaths(new URL("./", entry).href);
    wasmPathsSet = true;
  }
  try {
    const ok = await tf.setBackend("wasm");
    if (ok) registerWasmKernels();
    return ok;
  } catch {
    return false;
  }
}

async function tryTensorflow(): Promise<string | null> {
  // Non-literal specifiers: Deno must not try to fetch these when they are absent.
  for (const pkg of ["@tensorflow/tfjs-node-gpu", "@tensorflow/tfjs-node"]) {
    try {
      await import(pkg);
      if (await tf.setBackend("tensorflow")) return pkg;
    } catch {
      // not installed or its native binding is missing
    }
  }
  return null;
}

let webgpuRegistered = false;

/**
 * Replace TF.js's webgpu registration (same priority) by one whose device also requests `shader-f16`
 * where the adapter has it, for the fp16 WGSL kernels (`webgpu/f16_device.ts`, docs/GPU.md). Done once,
 * before the backend is first created.
 */
function registerWebgpuWithF16(
  Backend: new (device: GPUDevice, info?: GPUAdapterInfo) => tf.KernelBackend,
): void {
  if (webgpuRegistered || "webgpu" in tf.engine().registry) return;
  webgpuRegistered = true;
  try {
    tf.removeBackend("webgpu");
  } catch { /* TF.js registered none (no navigator.gpu at its import) */ }
  tf.registerBackend("webgpu", async () => {
    // deno-lint-ignore no-explicit-any
    const adapter = await (globalThis.navigator as any).gpu.requestAdapter({
      powerPreference: "high-performance",
    });
    const device = await requestWebgpuDevice(adapter);
    return new Backend(device, adapter.info);
  }, 3);
}

async function tryWebgpu(requireHardware: boolean): Promise<boolean> {
  ensureXdgRuntimeDir();
  // deno-lint-ignore no-explicit-any
  const gpu = (globalThis.navigator as any)?.gpu;
  if (!gpu) return false;
  try {
    const adapter = await gpu.requestAdapter();
    if (!adapter) return false;
    // A software adapter (llvmpipe) is slower than wasm: `auto` skips it.
    if (requireHardware && (adapter.isFallbackAdapter || adapter.info?.isFallbackAdapter)) return false;
    const webgpu = await import("@tensorflow/tfjs-backend-webgpu");
    registerWebgpuWithF16(webgpu.WebGPUBackend);
    if (!(await tf.setBackend("webgpu"))) return false;
    registerWebgpuKernels(); // the fused dropout and layer kernels as WGSL (webgpu/register.ts)
    return true;
  } catch {
    return false;
  }
}

/**
 * Activate a backend and return the name of the one in use. An explicitly requested backend that
 * cannot start is an error with a clear message; `auto` falls through to the next candidate.
 */
export async function useBackend(requested: BackendName = "auto"): Promise<string> {
  switch (requested) {
    case "cpu":
      await tf.setBackend("cpu");
      accelerateCpuBackend();
      break;
    case "wasm":
      if (!(await tryWasm())) throw new InputError("the wasm backend failed to initialise");
      break;
    case "tensorflow":
      if (!(await tryTensorflow())) {
        throw new InputError(
          "backend 'tensorflow' needs @tensorflow/tfjs-node-gpu or @tensorflow/tfjs-node, and neither is " +
            "installed (their install script downloads libtensorflow). Use --backend wasm or cpu instead.",
        );
      }
      break;
    case "webgpu":
      if (!(await tryWebgpu(false))) throw new InputError("no WebGPU adapter is available here");
      break;
    case "auto":
      if (await tryTensorflow()) break;
      if (await tryWebgpu(true)) break;
      // cpu + BLAS beats wasm (docs/CPU-PERF.md); without a BLAS library wasm is faster.
      if (Deno.env.get("SIMCSE_CPU_KERNELS") !== "stock" && loadBlas() && (await tf.setBackend("cpu"))) {
        accelerateCpuBackend();
        break;
      }
      if (await tryWasm()) break;
      await tf.setBackend("cpu");
      accelerateCpuBackend({ quiet: true });
      break;
    default: {
      const never: never = requested;
      throw new InputError(`unknown backend ${never}`);
    }
  }
  await tf.ready();
  return tf.getBackend();
}
