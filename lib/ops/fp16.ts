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
import { tf } from "../runtime/tf.ts";
import { packHalfTensor } from "./half_codes.ts";
import {
  allocFloat32,
  peekFloat32,
  peekInt32,
  roundHalfFast,
  unpackHalfFast,
  webgpuPackF16,
  webgpuRoundF16,
  webgpuUnpackF16,
} from "../kernels/mod.ts";
import {
  F16_MAX,
  F16_MIN_NORMAL,
  F16_MIN_SUBNORMAL,
  f16BitsToF32,
  f16Round,
  f32ToF16Bits,
  packF16,
  roundF16Array,
  unpackF16,
} from "../runtime/float16.ts";

export {
  F16_MAX,
  F16_MIN_NORMAL,
  F16_MIN_SUBNORMAL,
  f16BitsToF32,
  f16Round,
  f32ToF16Bits,
  packF16,
  roundF16Array,
  unpackF16,
};

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
  const own = peekFloat32(t); // the cpu backend's storage, read without taking it out of the pool's reach
  const src = own ?? t.dataSync() as Float32Array;
  // The other backends hand out a fresh copy, which can be rounded in place.
  const out = own || tf.getBackend() === "cpu" ? new Float32Array(src.length) : src;
  return markF16(tf.tensor(roundHalfFast("f16", src, out), t.shape, "float32") as T);
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
  return packHalfTensor("f16", t);
}

/** Inverse of `packF16Tensor`: the float32 tensor of binary16 values, with `shape`. Not a taped op. */
export function unpackF16Tensor(packed: tf.Tensor, shape: number[]): tf.Tensor {
  if (tf.getBackend() === "webgpu") return markF16(webgpuUnpackF16(packed, shape));
  const words = peekInt32(packed) ?? packed.dataSync() as Int32Array;
  const n = shape.reduce((a, b) => a * b, 1);
  if (words.length !== Math.ceil(n / 2)) {
    throw new Error(`unpackF16Tensor: ${words.length} packed words cannot hold shape [${shape}]`);
  }
  const bits = new Uint16Array(words.buffer, words.byteOffset, words.length * 2);
  return markF16(tf.tensor(unpackHalfFast("f16", bits, n, allocFloat32(n)), shape, "float32"));
}
