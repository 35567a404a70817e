/**
 * IEEE 754 binary16 ("fp16", "half") emulation for TF.js, which has no float16 dtype (docs/SIMCSE.md §d.1).
 *
 * - Scalars: `f32ToF16Bits(x)` rounds a float32 value to the nearest binary16 (ties to even, overflow to
 *   ±Inf, subnormals down to 2^-24, NaN stays NaN) and returns its 16 bits; `f16BitsToF32(h)` decodes.
 *   Both are written bit by bit (no `Float16Array`), so the tests can check them against the native one.
 * - Arrays: `packF16` (float32 -> 16-bit codes), `unpackF16` (codes -> float32 through a 64 Ki-entry
 *   table), `roundF16Array` (float32 -> float32 values that are exactly binary16; the hot path, done in
 *   float32 arithmetic without bit fiddling: a Veltkamp split for normals, a fixed-point add for
 *   subnormals).
 * - Tensors: `roundF16(t)` gives a float32 tensor holding binary16 values ("fp16 stored in fp32", the
 *   arithmetic emulation); `packF16Tensor(t)` keeps a tensor at 16 bits per element as an int32 tensor
 *   of packed pairs, and `unpackF16Tensor` restores it — how the fp16 ops keep what they save for the
 *   backward pass at half the memory. These run on the CPU side (one read-back, one JS pass, one
 *   upload), and on webgpu as WGSL kernels with the same bit-exact rounding (`kernels/webgpu/fp16_round.ts`):
 *   they are plain tensor creations, not taped ops, so use them inside custom-gradient ops.
 *
 * @example
 * ```ts
 * import { f16BitsToF32, f32ToF16Bits, roundF16Array } from "./fp16.ts";
 * f32ToF16Bits(65504); // 0x7bff, the largest finite half
 * f32ToF16Bits(65520); // 0x7c00 = +Inf (the tie rounds to even, past the top)
 * f16BitsToF32(0x0001); // 2^-24, the smallest subnormal
 * roundF16Array(new Float32Array([0.1])); // Float32Array [0.0999755859375]
 * ```
 * @module
 */
import { tf } from "../tf.ts";
import { webgpuPackF16, webgpuRoundF16, webgpuUnpackF16 } from "../kernels/webgpu/fp16_round.ts";

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

/** Tensors known to hold binary16 values only (tensors are immutable, so this stays true). */
const halfValued = new WeakSet<tf.Tensor>();

/** Record that every value of `t` is exactly a binary16 value; returns `t`. */
export function markF16<T extends tf.Tensor>(t: T): T {
  halfValued.add(t);
  return t;
}

/** True when `t` was produced by `roundF16`/`unpackF16Tensor` or marked by an fp16 op. */
export function isF16Valued(t: tf.Tensor): boolean {
  return halfValued.has(t);
}

/**
 * A float32 tensor whose values are those of `t` rounded to binary16. Not a taped op (no gradient
 * flows through it): call it inside custom-gradient forward/backward functions.
 */
export function roundF16<T extends tf.Tensor>(t: T): T {
  if (tf.getBackend() === "webgpu") return markF16(webgpuRoundF16(t)); // a WGSL kernel, no read-back
  const src = t.dataSync() as Float32Array;
  // The cpu backend hands out its own storage; the others a fresh copy, which can be rounded in place.
  const out = tf.getBackend() === "cpu" ? new Float32Array(src.length) : src;
  return markF16(tf.tensor(roundF16Array(src, out), t.shape, "float32") as T);
}

/** `t` itself when it is known to hold binary16 values (no pass over the data), else `roundF16(t)`. */
export function asF16<T extends tf.Tensor>(t: T): T {
  return isF16Valued(t) ? t : roundF16(t);
}

/**
 * `t` rounded to binary16 and kept at 16 bits per element: an int32 tensor of ceil(n/2) packed pairs
 * (little-endian halves). Not a taped op.
 */
export function packF16Tensor(t: tf.Tensor): tf.Tensor1D {
  if (tf.getBackend() === "webgpu") return webgpuPackF16(t);
  const src = t.dataSync() as Float32Array;
  const words = Math.ceil(src.length / 2);
  const bits = packF16(src, new Uint16Array(words * 2));
  return tf.tensor1d(new Int32Array(bits.buffer), "int32");
}

/** Inverse of `packF16Tensor`: the float32 tensor of binary16 values, with `shape`. Not a taped op. */
export function unpackF16Tensor(packed: tf.Tensor, shape: number[]): tf.Tensor {
  if (tf.getBackend() === "webgpu") return markF16(webgpuUnpackF16(packed, shape));
  const words = packed.dataSync() as Int32Array;
  const n = shape.reduce((a, b) => a * b, 1);
  if (words.length !== Math.ceil(n / 2)) {
    throw new Error(`unpackF16Tensor: ${words.length} packed words cannot hold shape [${shape}]`);
  }
  const bits = new Uint16Array(words.buffer, words.byteOffset, words.length * 2);
  return markF16(tf.tensor(unpackF16(bits, n), shape, "float32"));
}
