/**
 * Fast float32 kernels for the TF.js `cpu` backend, replacing stock kernels whose generic
 * per-element index arithmetic dominates a training step (docs/CPU-PERF.md): broadcasting binary ops
 * (`Add`, `Sub`, `Multiply`, `RealDiv`, `SquaredDifference`, `Maximum`), unary maps (`Neg`, `Exp`,
 * `Erf`, `Sqrt`, `Rsqrt`, `Square`, `Floor`, `Tanh`, `Log`, `Reciprocal`), reductions over one
 * contiguous block of axes (`Sum`, `Mean`, `Max`), last-axis `Softmax`, `Transpose`, and
 * `UnsortedSegmentSum` (the gradient of `tf.gather`; the stock one loops over every segment with a
 * full-size mask, which makes embedding-table gradients take minutes).
 *
 * Broadcasting collapses the output into the fewest dimensions over which both inputs are
 * contiguous or constant, then runs one specialised loop per innermost row. Loops are generated per
 * op with `new Function`, so every op gets its own monomorphic, inlinable loop. Inputs that are not
 * float32, and shapes a kernel does not cover, go to the stock kernel. Outputs come from the buffer
 * pool (`cpu_pool.ts`) when it is installed.
 *
 * @example
 * ```ts
 * import { tf } from "../runtime/tf.ts";
 * import { registerFastCpuKernels } from "./cpu_fast.ts";
 * await tf.setBackend("cpu");
 * registerFastCpuKernels();
 * tf.add(tf.ones([2, 3]), tf.ones([2, 1])).print(); // all 2
 * ```
 * @module
 */
import { tf } from "../runtime/tf.ts";
import { allocFloat32, cpuBackend, type CpuBackendLike, float32Values } from "./cpu_pool.ts";
import { nativeKernels } from "./native_kernels.ts";
import { erf } from "./erf.ts";

// ---------------------------------------------------------------------------------------------
// Broadcasting binary ops

type BinaryLoop = (
  a: Float32Array,
  b: Float32Array,
  out: Float32Array,
  dims: number[],
  stA: number[],
  stB: number[],
  n: number,
  ia: number,
  ib: number,
) => void;

function makeBinaryLoop(expr: string): BinaryLoop {
  // deno-lint-ignore no-explicit-any
  return new (Function as any)(
    "a",
    "b",
    "out",
    "dims",
    "stA",
    "stB",
    "n",
    "ia",
    "ib",
    `"use strict";
    const r = dims.length;
    const idx = new Int32Array(r);
    const total = n === 0 ? 0 : out.length / n;
    let offA = 0, offB = 0, o = 0;
    for (let t = 0; t < total; t++) {
      if (ia === 1 && ib === 1) {
        for (let i = 0; i < n; i++) { const x = a[offA + i], y = b[offB + i]; out[o + i] = ${expr}; }
      } else if (ia === 1) {
        const y = b[offB];
        for (let i = 0; i < n; i++) { const x = a[offA + i]; out[o + i] = ${expr}; }
      } else if (ib === 1) {
        const x = a[offA];
        for (let i = 0; i < n; i++) { const y = b[offB + i]; out[o + i] = ${expr}; }
      } else {
        const x = a[offA], y = b[offB];
        const v = ${expr};
        for (let i = 0; i < n; i++) out[o + i] = v;
      }
      o += n;
      for (let d = r - 1; d >= 0; d--) {
        idx[d]++;
        offA += stA[d];
        offB += stB[d];
        if (idx[d] < dims[d]) break;
        offA -= stA[d] * dims[d];
        offB -= stB[d] * dims[d];
        idx[d] = 0;
      }
    }`,
  ) as BinaryLoop;
}

/** Contiguous strides of a shape. */
function stridesOf(shape: number[]): number[] {
  const s = new Array<number>(shape.length);
  let acc = 1;
  for (let i = shape.length - 1; i >= 0; i--) {
    s[i] = acc;
    acc *= shape[i];
  }
  return s;
}

