/**
 * What the half-precision ops keep of their inputs for the backward pass: one packed 16-bit copy per
 * input tensor, shared by every op that reads the same tensor in one forward pass (Q, K and V of a
 * layer read one hidden state), and made only while a gradient tape is recording.
 *
 * @module
 */
import { tf } from "../runtime/tf.ts";
import { packF16Tensor } from "./fp16.ts";

/** Packed fp16 copies of op inputs for the forward pass being recorded, shared between ops. */
const packedInputs = new WeakMap<tf.Tensor, tf.Tensor>();

/**
 * A 16-bit packed copy of `x`, made once per tensor while a gradient tape is recording. It is created
 * outside any custom op, so it lives in the caller's scope for the rest of the forward pass (where
 * other ops reading `x` reuse it); each op saves a clone (same buffer) for its backward pass.
 */
export function sharedPackedF16(x: tf.Tensor): tf.Tensor {
  const hit = packedInputs.get(x);
  if (hit && !hit.isDisposed) return hit;
  const p = packF16Tensor(x);
  packedInputs.set(x, p);
  return p;
}

/** Whether a gradient tape is recording (outside of any kernel). */
export function recordingGradients(): boolean {
  return tf.engine().isTapeOn();
}
