/**
 * What the half-precision ops keep of their inputs for the backward pass: one packed 16-bit copy per
 * input tensor and format, shared by every op that reads the same tensor in one forward pass (Q, K and
 * V of a layer read one hidden state), and made only while a gradient tape is recording.
 *
 * A copy is made outside any custom op, so it lives in the caller's scope; each op saves a clone of it
 * (same buffer) for its backward pass and disposes that clone once its gradient has run
 * (`grad_release.ts`). The caller's handle would otherwise keep the buffer until the whole backward
 * pass ends: {@link releaseSavedCopies} drops it as soon as no later op of the forward pass reads the
 * tensor (the models' `release()` does, docs/PRECISION.md "What is saved for the backward pass").
 *
 * @module
 */
import { tf } from "../runtime/tf.ts";
import { packF16Tensor } from "./fp16.ts";

/** Copies made of op inputs for the forward pass being recorded, by tensor and kind. */
const copies = new WeakMap<tf.Tensor, Map<string, tf.Tensor>>();

/** The copy of `x` of this kind made by `make` once per tensor (shared while it is alive). */
export function sharedCopy(x: tf.Tensor, kind: string, make: (x: tf.Tensor) => tf.Tensor): tf.Tensor {
  const hit = copies.get(x)?.get(kind);
  if (hit && !hit.isDisposed) return hit;
  const c = make(x);
  addSavedCopy(x, kind, c);
  return c;
}

/** Record `copy` as what the backward pass keeps in place of `x` (disposed by {@link releaseSavedCopies}). */
export function addSavedCopy(x: tf.Tensor, kind: string, copy: tf.Tensor): void {
  let m = copies.get(x);
  if (!m) copies.set(x, m = new Map());
  m.get(kind)?.dispose();
  m.set(kind, copy);
}

/** The copy of `x` of this kind, if one was made and is alive. */
export function savedCopy(x: tf.Tensor, kind: string): tf.Tensor | undefined {
  const c = copies.get(x)?.get(kind);
  return c && !c.isDisposed ? c : undefined;
}

/**
 * Dispose the caller's handles on the copies made of `x`: call once no later op of the forward pass
 * reads `x`. The ops that saved a copy keep their own clones.
 */
export function releaseSavedCopies(x: tf.Tensor): void {
  const m = copies.get(x);
  if (!m) return;
  for (const c of m.values()) if (!c.isDisposed) c.dispose();
  copies.delete(x);
}

/**
 * A 16-bit packed copy of `x`, made once per tensor while a gradient tape is recording. It is created
 * outside any custom op, so it lives in the caller's scope for the rest of the forward pass (where
 * other ops reading `x` reuse it); each op saves a clone (same buffer) for its backward pass.
 */
export function sharedPackedF16(x: tf.Tensor): tf.Tensor {
  return sharedCopy(x, "f16", packF16Tensor);
}

/** Whether a gradient tape is recording (outside of any kernel). */
export function recordingGradients(): boolean {
  return tf.engine().isTapeOn();
}