/** The broadcast output shape (numpy rules); throws on incompatible shapes. */
export function broadcastShape(aShape: number[], bShape: number[]): number[] {
  return tf.broadcast_util.assertAndGetBroadcastShape(aShape, bShape);
}

/**
 * Collapse a broadcast into (outer dims, their strides for a and b, inner length, inner strides).
 * Dims of size 1 are dropped; neighbours are merged when both inputs are contiguous (or constant)
 * across them.
 */
export function collapseBroadcast(aShape: number[], bShape: number[], outShape: number[]) {
  const R = outShape.length;
  const sa = stridesOf(aShape), sb = stridesOf(bShape);
  const D: number[] = [], SA: number[] = [], SB: number[] = [];
  for (let d = 0; d < R; d++) {
    if (outShape[d] === 1) continue;
    const da = d - (R - aShape.length), db = d - (R - bShape.length);
    const strideA = da >= 0 && aShape[da] !== 1 ? sa[da] : 0;
    const strideB = db >= 0 && bShape[db] !== 1 ? sb[db] : 0;
    D.push(outShape[d]);
    SA.push(strideA);
    SB.push(strideB);
  }
  // Merge from the innermost dim outwards.
  const md: number[] = [], ma: number[] = [], mb: number[] = [];
  for (let d = D.length - 1; d >= 0; d--) {
    const c = md.length - 1;
    if (c >= 0 && SA[d] === ma[c] * md[c] && SB[d] === mb[c] * md[c]) {
      md[c] *= D[d];
    } else {
      md.push(D[d]);
      ma.push(SA[d]);
      mb.push(SB[d]);
    }
  }
  md.reverse();
  ma.reverse();
  mb.reverse();
  if (md.length === 0) return { dims: [], stA: [], stB: [], n: 1, ia: 0, ib: 0 };
  const n = md.pop()!, ia = ma.pop()!, ib = mb.pop()!;
  return { dims: md, stA: ma, stB: mb, n, ia, ib };
}

const BINARY_EXPR: Record<string, string> = {
  Add: "x + y",
  Sub: "x - y",
  Multiply: "x * y",
  RealDiv: "x / y",
  SquaredDifference: "(x - y) * (x - y)",
  Maximum: "(x > y || x !== x) ? x : y",
  Minimum: "(x < y || x !== x) ? x : y",
};

const binaryLoops = new Map<string, BinaryLoop>();

function binaryLoop(op: string): BinaryLoop {
  let f = binaryLoops.get(op);
  if (!f) binaryLoops.set(op, f = makeBinaryLoop(BINARY_EXPR[op]));
  return f;
}

/** `op` ∈ Add, Sub, Multiply, RealDiv, SquaredDifference, Maximum, Minimum on broadcast float32 arrays. */
export function binaryValues(
  op: string,
  a: Float32Array,
  aShape: number[],
  b: Float32Array,
  bShape: number[],
): { values: Float32Array; shape: number[] } {
  const shape = broadcastShape(aShape, bShape);
  const size = shape.reduce((x, y) => x * y, 1);
  const out = allocFloat32(size);
  if (size > 0) {
    const c = collapseBroadcast(aShape, bShape, shape);
    binaryLoop(op)(a, b, out, c.dims, c.stA, c.stB, c.n, c.ia, c.ib);
  }
  return { values: out, shape };
}

// ---------------------------------------------------------------------------------------------
// Unary maps

type UnaryLoop = (x: Float32Array, out: Float32Array) => void;

const UNARY_BODY: Record<string, string> = {
  Neg: "y = -v;",
  Exp: "y = Math.exp(v);",
  Sqrt: "y = Math.sqrt(v);",
  Rsqrt: "y = 1 / Math.sqrt(v);",
  Square: "y = v * v;",
  Floor: "y = Math.floor(v);",
  Tanh: "y = Math.tanh(v);",
  Log: "y = Math.log(v);",
  Reciprocal: "y = 1 / v;",
};

const unaryLoops = new Map<string, UnaryLoop>();

