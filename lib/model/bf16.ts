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
import { tf } from "../tf.ts";

/** Largest finite bfloat16 value (0x7f7f). */
export const BF16_MAX = 3.3895313892515355e38;
/** Smallest positive normal bfloat16 value, 2^-126 (as float32). */
export const BF16_MIN_NORMAL = 2 ** -126;
/** Smallest positive subnormal bfloat16 value, 2^-133. */
export const BF16_MIN_SUBNORMAL = 2 ** -133;

const scratchF32 = new Float32Array(1);
const scratchU32 = new Uint32Array(scratchF32.buffer);

/** bfloat16 code of float32 bit pattern `u` (round to nearest, ties to even). */
function bitsToBf16(u: number): number {
  if ((u & 0x7f800000) === 0x7f800000 && (u & 0x7fffff) !== 0) return (u >>> 16) | 0x40; // NaN: quiet, keep sign
  // Adding 0x7fff plus the lowest kept bit carries into the kept half exactly when the dropped half is
  // above the tie, or at the tie with an odd kept half; a carry out of the mantissa bumps the exponent
  // (0x7f7f + 1 = 0x7f80 is +Inf: overflow). u + 0x8000 < 2^32 for every non-NaN pattern.
  return ((u + 0x7fff + ((u >>> 16) & 1)) >>> 16) & 0xffff;
}

/** The bfloat16 code (0..0xffff) nearest to `x` taken as float32 (`Math.fround(x)` first). */
export function f32ToBf16Bits(x: number): number {
  scratchF32[0] = x;
  return bitsToBf16(scratchU32[0]);
}

/** The value of bfloat16 code `h` (exact as a float32 / number). */
export function bf16BitsToF32(h: number): number {
  scratchU32[0] = (h & 0xffff) << 16;
  return scratchF32[0];
}

/** `x` rounded to the nearest bfloat16 value (through float32), as a number. */
export function bf16Round(x: number): number {
  return bf16BitsToF32(f32ToBf16Bits(x));
}

function u32View(src: Float32Array): Uint32Array {
  return new Uint32Array(src.buffer, src.byteOffset, src.length);
}

/** bfloat16 codes of every element of `src` (into `out` when given; it may be longer). */
export function packBf16(src: Float32Array, out: Uint16Array = new Uint16Array(src.length)): Uint16Array {
  const u = u32View(src);
  for (let i = 0; i < u.length; i++) out[i] = bitsToBf16(u[i]);
  return out;
}

/** float32 values of `n` bfloat16 codes (default all of `bits`). */
export function unpackBf16(
  bits: Uint16Array,
  n = bits.length,
  out: Float32Array = new Float32Array(n),
): Float32Array {
  const o = u32View(out);
  for (let i = 0; i < n; i++) o[i] = bits[i] << 16;
  return out;
}

/** Every element of `src` rounded to bfloat16, as float32 (a new array unless `out` is given; `out` may be `src`). */
export function roundBf16Array(
  src: Float32Array,
  out: Float32Array = new Float32Array(src.length),
): Float32Array {
  const u = u32View(src), o = u32View(out);
  for (let i = 0; i < u.length; i++) o[i] = bitsToBf16(u[i]) << 16;
  return out;
}

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
  const src = t.dataSync() as Float32Array;
  // The cpu backend hands out its own storage; the others a fresh copy, which can be rounded in place.
  const out = tf.getBackend() === "cpu" ? new Float32Array(src.length) : src;
  return markBf16(tf.tensor(roundBf16Array(src, out), t.shape, "float32") as T);
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
  const src = t.dataSync() as Float32Array;
  const words = Math.ceil(src.length / 2);
  const bits = packBf16(src, new Uint16Array(words * 2));
  return tf.tensor1d(new Int32Array(bits.buffer), "int32");
}

/** The 16-bit codes inside a tensor made by `packBf16Tensor` (a view of its data; `n` codes are valid). */
export function packedBf16Bits(packed: tf.Tensor): Uint16Array {
  const words = packed.dataSync() as Int32Array;
  return new Uint16Array(words.buffer, words.byteOffset, words.length * 2);
}

/** Inverse of `packBf16Tensor`: the float32 tensor of bfloat16 values, with `shape`. Not a taped op. */
export function unpackBf16Tensor(packed: tf.Tensor, shape: number[]): tf.Tensor {
  const n = shape.reduce((a, b) => a * b, 1);
  const bits = packedBf16Bits(packed);
  if (bits.length !== 2 * Math.ceil(n / 2)) {
    throw new Error(`unpackBf16Tensor: ${bits.length / 2} packed words cannot hold shape [${shape}]`);
  }
  return markBf16(tf.tensor(unpackBf16(bits, n), shape, "float32"));
}
