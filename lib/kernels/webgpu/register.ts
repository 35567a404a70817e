/**
 * Every kernel the toolkit registers on the TF.js webgpu backend, registered from one place:
 * the fused dropout (`dropout.ts`), the layer kernels (`layer_kernels.ts`: LayerNorm, GELU,
 * gelu_new, the attention softmax, with their gradients) and `UnsortedSegmentSum`, the embeddings'
 * gradient, without atomics (`segment_sum.ts`, in place of TF.js's). `useBackend("webgpu")` calls it once the
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
import { registerWebgpuSegmentSum } from "./segment_sum.ts";

/** Register the toolkit's webgpu kernels (idempotent). */
export function registerWebgpuKernels(): void {
  registerWebgpuDropout();
  registerWebgpuLayerKernels();
  registerWebgpuSegmentSum();
}
