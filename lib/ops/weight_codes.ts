/**
 * 16-bit codes of the weights for evaluation (`encode`, `eval`, the STS-B dev passes of training): made
 * once per weight and reused by every forward pass until the weights change, as PyTorch's autocast keeps
 * the casts of its weights for the length of an autocast region.
 *
 * A bf16 matmul given a float32 weight rounds it to bf16 at every call (`onednn_shim.c`): for BERT-base,
 * 85 M weights per forward pass, about 10% of a bf16 encode (a 64-sentence batch: 639 → 574 ms with the
 * codes kept). The codes cost 2 bytes per weight while they are kept; they come from the cpu pool, and go
 * back to it:
 *
 * - when a gradient tape records a half-precision op (a training step: its forward pass rounds each
 *   weight once anyway, and its memory peak has no room for them);
 * - when any tensor's storage has been handed out for writing in place since they were made (an optimizer
 *   step, `storageWriteEpoch`), so that codes never outlive the values they were made from;
 * - when their weight has been garbage-collected (checked as new codes are made).
 *
 * Only `tf.Variable`s (model parameters) on the cpu backend are kept, and only where the matmuls take
 * 16-bit operands as they are (not binary16 on OpenBLAS, which widens them at every call anyway).
 *
 * @example
 * ```ts
 * import { tf } from "../runtime/tf.ts";
 * import { evalWeightCodes } from "./weight_codes.ts";
 * const w = tf.variable(tf.ones([4, 4]));
 * evalWeightCodes("bf16", w); // the codes of w, kept; null where they are not (another backend, a tape)
 * ```
 * @module
 */
import { tf } from "../runtime/tf.ts";
import {
  gemmWidensOperands,
  packHalfFast,
  peekFloat32,
  releaseFloat32,
  storageWriteEpoch,
} from "../kernels/mod.ts";
import { halfCodeWords } from "./half_codes.ts";
import { recordingGradients } from "./saved_inputs.ts";

interface Entry {
  type: "bf16" | "f16";
  codes: Uint16Array;
  words: Int32Array;
  values: WeakRef<Float32Array>;
}

let byValues = new WeakMap<Float32Array, Entry>();
let entries: Entry[] = [];
let epoch = -1;

/**
 * The codes of weight `w` in `type` for a forward pass without a tape, kept for the next ones; null where
 * none are kept (see the module doc), and the caller lets the matmul round `w` itself.
 */
export function evalWeightCodes(type: "bf16" | "f16", w: tf.Tensor): Uint16Array | null {
  if (recordingGradients()) {
    if (entries.length > 0) releaseWeightCodes();
    return null;
  }
  if (!(w instanceof tf.Variable) || gemmWidensOperands(type)) return null;
  const values = peekFloat32(w);
  if (!values) return null;
  if (epoch !== storageWriteEpoch()) {
    releaseWeightCodes();
    epoch = storageWriteEpoch();
  }
  const hit = byValues.get(values);
  if (hit && hit.type === type) return hit.codes;
  for (const e of entries) if (!e.values.deref()) releaseFloat32(e.words);
  entries = entries.filter((e) => e.values.deref());
  const words = halfCodeWords(values.length);
  const codes = new Uint16Array(words.buffer, words.byteOffset, values.length);
  packHalfFast(type, values, codes);
  const e: Entry = { type, codes, words, values: new WeakRef(values) };
  if (hit) releaseFloat32(hit.words); // codes of the other format
  entries = entries.filter((x) => x !== hit);
  byValues.set(values, e);
  entries.push(e);
  return codes;
}

/** Give every kept code array back to the pool. */
export function releaseWeightCodes(): void {
  for (const e of entries) releaseFloat32(e.words);
  entries = [];
  byValues = new WeakMap();
}

/** Bytes of codes kept now (tests, memory reports). */
export function weightCodesBytes(): number {
  return entries.reduce((t, e) => t + e.words.byteLength, 0);
}
