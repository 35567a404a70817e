/**
 * Every kernel the toolkit registers on the TF.js webgpu backend, registered from one place:
 * the fused dropout (`dropout.ts`) and the layer kernels (`layer_kernels.ts`: LayerNorm, GELU,
 * gelu_new, the attention softmax, with their gradients). `useBackend("webgpu")` calls it once the
 * backend is active. AdamW's WGSL kernel (`adamw.ts`) is a function, not a registered kernel.
 *
 * @example
 * ```ts
 * import { registerWebgpuKernels } from "./register.ts";
 * registerWebgpuKernels(); // after tf.setBackend("webgpu"); idempotent
 * ```
 * @module
 */
import { registerWebgpuDropout } from "./dropout.ts";
import { registerWebgpuLayerKernels } from "./layer_kernels.ts";

/** Register the toolkit's webgpu kernels (idempotent). */
export function registerWebgpuKernels(): void {
  registerWebgpuDropout();
  registerWebgpuLayerKernels();
}
