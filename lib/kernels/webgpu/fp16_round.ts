/**
 * binary16 rounding, packing and unpacking as WGSL compute kernels on the TF.js webgpu backend, the GPU
 * implementation behind `roundF16`, `packF16Tensor` and `unpackF16Tensor` of `lib/ops/fp16.ts` (whose
 * cpu/wasm implementation reads the tensor back and rounds in JS, which webgpu cannot do synchronously).
 *
 * The rounding is done on the float32 bit pattern with u32 arithmetic (round to nearest, ties to even,
 * overflow to ±Inf, subnormals down to 2^-24, NaN stays NaN), the same algorithm as `f32ToF16Bits`, so
 * results are bit-identical to the cpu path on every adapter, with or without `shader-f16` (WGSL leaves
 * the rounding of f32→f16 conversions to the implementation). Packed tensors hold two halves per int32
 * (little-endian: element 2i in the low 16 bits), the layout of `packF16Tensor`. See docs/PRECISION.md.
 *
 * @example
 * ```ts
 * import { tf } from "../../runtime/tf.ts";
 * import { useBackend } from "../backend.ts";
 * import { webgpuRoundF16 } from "./fp16_round.ts";
 * await useBackend("webgpu");
 * console.log(await webgpuRoundF16(tf.tensor1d([0.1])).data()); // Float32Array [0.0999755859375]
 * ```
 * @module
 */
import { tf } from "../../runtime/tf.ts";

/** The part of tfjs-backend-webgpu's `WebGPUBackend` used here. */
interface WebgpuBackendLike {
  runWebGPUProgram(
    program: unknown,
    inputs: tf.TensorInfo[],
    outputDtype: tf.DataType,
    programDefinedUniform?: { type: string; data: number[] }[],
  ): tf.TensorInfo;
}

/** WGSL: binary16 code of a float32 bit pattern, and the float32 of a binary16 code. */
export const HALF_WGSL = /* wgsl */ `
fn f32ToHalfBits(x : f32) -> u32 {
  let b = bitcast<u32>(x);
  let sgn = (b >> 16u) & 0x8000u;
  let e = (b >> 23u) & 0xffu;
  let m = b & 0x7fffffu;
  if (e == 0xffu) {
    if (m != 0u) { return sgn | 0x7c00u | 0x200u | (m >> 13u); }
    return sgn | 0x7c00u;
  }
  if (e >= 143u) { return sgn | 0x7c00u; }
  if (e >= 113u) {
    let v = ((e - 112u) << 10u) | (m >> 13u);
    let rest = m & 0x1fffu;
    if (rest > 0x1000u || (rest == 0x1000u && (v & 1u) == 1u)) { return sgn | (v + 1u); }
    return sgn | v;
  }
  if (e < 102u) { return sgn; }
  let mm = m | 0x800000u;
  let shift = 126u - e;
  let v = mm >> shift;
  let rest = mm & ((1u << shift) - 1u);
  let half = 1u << (shift - 1u);
  if (rest > half || (rest == half && (v & 1u) == 1u)) { return sgn | (v + 1u); }
  return sgn | v;
}

fn halfBitsToF32(h : u32) -> f32 {
  let sgn = (h & 0x8000u) << 16u;
  let e = (h >> 10u) & 0x1fu;
  let m = h & 0x3ffu;
  if (e == 0u) {
    if (m == 0u) { return bitcast<f32>(sgn); }
    let mag = f32(m) * 5.9604644775390625e-8;
    return bitcast<f32>(sgn | bitcast<u32>(mag));
  }
  if (e == 31u) {
    if (m != 0u) { return bitcast<f32>(sgn | 0x7fc00000u | (m << 13u)); }
    return bitcast<f32>(sgn | 0x7f800000u);
  }
  return bitcast<f32>(sgn | ((e + 112u) << 23u) | (m << 13u));
}
`;

const WORKGROUP = 64;

