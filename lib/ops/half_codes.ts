/**
 * Tensors of 16-bit codes (bf16 or binary16) packed two per int32 word, little-endian halves: the one
 * storage every half-precision op keeps what it saves in (`packBf16Tensor`, `packF16Tensor`, the ops of
 * `bf16_ops.ts`). On the cpu backend the words come from the buffer pool and the source is read in place.
 *
 * @module
 */
import { tf } from "../runtime/tf.ts";
import { allocInt32, packHalfFast, peekFloat32, peekInt32 } from "../kernels/mod.ts";

/** Pooled storage for n 16-bit codes in ceil(n/2) int32 words (an odd n's spare half is zero). */
export function halfCodeWords(n: number): Int32Array {
  const words = allocInt32(Math.ceil(n / 2));
  if (n % 2 === 1) words[words.length - 1] = 0;
  return words;
}

/** `t` rounded to `type` as an int32 tensor of packed codes (not a taped op). */
export function packHalfTensor(type: "bf16" | "f16", t: tf.Tensor): tf.Tensor1D {
  const src = peekFloat32(t) ?? t.dataSync() as Float32Array; // cpu: read in place, still poolable
  const words = halfCodeWords(src.length); // pooled on cpu only (`allocInt32`)
  packHalfFast(type, src, new Uint16Array(words.buffer, words.byteOffset, src.length));
  return tf.tensor1d(words, "int32");
}

/** An int32 tensor with room for `n` 16-bit codes, for {@link packHalfInto} to fill (cpu backend). */
export function emptyHalfCodes(n: number): tf.Tensor1D {
  return tf.tensor1d(halfCodeWords(n), "int32");
}

/** `t` rounded to `type` into the storage of `into` (a cpu-backend tensor from {@link emptyHalfCodes}). */
export function packHalfInto(type: "bf16" | "f16", t: tf.Tensor, into: tf.Tensor): void {
  const src = peekFloat32(t) ?? t.dataSync() as Float32Array;
  const words = peekInt32(into);
  if (!words || words.length !== Math.ceil(src.length / 2)) {
    throw new Error(`packHalfInto: no cpu storage for ${src.length} codes`);
  }
  packHalfFast(type, src, new Uint16Array(words.buffer, words.byteOffset, src.length));
}
