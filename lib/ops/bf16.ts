/**
 * bfloat16 ("bf16", the upper half of an IEEE float32: 8 exponent bits, 7 mantissa bits) emulation for
 * TF.js, which has no bfloat16 dtype; the counterpart of `fp16.ts` for the `bf16` precision
 * (docs/PRECISION.md).
 *
 * - Scalars: `f32ToBf16Bits(x)` rounds a float32 value to the nearest bfloat16 (ties to even, overflow
 *   to ±Inf, float32 subnormals kept as bf16 subnormals, NaN stays a quiet NaN with its sign) and returns
 *   its 16 bits; `bf16BitsToF32(h)` decodes (exact: the bits become the top half of a float32).
 *   Bit-exact with PyTorch's `tensor.to(torch.bfloat16)` (`testdata/bf16/`, checked in `bf16_test.ts`).
 * - Arrays: `packBf16` (float32 -> 16-bit codes), `unpackBf16` (codes -> float32, a shift),
 *   `roundBf16Array` (float32 -> float32 values that are exactly bfloat16).
 * - Tensors: `roundBf16(t)` gives a float32 tensor holding bf16 values; `packBf16Tensor(t)` keeps a
 *   tensor at 16 bits per element as an int32 tensor of packed pairs and `unpackBf16Tensor` restores it.
 *   These run on the CPU side (one read-back, one JS pass, one upload) and are not taped ops: use them
 *   inside custom-gradient ops (`bf16_ops.ts`).
 *
 * Why bf16 needs no loss scaling: its exponent range is float32's (largest finite 3.39e38, smallest
 * normal 2^-126), so gradients that fit in float32 fit in bf16; only precision (8 significant bits) is lost.
 *
 * @example
 * ```ts
 * import { bf16BitsToF32, f32ToBf16Bits, roundBf16Array } from "./bf16.ts";
 * f32ToBf16Bits(1); // 0x3f80
 * f32ToBf16Bits(1 + 2 ** -8); // 0x3f80: a tie, to even
 * bf16BitsToF32(0x7f7f); // 3.3895313892515355e38, the largest finite bf16
 * roundBf16Array(new Float32Array([0.1])); // Float32Array [0.10009765625]
 * ```
 * @module
 */
import { tf } from "../runtime/tf.ts";
import { packHalfTensor } from "./half_codes.ts";
import { allocFloat32, peekFloat32, peekInt32, roundHalfFast, unpackHalfFast } from "../kernels/mod.ts";
import {
  BF16_MAX,
  BF16_MIN_NORMAL,
  BF16_MIN_SUBNORMAL,
  bf16BitsToF32,
  bf16Round,
  f32ToBf16Bits,
  packBf16,
  roundBf16Array,
  unpackBf16,
} from "../runtime/bfloat16.ts";

export {
  BF16_MAX,
  BF16_MIN_NORMAL,
  BF16_MIN_SUBNORMAL,
  bf16BitsToF32,
  bf16Round,
  f32ToBf16Bits,
  packBf16,
  roundBf16Array,
  unpackBf16,
};

/** Tensors known to hold bfloat16 values only (tensors are immutable, so this stays true). */
const bf16Valued = new WeakSet<tf.Tensor>();

/** Record that every value of `t` is exactly a bfloat16 value; returns `t`. */
export function markBf16<T extends tf.Tensor>(t: T): T {
  bf16Valued.add(t);
  return t;
}

/** True when `t` was produced by `roundBf16`/`unpackBf16Tensor` or marked by a bf16 op. */
export function isBf16Valued(t: tf.Tensor): boolean {
  return bf16Valued.has(t);
}

/**
 * A float32 tensor whose values are those of `t` rounded to bfloat16. Not a taped op (no gradient
 * flows through it): call it inside custom-gradient forward/backward functions.
 */
export function roundBf16<T extends tf.Tensor>(t: T): T {
  const own = peekFloat32(t); // the cpu backend's storage, read without taking it out of the pool's reach
  const src = own ?? t.dataSync() as Float32Array;
  // The other backends hand out a fresh copy, which can be rounded in place.
  const out = own || tf.getBackend() === "cpu" ? new Float32Array(src.length) : src;
  return markBf16(tf.tensor(roundHalfFast("bf16", src, out), t.shape, "float32") as T);
}

/** `t` itself when it is known to hold bfloat16 values (no pass over the data), else `roundBf16(t)`. */
export function asBf16<T extends tf.Tensor>(t: T): T {
  return isBf16Valued(t) ? t : roundBf16(t);
}

/**
 * `t` rounded to bfloat16 and kept at 16 bits per element: an int32 tensor of ceil(n/2) packed pairs
 * (little-endian halves). Not a taped op.
 */
export function packBf16Tensor(t: tf.Tensor): tf.Tensor1D {
  return packHalfTensor("bf16", t);
}

/** The 16-bit codes inside a tensor made by `packBf16Tensor` (a view of its data; `n` codes are valid). */
export function packedBf16Bits(packed: tf.Tensor): Uint16Array {
  const words = peekInt32(packed) ?? packed.dataSync() as Int32Array; // the cpu backend's own array: no copy
  return new Uint16Array(words.buffer, words.byteOffset, words.length * 2);
}

/** Inverse of `packBf16Tensor`: the float32 tensor of bfloat16 values, with `shape`. Not a taped op. */
export function unpackBf16Tensor(packed: tf.Tensor, shape: number[]): tf.Tensor {
  const n = shape.reduce((a, b) => a * b, 1);
  const bits = packedBf16Bits(packed);
  if (bits.length !== 2 * Math.ceil(n / 2)) {
    throw new Error(`unpackBf16Tensor: ${bits.length / 2} packed words cannot hold shape [${shape}]`);
  }
  return markBf16(tf.tensor(unpackHalfFast("bf16", bits, n, allocFloat32(n)), shape, "float32"));
}