/** erf over an array with the toolkit's one erf (`erf.ts`), the same function the fused GELU uses. */
const erfLoop: UnaryLoop = (x, out) => {
  for (let i = 0; i < x.length; i++) out[i] = erf(x[i]);
};
unaryLoops.set("Erf", erfLoop);

/** `op` ∈ Neg, Exp, Erf, Sqrt, Rsqrt, Square, Floor, Tanh, Log, Reciprocal, elementwise. */
export function unaryValues(op: string, x: Float32Array): Float32Array {
  let f = unaryLoops.get(op);
  if (!f) {
    // deno-lint-ignore no-explicit-any
    f = new (Function as any)(
      "x",
      "out",
      `"use strict"; const n = x.length;
      for (let i = 0; i < n; i++) { const v = x[i]; let y; ${UNARY_BODY[op]} out[i] = y; }`,
    ) as UnaryLoop;
    unaryLoops.set(op, f);
  }
  const out = allocFloat32(x.length);
  f(x, out);
  return out;
}

// ---------------------------------------------------------------------------------------------
// Reductions

/** Normalised, sorted axes; null when they do not form one contiguous block. */
function axisBlock(axis: number | number[] | undefined, rank: number): [number, number] | null {
  const list = axis === undefined || axis === null
    ? [...Array(rank).keys()]
    : (Array.isArray(axis) ? axis : [axis]).map((a) => (a < 0 ? a + rank : a));
  const sorted = [...new Set(list)].sort((p, q) => p - q);
  if (sorted.length === 0) return null;
  for (let i = 1; i < sorted.length; i++) if (sorted[i] !== sorted[i - 1] + 1) return null;
  return [sorted[0], sorted[sorted.length - 1]];
}

let reduceScratch = new Float64Array(0); // the C reduction's per-column accumulators

/** Sum, mean or max over axes [first..last] of a float32 array; null when axes are not contiguous. */
export function reduceValues(
  kind: "sum" | "mean" | "max",
  x: Float32Array,
  shape: number[],
  axis: number | number[] | undefined,
  keepDims: boolean,
): { values: Float32Array; shape: number[] } | null {
  const block = axisBlock(axis, shape.length);
  if (!block) return null;
  const [p, q] = block;
  const prod = (s: number[]) => s.reduce((u, v) => u * v, 1);
  const outer = prod(shape.slice(0, p)), red = prod(shape.slice(p, q + 1)), inner = prod(shape.slice(q + 1));
  const outShape = keepDims
    ? shape.map((d, i) => (i >= p && i <= q ? 1 : d))
    : [...shape.slice(0, p), ...shape.slice(q + 1)];
  const out = allocFloat32(outer * inner);
  if (kind === "max") {
    for (let o = 0; o < outer; o++) {
      const base = o * red * inner;
      for (let i = 0; i < inner; i++) out[o * inner + i] = red > 0 ? x[base + i] : -Infinity;
      for (let r = 1; r < red; r++) {
        const row = base + r * inner, dst = o * inner;
        for (let i = 0; i < inner; i++) {
          const v = x[row + i];
          if (v > out[dst + i] || v !== v) out[dst + i] = v;
        }
      }
    }
    return { values: out, shape: outShape };
  }
  const scale = kind === "mean" ? 1 / red : 1;
  if (inner === 1) {
    for (let o = 0; o < outer; o++) {
      let s = 0;
      const base = o * red;
      for (let r = 0; r < red; r++) s += x[base + r];
      out[o] = kind === "mean" ? s / red : s;
    }
  } else if (nativeKernels() && outer * red * inner > 0) {
    if (reduceScratch.length < inner) reduceScratch = new Float64Array(inner);
    nativeKernels()!.reduceMid(x, out, reduceScratch, outer, red, inner, scale);
  } else {
    const acc = new Float64Array(inner);
    for (let o = 0; o < outer; o++) {
      acc.fill(0);
      const base = o * red * inner;
      for (let r = 0; r < red; r++) {
        const row = base + r * inner;
        for (let i = 0; i < inner; i++) acc[i] += x[row + i];
      }
      const dst = o * inner;
      for (let i = 0; i < inner; i++) out[dst + i] = acc[i] * scale;
    }
  }
  return { values: out, shape: outShape };
}

