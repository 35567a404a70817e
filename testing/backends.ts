/**
 * The backends the PyTorch-fixture tests loop over: cpu and wasm everywhere, and webgpu where a
 * WebGPU adapter exists (on CPU-only machines Mesa's lavapipe, from `mesa-vulkan-drivers`; see
 * docs/GPU.md). Without an adapter the webgpu variants are registered as ignored and one line says why.
 *
 * The tests ask wgpu for Vulkan, Metal or DX12 adapters only (`DENO_WEBGPU_BACKEND`, unless it is set):
 * without a Vulkan driver wgpu falls back to OpenGL (Mesa's llvmpipe through EGL), and a parallel
 * test run on it now and then aborts at exit ("corrupted size vs. prev_size in fastbins": a test
 * thread exits while the main thread's `exit` runs Mesa's library destructors; docs/GPU.md).
 *
 * @example
 * ```ts
 * import { TEST_BACKENDS, skipBackend } from "./backends.ts";
 * for (const b of TEST_BACKENDS) Deno.test({ name: `x on ${b}`, ignore: skipBackend(b), fn: () => {} });
 * ```
 * @module
 */
import { ensureXdgRuntimeDir } from "../lib/kernels/backend.ts";

export type TestBackend = "cpu" | "wasm" | "webgpu";

export const TEST_BACKENDS: readonly TestBackend[] = ["cpu", "wasm", "webgpu"];

/** wgpu's backends the tests use by default: not OpenGL (see the module comment). */
const NATIVE_WEBGPU_BACKENDS = "vulkan,metal,dx12";

async function probeWebgpu(): Promise<string | null> {
  // Deno prints "XDG_RUNTIME_DIR is invalid" without one: the private folder `useBackend` sets (lib/kernels/xdg_runtime_dir.ts).
  ensureXdgRuntimeDir();
  // deno-lint-ignore no-explicit-any
  const gpu = (globalThis.navigator as any)?.gpu;
  if (!gpu) return "this Deno has no navigator.gpu";
  // Read by Deno when this isolate first asks for an adapter (process-wide, the same in every worker).
  if (!Deno.env.get("DENO_WEBGPU_BACKEND")) Deno.env.set("DENO_WEBGPU_BACKEND", NATIVE_WEBGPU_BACKENDS);
  try {
    const adapter = await gpu.requestAdapter();
    return adapter
      ? null
      : `no WebGPU adapter for DENO_WEBGPU_BACKEND=${Deno.env.get("DENO_WEBGPU_BACKEND")} ` +
        "(apt-get install mesa-vulkan-drivers libvulkan1 gives lavapipe)";
  } catch (e) {
    return `requesting a WebGPU adapter failed: ${(e as Error).message}`;
  }
}

/** Why webgpu tests are skipped here, or null when an adapter exists. */
export const WEBGPU_MISSING: string | null = Deno.env.get("SIMCSE_TEST_WEBGPU") === "0"
  ? "SIMCSE_TEST_WEBGPU=0"
  : await probeWebgpu();

let warned = false;

/** True when tests on `backend` must be skipped here (says why once per test file). */
export function skipBackend(backend: TestBackend): boolean {
  if (backend !== "webgpu" || WEBGPU_MISSING === null) return false;
  if (!warned) {
    console.warn(`webgpu tests skipped: ${WEBGPU_MISSING}`);
    warned = true;
  }
  return true;
}