/** A flat 1-D program in tfjs-backend-webgpu's program format (its shader prelude is prepended). */
function flatProgram(key: string, size: number, body: string, uniforms?: string) {
  const groups = Math.ceil(size / WORKGROUP);
  // Large tensors: spread workgroups over y (maxComputeWorkgroupsPerDimension is 65535).
  const x = Math.min(groups, 65535), y = Math.ceil(groups / 65535);
  return {
    variableNames: ["A"],
    outputShape: [size],
    shaderKey: key,
    size: true,
    workgroupSize: [WORKGROUP, 1, 1] as [number, number, number],
    dispatchLayout: { x: [0] },
    dispatch: [x, y, 1] as [number, number, number],
    ...(uniforms ? { uniforms } : {}),
    getUserCode: () =>
      `${HALF_WGSL}
      fn main(index : i32) {
        if (index < uniforms.size) {
          ${body}
        }
      }`,
  };
}

function backend(): WebgpuBackendLike {
  if (tf.getBackend() !== "webgpu") throw new Error("the webgpu fp16 kernels need the webgpu backend");
  return tf.backend() as unknown as WebgpuBackendLike;
}

function flatInfo(t: tf.Tensor, n: number): tf.TensorInfo {
  return { dataId: t.dataId, shape: [n], dtype: t.dtype };
}

function toTensor(info: tf.TensorInfo, shape: number[]): tf.Tensor {
  const flat = tf.engine().makeTensorFromTensorInfo(info);
  if (shape.length === 1) return flat;
  const out = tf.reshape(flat, shape);
  flat.dispose();
  return out;
}

/** A float32 tensor of `t`'s values rounded to binary16 (one dispatch). */
export function webgpuRoundF16<T extends tf.Tensor>(t: T): T {
  if (t.dtype !== "float32") throw new Error(`webgpuRoundF16: ${t.dtype} tensor`);
  const n = t.size;
  const prog = flatProgram("simcse_round_f16", n, "result[index] = halfBitsToF32(f32ToHalfBits(A[index]));");
  return toTensor(backend().runWebGPUProgram(prog, [flatInfo(t, n)], "float32"), t.shape) as T;
}

/** `t` rounded to binary16 and packed two halves per int32: [ceil(n/2)] (one dispatch). */
export function webgpuPackF16(t: tf.Tensor): tf.Tensor1D {
  if (t.dtype !== "float32") throw new Error(`webgpuPackF16: ${t.dtype} tensor`);
  const n = t.size, words = Math.ceil(n / 2);
  const prog = flatProgram(
    "simcse_pack_f16",
    words,
    `let lo = f32ToHalfBits(A[2 * index]);
          var hi = 0u;
          if (2 * index + 1 < uniforms.n) { hi = f32ToHalfBits(A[2 * index + 1]); }
          result[index] = bitcast<i32>(lo | (hi << 16u));`,
    "n : i32,",
  );
  const info = backend().runWebGPUProgram(prog, [flatInfo(t, n)], "int32", [{ type: "int32", data: [n] }]);
  return tf.engine().makeTensorFromTensorInfo(info) as tf.Tensor1D;
}

/** Inverse of {@link webgpuPackF16}: the float32 tensor of binary16 values with `shape`. */
export function webgpuUnpackF16(packed: tf.Tensor, shape: number[]): tf.Tensor {
  const n = shape.reduce((a, b) => a * b, 1);
  if (packed.dtype !== "int32" || packed.size !== Math.ceil(n / 2)) {
    throw new Error(`webgpuUnpackF16: ${packed.size} packed words cannot hold shape [${shape}]`);
  }
  const prog = flatProgram(
    "simcse_unpack_f16",
    n,
    `let w = bitcast<u32>(A[index / 2]);
          result[index] = halfBitsToF32(select(w >> 16u, w & 0xffffu, index % 2 == 0));`,
  );
  return toTensor(backend().runWebGPUProgram(prog, [flatInfo(packed, packed.size)], "float32"), shape);
}
