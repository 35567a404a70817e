/**
 * Shared tensor types for checkpoint IO: a state dict maps parameter names to typed, row-major
 * tensors. Each dtype has one typed-array class (BF16 keeps its raw bits in a `Uint16Array`,
 * BOOL is one byte per element in a `Uint8Array`). Arrays use the host byte order, which on every
 * platform Deno runs on is little-endian, the byte order of both checkpoint formats.
 *
 * @example
 * ```ts
 * import { toFloat32, type StateDict } from "./state_dict.ts";
 * const sd: StateDict = new Map();
 * sd.set("w", { dtype: "BF16", shape: [2], data: new Uint16Array([0x3f80, 0xc000]) });
 * console.log(toFloat32(sd.get("w")!)); // Float32Array [1, -2]
 * ```
 * @module
 */

/** Element types the readers understand (safetensors names). */
export type DType = "F32" | "F16" | "BF16" | "F64" | "I64" | "I32" | "I16" | "I8" | "U8" | "BOOL";

/** Typed-array storage of a tensor; see {@link DTYPES} for which class goes with which dtype. */
export type TensorData =
  | Float32Array
  | Float64Array
  | Float16Array
  | Uint16Array
  | BigInt64Array
  | Int32Array
  | Int16Array
  | Int8Array
  | Uint8Array;

/** One tensor: row-major `data` with `shape.reduce(*)` elements (1 for a 0-dim tensor). */
export interface NamedTensor {
  dtype: DType;
  shape: number[];
  data: TensorData;
}

/** Parameter name -> tensor, in file order. */
export type StateDict = Map<string, NamedTensor>;

/** A typed-array constructor as used here: over a buffer slice, or of a given length. */
export interface TypedArrayClass {
  readonly BYTES_PER_ELEMENT: number;
  new (length: number): TensorData;
  new (buffer: ArrayBufferLike, byteOffset: number, length: number): TensorData;
}

/** Per-dtype facts: bytes per element and the typed-array class that holds it. */
export const DTYPES: Readonly<Record<DType, { itemsize: number; array: TypedArrayClass }>> = {
  F32: { itemsize: 4, array: Float32Array },
  F16: { itemsize: 2, array: Float16Array },
  BF16: { itemsize: 2, array: Uint16Array },
  F64: { itemsize: 8, array: Float64Array },
  I64: { itemsize: 8, array: BigInt64Array },
  I32: { itemsize: 4, array: Int32Array },
  I16: { itemsize: 2, array: Int16Array },
  I8: { itemsize: 1, array: Int8Array },
  U8: { itemsize: 1, array: Uint8Array },
  BOOL: { itemsize: 1, array: Uint8Array },
};

/** True when `name` is one of the supported dtypes. */
export function isDType(name: unknown): name is DType {
  return typeof name === "string" && Object.hasOwn(DTYPES, name);
}

/**
 * Number of elements of `shape` (1 for `[]`, 0 when any dimension is 0). Callers validate the
 * shape first; a product beyond 2^53 comes out unsafe (or Infinity), which callers reject.
 */
export function numelOf(shape: readonly number[]): number {
  if (shape.includes(0)) return 0;
  let n = 1;
  for (const d of shape) n *= d;
  return n;
}

if (new Uint8Array(new Uint16Array([1]).buffer)[0] !== 1) {
  throw new Error("checkpoint IO assumes a little-endian host");
}

/**
 * View `count` elements of `dtype` stored little-endian in `bytes`. Zero-copy when the bytes are
 * aligned for the element size, otherwise one copy into a fresh buffer.
 */
export function typedFromBytes(dtype: DType, bytes: Uint8Array, count: number): TensorData {
  const { itemsize, array } = DTYPES[dtype];
  if (bytes.byteLength !== count * itemsize) {
    throw new Error(`internal: ${bytes.byteLength} bytes for ${count} x ${itemsize}`);
  }
  if (bytes.byteOffset % itemsize === 0) return new array(bytes.buffer, bytes.byteOffset, count);
  const copy = new Uint8Array(bytes.byteLength);
  copy.set(bytes);
  return new array(copy.buffer, 0, count);
}

/** The raw little-endian bytes of a typed array (a view, no copy). */
export function bytesOf(data: TensorData): Uint8Array {
  return new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
}

/**
 * Index of the first NaN or ±Infinity in `values`, or -1 when all are finite (one pass, no
 * allocation: `x - x` is 0 exactly for finite x).
 */
export function firstNonFinite(values: ArrayLike<number>): number {
  for (let i = 0; i < values.length; i++) {
    const x = values[i];
    if (x - x !== 0) return i;
  }
  return -1;
}

/**
 * Tensor values as float32. F32 returns `t.data` itself (no copy); F16 converts natively, BF16
 * widens its bits (`u16 << 16`), integers and BOOL convert by value (I64 beyond 2^24 rounds).
 */
export function toFloat32(t: NamedTensor): Float32Array {
  const d = t.data;
  switch (t.dtype) {
    case "F32":
      return d as Float32Array;
    case "BF16": {
      const bits = d as Uint16Array;
      const out = new Uint32Array(bits.length);
      for (let i = 0; i < bits.length; i++) out[i] = bits[i] << 16;
      return new Float32Array(out.buffer);
    }
    case "I64": {
      const big = d as BigInt64Array;
      const out = new Float32Array(big.length);
      for (let i = 0; i < big.length; i++) out[i] = Number(big[i]);
      return out;
    }
    default:
      return new Float32Array(d as Exclude<TensorData, BigInt64Array>);
  }
}
