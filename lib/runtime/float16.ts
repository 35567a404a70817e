/**
 * IEEE 754 binary16 ("fp16", "half") on plain arrays, written bit by bit (no `Float16Array`, so the tests
 * can check them against the native one): scalars (`f32ToF16Bits`, `f16BitsToF32`, `f16Round`), packing to
 * 16-bit codes and back (`packF16`, `unpackF16`) and in-place rounding (`roundF16Array`). The tensor side is
 * `lib/ops/fp16.ts`; the kernels use these as their JS fallback.
 *
 * @module
 */
/** Largest finite binary16 value. */
export const F16_MAX = 65504;
/** Smallest positive normal binary16 value. */
export const F16_MIN_NORMAL = 2 ** -14;
/** Smallest positive subnormal binary16 value. */
export const F16_MIN_SUBNORMAL = 2 ** -24;

const scratchF32 = new Float32Array(1);
const scratchU32 = new Uint32Array(scratchF32.buffer);

/** binary16 code of float32 bit pattern `b` (round to nearest, ties to even). */
function bitsToHalf(b: number): number {
  const sign = (b >>> 16) & 0x8000;
  const e = (b >>> 23) & 0xff;
  const m = b & 0x7fffff;
  if (e === 0xff) return sign | 0x7c00 | (m !== 0 ? 0x200 | (m >>> 13) : 0); // Inf, or a quiet NaN
  if (e >= 143) return sign | 0x7c00; // |x| >= 2^16: overflow
  if (e >= 113) {
    // Normal half: 10 mantissa bits kept, 13 dropped; a carry out of the mantissa bumps the exponent
    // (and 0x7bff + 1 = 0x7c00 is +Inf, which is how [65520, 65536) overflows).
    const v = ((e - 112) << 10) | (m >>> 13);
    const rest = m & 0x1fff;
    return sign | (rest > 0x1000 || (rest === 0x1000 && (v & 1) === 1) ? v + 1 : v);
  }
  if (e < 102) return sign; // |x| < 2^-25: below half the smallest subnormal (float32 subnormals too)
  // Subnormal half: value / 2^-24 = (m | 2^23) * 2^(e - 126), a right shift by 14..24.
  const mm = m | 0x800000;
  const shift = 126 - e;
  const v = mm >>> shift;
  const rest = mm & ((1 << shift) - 1);
  const half = 1 << (shift - 1);
  return sign | (rest > half || (rest === half && (v & 1) === 1) ? v + 1 : v);
}

/** The binary16 code (0..0xffff) nearest to `x` taken as float32 (`Math.fround(x)` first). */
export function f32ToF16Bits(x: number): number {
  scratchF32[0] = x;
  return bitsToHalf(scratchU32[0]);
}

/** The value of binary16 code `h` (exact as a float32 / number). */
export function f16BitsToF32(h: number): number {
  const sign = (h & 0x8000) !== 0 ? -1 : 1;
  const e = (h >>> 10) & 0x1f;
  const m = h & 0x3ff;
  if (e === 0) return sign * m * F16_MIN_SUBNORMAL;
  if (e === 31) return m !== 0 ? NaN : sign * Infinity;
  return sign * (1024 + m) * 2 ** (e - 25);
}

/** `x` rounded to the nearest binary16 value (through float32), as a number. */
export function f16Round(x: number): number {
  return f16BitsToF32(f32ToF16Bits(x));
}

let decodeTable: Float32Array | undefined;

/** float32 value of every binary16 code, built once from `f16BitsToF32`. */
function table(): Float32Array {
  if (!decodeTable) {
    decodeTable = new Float32Array(65536);
    for (let h = 0; h < 65536; h++) decodeTable[h] = f16BitsToF32(h);
  }
  return decodeTable;
}

function u32View(src: Float32Array): Uint32Array {
  return new Uint32Array(src.buffer, src.byteOffset, src.length);
}

/** binary16 codes of every element of `src` (into `out` when given; it may be longer). */
export function packF16(src: Float32Array, out: Uint16Array = new Uint16Array(src.length)): Uint16Array {
  const u = u32View(src);
  for (let i = 0; i < u.length; i++) out[i] = bitsToHalf(u[i]);
  return out;
}

/** float32 values of `n` binary16 codes (default all of `bits`). */
export function unpackF16(
  bits: Uint16Array,
  n = bits.length,
  out: Float32Array = new Float32Array(n),
): Float32Array {
  const t = table();
  for (let i = 0; i < n; i++) out[i] = t[bits[i]];
  return out;
}

/**
 * Every element of `src` rounded to binary16, as float32 (a new array unless `out` is given; `out` may
 * be `src`). Normal range: Veltkamp's split, c = x·(2^13 + 1) and then c - (c - x), each step rounded
 * to float32, keeps the top 11 significant bits of x with ties to even (checked exhaustively on whole
 * binades against `Math.f16round`). Subnormal range: |x| + 0.75 lies in [0.5, 1), whose float32 spacing is the
 * binary16 subnormal step 2^-24, so the addition rounds to that grid.
 */
export function roundF16Array(
  src: Float32Array,
  out: Float32Array = new Float32Array(src.length),
): Float32Array {
  const fr = Math.fround;
  for (let i = 0; i < src.length; i++) {
    const x = src[i];
    const a = Math.abs(x);
    if (a >= F16_MIN_NORMAL && a < F16_MAX) {
      const c = fr(x * 8193);
      out[i] = fr(c - fr(c - x));
    } else if (a < F16_MIN_NORMAL) {
      const r = fr(fr(a + 0.75) - 0.75);
      out[i] = x < 0 || Object.is(x, -0) ? -r : r;
    } else if (a < 65520) {
      out[i] = x < 0 ? -F16_MAX : F16_MAX; // [65504, 65520) rounds down to the largest finite half
    } else {
      out[i] = x * Infinity; // overflow to ±Inf; NaN stays NaN
    }
  }
  return out;
}