/** Softmax over the last axis of rows of length `n`. */
export function softmaxValues(x: Float32Array, n: number): Float32Array {
  const out = allocFloat32(x.length);
  for (let o = 0; o < x.length; o += n) {
    let m = -Infinity;
    for (let i = 0; i < n; i++) if (x[o + i] > m) m = x[o + i];
    let s = 0;
    for (let i = 0; i < n; i++) {
      const e = Math.exp(x[o + i] - m);
      out[o + i] = e;
      s += e;
    }
    const inv = 1 / s;
    for (let i = 0; i < n; i++) out[o + i] *= inv;
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// Transpose

/** Transpose with permutation `perm` (output dim i = input dim perm[i]). */
export function transposeValues(x: Float32Array, shape: number[], perm: number[]): Float32Array {
  const out = allocFloat32(x.length);
  if (x.length === 0) return out;
  // Drop size-1 dims, then merge runs of input dims that stay adjacent and in order.
  const keep = perm.filter((d) => shape[d] !== 1);
  const inStr = stridesOf(shape);
  const groups: { size: number; stride: number }[] = [];
  for (let i = 0; i < keep.length; i++) {
    const d = keep[i];
    const last = groups[groups.length - 1];
    if (i > 0 && last && inStr[keep[i - 1]] === inStr[d] * shape[d]) {
      last.size *= shape[d];
      last.stride = inStr[d];
    } else {
      groups.push({ size: shape[d], stride: inStr[d] });
    }
  }
  if (groups.length <= 1) {
    out.set(x);
    return out;
  }
  const innermost = groups[groups.length - 1];
  if (innermost.stride === 1) {
    // Rows stay contiguous: copy blocks of `n`.
    const n = innermost.size;
    const dims = groups.slice(0, -1).map((g) => g.size), st = groups.slice(0, -1).map((g) => g.stride);
    const r = dims.length, idx = new Int32Array(r);
    let src = 0;
    for (let o = 0; o < out.length; o += n) {
      if (n >= 64) out.set(x.subarray(src, src + n), o);
      else for (let i = 0; i < n; i++) out[o + i] = x[src + i];
      for (let d = r - 1; d >= 0; d--) {
        idx[d]++;
        src += st[d];
        if (idx[d] < dims[d]) break;
        src -= st[d] * dims[d];
        idx[d] = 0;
      }
    }
    return out;
  }
  if (groups.length === 2 && groups[0].stride === 1) {
    // out [R, C] from x [C, R] (x row stride = R): blocked.
    const R = groups[0].size, C = groups[1].size, xs = groups[1].stride;
    const BS = 32;
    for (let r0 = 0; r0 < R; r0 += BS) {
      const r1 = Math.min(R, r0 + BS);
      for (let c0 = 0; c0 < C; c0 += BS) {
        const c1 = Math.min(C, c0 + BS);
        for (let c = c0; c < c1; c++) {
          const src = c * xs;
          for (let r = r0; r < r1; r++) out[r * C + c] = x[src + r];
        }
      }
    }
    return out;
  }
  const dims = groups.map((g) => g.size), st = groups.map((g) => g.stride);
  const r = dims.length - 1, n = dims[r], s = st[r], idx = new Int32Array(r);
  let src = 0;
  for (let o = 0; o < out.length; o += n) {
    for (let i = 0; i < n; i++) out[o + i] = x[src + i * s];
    for (let d = r - 1; d >= 0; d--) {
      idx[d]++;
      src += st[d];
      if (idx[d] < dims[d]) break;
      src -= st[d] * dims[d];
      idx[d] = 0;
    }
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// Gather, Slice, Pad

/** `tf.gather(x, indices, axis)` (batchDims 0) on float32 values; out-of-range indices throw. */
export function gatherValues(
  x: Float32Array,
  shape: number[],
  indices: ArrayLike<number>,
  axis: number,
): Float32Array {
  const prod = (s: number[]) => s.reduce((u, v) => u * v, 1);
  const outer = prod(shape.slice(0, axis)), dim = shape[axis], inner = prod(shape.slice(axis + 1));
  const n = indices.length;
  const out = allocFloat32(outer * n * inner);
  for (let i = 0; i < n; i++) {
    const ix = indices[i];
    if (!(ix >= 0 && ix <= dim - 1)) {
      throw new Error(`GatherV2: the index value ${ix} is not in [0, ${dim - 1}]`);
    }
  }
  const nk = nativeKernels();
  if (nk && indices instanceof Int32Array && inner >= 16) { // rows long enough for a copy per row
    nk.gatherRows(x, indices, out, outer, dim, inner);
    return out;
  }
  let o = 0;
  for (let p = 0; p < outer; p++) {
    for (let i = 0; i < n; i++) {
      const src = (p * dim + indices[i]) * inner;
      if (inner >= 64) out.set(x.subarray(src, src + inner), o);
      else for (let j = 0; j < inner; j++) out[o + j] = x[src + j];
      o += inner;
    }
  }
  return out;
}

/** Copy of x[begin : begin + size] (all dims). */
export function sliceValues(x: Float32Array, shape: number[], begin: number[], size: number[]): Float32Array {
  const total = size.reduce((u, v) => u * v, 1);
  const out = allocFloat32(total);
  if (total === 0) return out;
  const st = stridesOf(shape);
  const r = shape.length - 1, n = size[r];
  let src = 0;
  for (let d = 0; d <= r; d++) src += begin[d] * st[d];
  const idx = new Int32Array(r);
  for (let o = 0; o < total; o += n) {
    if (n >= 64) out.set(x.subarray(src, src + n), o);
    else for (let i = 0; i < n; i++) out[o + i] = x[src + i];
    for (let d = r - 1; d >= 0; d--) {
      idx[d]++;
      src += st[d];
      if (idx[d] < size[d]) break;
      src -= st[d] * size[d];
      idx[d] = 0;
    }
  }
  return out;
}

/** Constant padding: paddings[d] = [before, after]. */
export function padValues(
  x: Float32Array,
  shape: number[],
  paddings: [number, number][],
  value: number,
): { values: Float32Array; shape: number[] } {
  const outShape = shape.map((d, i) => paddings[i][0] + d + paddings[i][1]);
  const total = outShape.reduce((u, v) => u * v, 1);
  const out = allocFloat32(total);
  out.fill(value);
  if (x.length === 0) return { values: out, shape: outShape };
  const ost = stridesOf(outShape);
  const r = shape.length - 1, n = shape[r];
  let dst = 0;
  for (let d = 0; d <= r; d++) dst += paddings[d][0] * ost[d];
  const idx = new Int32Array(r);
  for (let src = 0; src < x.length; src += n) {
    for (let i = 0; i < n; i++) out[dst + i] = x[src + i];
    for (let d = r - 1; d >= 0; d--) {
      idx[d]++;
      dst += ost[d];
      if (idx[d] < shape[d]) break;
      dst -= ost[d] * shape[d];
      idx[d] = 0;
    }
  }
  return { values: out, shape: outShape };
}

// ---------------------------------------------------------------------------------------------
// Kernel registration

type KernelArgs = { inputs: tf.NamedTensorInfoMap; backend: unknown; attrs?: tf.NamedAttrMap };

const stock = new Map<string, tf.KernelFunc>();
let registered = false;

function isF32(...ts: (tf.TensorInfo | undefined)[]): boolean {
  return ts.every((t) => t !== undefined && t.dtype === "float32");
}

function out(backend: CpuBackendLike, shape: number[], values: Float32Array): tf.TensorInfo {
  return backend.makeTensorInfo(shape, "float32", values);
}

function fallback(name: string, args: KernelArgs): tf.TensorInfo {
  return stock.get(name)!(args as never) as tf.TensorInfo;
}

function sameShape(a: number[], b: number[]): boolean {
  return a.length === b.length && a.every((d, i) => d === b[i]);
}

function binaryKernel(name: string) {
  return (args: KernelArgs) => {
    const { a, b } = args.inputs as { a: tf.TensorInfo; b: tf.TensorInfo };
    if (!isF32(a, b)) return fallback(name, args);
    const be = args.backend as CpuBackendLike;
    const nk = nativeKernels();
    if (nk && name === "Add" && sameShape(a.shape, b.shape)) {
      const o = allocFloat32(a.shape.reduce((p, q) => p * q, 1));
      nk.add(float32Values(be, a), float32Values(be, b), o, o.length);
      return out(be, a.shape, o);
    }
    const r = binaryValues(name, float32Values(be, a), a.shape, float32Values(be, b), b.shape);
    return out(be, r.shape, r.values);
  };
}

function unaryKernel(name: string) {
  return (args: KernelArgs) => {
    const { x } = args.inputs as { x: tf.TensorInfo };
    if (!isF32(x)) return fallback(name, args);
    const be = args.backend as CpuBackendLike;
    return out(be, x.shape, unaryValues(name, float32Values(be, x)));
  };
}

function reduceKernel(name: string, kind: "sum" | "mean" | "max", axisAttr: string) {
  return (args: KernelArgs) => {
    const { x } = args.inputs as { x: tf.TensorInfo };
    if (!isF32(x)) return fallback(name, args);
    const attrs = args.attrs as Record<string, unknown>;
    const be = args.backend as CpuBackendLike;
    const r = reduceValues(
      kind,
      float32Values(be, x),
      x.shape,
      attrs[axisAttr] as number | number[],
      Boolean(attrs.keepDims),
    );
    if (!r) return fallback(name, args);
    return out(be, r.shape, r.values);
  };
}

const KERNELS: Record<string, (args: KernelArgs) => tf.TensorInfo> = {
  ...Object.fromEntries(Object.keys(BINARY_EXPR).map((n) => [n, binaryKernel(n)])),
  ...Object.fromEntries([...Object.keys(UNARY_BODY), "Erf"].map((n) => [n, unaryKernel(n)])),
  Sum: reduceKernel("Sum", "sum", "axis"),
  Mean: reduceKernel("Mean", "mean", "axis"),
  Max: reduceKernel("Max", "max", "reductionIndices"),
  Softmax: (args) => {
    const { logits } = args.inputs as { logits: tf.TensorInfo };
    const dim = (args.attrs as { dim: number }).dim;
    const rank = logits.shape.length;
    if (!isF32(logits) || (dim !== -1 && dim !== rank - 1)) return fallback("Softmax", args);
    const be = args.backend as CpuBackendLike;
    return out(be, logits.shape, softmaxValues(float32Values(be, logits), logits.shape[rank - 1]));
  },
  Transpose: (args) => {
    const { x } = args.inputs as { x: tf.TensorInfo };
    if (!isF32(x)) return fallback("Transpose", args);
    const perm = (args.attrs as { perm: number[] }).perm;
    const be = args.backend as CpuBackendLike;
    if (perm.every((d, i) => d === i)) { // identity (tf.gather's gradient asks for two per call): share the data
      be.incRef(x.dataId);
      return { dataId: x.dataId, shape: [...x.shape], dtype: x.dtype };
    }
    const shape = perm.map((d) => x.shape[d]);
    return out(be, shape, transposeValues(float32Values(be, x), x.shape, perm));
  },
  GatherV2: (args) => {
    const { x, indices } = args.inputs as { x: tf.TensorInfo; indices: tf.TensorInfo };
    const { axis, batchDims } = args.attrs as { axis: number; batchDims?: number };
    if (!isF32(x) || (batchDims ?? 0) !== 0 || x.shape.length === 0) return fallback("GatherV2", args);
    const be = args.backend as CpuBackendLike;
    const ax = axis < 0 ? axis + x.shape.length : axis;
    const ids = be.data.get(indices.dataId).values as ArrayLike<number>;
    const shape = [...x.shape.slice(0, ax), ...indices.shape, ...x.shape.slice(ax + 1)];
    return out(be, shape, gatherValues(float32Values(be, x), x.shape, ids, ax));
  },
  Slice: (args) => {
    const { x } = args.inputs as { x: tf.TensorInfo };
    if (!isF32(x) || x.shape.length === 0) return fallback("Slice", args);
    const { begin, size } = args.attrs as { begin: number | number[]; size: number | number[] };
    const [b, s] = tf.slice_util.parseSliceParams(x as tf.Tensor, begin, size);
    tf.slice_util.assertParamsValid(x as tf.Tensor, b, s);
    const be = args.backend as CpuBackendLike;
    return out(be, s, sliceValues(float32Values(be, x), x.shape, b, s));
  },
  PadV2: (args) => {
    const { x } = args.inputs as { x: tf.TensorInfo };
    if (!isF32(x) || x.shape.length === 0) return fallback("PadV2", args);
    const { paddings, constantValue } = args.attrs as { paddings: [number, number][]; constantValue: number };
    const be = args.backend as CpuBackendLike;
    const r = padValues(float32Values(be, x), x.shape, paddings, constantValue);
    return out(be, r.shape, r.values);
  },
  UnsortedSegmentSum: (args) => {
    const { x, segmentIds } = args.inputs as { x: tf.TensorInfo; segmentIds: tf.TensorInfo };
    if (!isF32(x)) return fallback("UnsortedSegmentSum", args);
    const be = args.backend as CpuBackendLike;
    const numSegments = (args.attrs as { numSegments: number }).numSegments;
    const innerShape = x.shape.slice(segmentIds.shape.length);
    const inner = innerShape.reduce((p, q) => p * q, 1);
    const xv = float32Values(be, x);
    const ids = be.data.get(segmentIds.dataId).values as ArrayLike<number>;
    const o = allocFloat32(numSegments * inner);
    o.fill(0);
    const nk = numSegments * inner < 2 ** 31 && inner >= 16 ? nativeKernels() : null; // int32 element offsets
    let inRange = nk !== null;
    for (let r = 0; r < ids.length && inRange; r++) inRange = ids[r] >= 0 && ids[r] < numSegments;
    if (nk && inRange) { // the embeddings' gradients: one C pass, the same additions in row order
      nk.sumRows(xv, Int32Array.from(ids, (s) => s * inner), o, ids.length, inner);
      return out(be, [numSegments, ...innerShape], o);
    }
    for (let r = 0; r < ids.length; r++) {
      const s = ids[r];
      if (s < 0 || s >= numSegments) continue;
      const src = r * inner, dst = s * inner;
      for (let j = 0; j < inner; j++) o[dst + j] += xv[src + j];
    }
    return out(be, [numSegments, ...innerShape], o);
  },
};

/** Names of the kernels {@link registerFastCpuKernels} replaces. */
export const FAST_CPU_KERNELS: readonly string[] = Object.keys(KERNELS);

/** Replace the stock cpu kernels listed in {@link FAST_CPU_KERNELS} (idempotent). */
export function registerFastCpuKernels(): void {
  if (registered) return;
  cpuBackend(); // make sure the cpu backend (and its stock kernels) exist
  for (const [name, fn] of Object.entries(KERNELS)) {
    const k = tf.getKernel(name, "cpu");
    if (!k) continue;
    stock.set(name, k.kernelFunc);
    tf.unregisterKernel(name, "cpu");
    tf.registerKernel({ kernelName: name, backendName: "cpu", kernelFunc: fn as never });
  }
  registered = true;
}

/** Put the stock kernels back (tests compare against them). */
export function unregisterFastCpuKernels(): void {
  if (!registered) return;
  for (const [name, fn] of stock) {
    tf.unregisterKernel(name, "cpu");
    tf.registerKernel({ kernelName: name, backendName: "cpu", kernelFunc: fn });
  }
  stock.clear();
  registered = false;
}

/** Whether the fast kernels are registered. */
export function fastCpuKernelsActive(): boolean {
  return registered;
}
