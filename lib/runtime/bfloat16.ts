/**
 * bfloat16 on plain arrays: round-to-nearest-even from float32 (quiet NaN, overflow to ±Inf), scalars
 * (`f32ToBf16Bits`, `bf16BitsToF32`, `bf16Round`), packing to 16-bit codes and back and in-place rounding.
 * The tensor side is `lib/ops/bf16.ts`; the kernels use these as their JS fallback.
 *
 * @module
 */
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
