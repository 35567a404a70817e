/**
 * Tensors of 16-bit codes (bf16 or binary16) packed two per int32 word, little-endian halves: the one
 * storage every half-precision op keeps what it saves in (`packBf16Tensor`, `packF16Tensor`, the ops of
 * `bf16_ops.ts`). On the cpu backend the words come from the buffer pool and the source is read in place.
 *
 * @module
 */
import { tf } from "../runtime/tf.ts";
import { allocInt32, packHalfFast, peekFloat32 } from "../kernels/mod.ts";

/** Pooled storage for n 16-bit codes in ceil(n/2) int32 words (an odd n's spare half is zero). */
export function halfCodeWords(n: number): Int32Array {
  const words = allocInt32(Math.ceil(n / 2));
  if (n % 2 === 1) words[words.length - 1] = 0;
  return words;
}

/** `t` rounded to `type` as an int32 tensor of packed codes (not a taped op). */
export function packHalfTensor(type: "bf16" | "f16", t: tf.Tensor): tf.Tensor1D {
  const src = peekFloat32(t) ?? t.dataSync() as Float32Array; // cpu: read in place, still poolable
  const words = halfCodeWords(src.length);
  packHalfFast(type, src, new Uint16Array(words.buffer, words.byteOffset, src.length));
  return tf.tensor1d(words, "int32");
}
