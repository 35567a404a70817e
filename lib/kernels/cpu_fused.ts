/**
 * The fused layer kernels of `lib/ops/fused.ts` for the TF.js `cpu` backend: LayerNorm forward
 * and backward, exact GELU and GPT-2's gelu_new with their gradients, the attention softmax (scale +
 * additive mask + softmax) and its gradient, and dropout (which is its own gradient). Each is one pass over
 * its data, writing into pooled output buffers (`cpu_pool.ts`), where TF.js autodiff would run 5–15
 * primitive kernels and keep their outputs. The loops run as vectorised C when `native_kernels.ts`
 * could build its library, and as the JS loops here otherwise (row statistics in float64).
 *
 * Dropout masks are counter-based: element i of a call with seed s is kept when
 * hash32(s, i) ≥ rate·2³², so a mask depends only on (seed, index), not on call order, and the backward
 * pass recomputes it instead of keeping it.
 *
 * @example
 * ```ts
 * import { tf } from "../runtime/tf.ts";
 * import { registerFusedCpuKernels } from "./cpu_fused.ts";
 * import { fusedGelu } from "../ops/fused.ts";
 * await tf.setBackend("cpu");
 * registerFusedCpuKernels();
 * fusedGelu(tf.tensor1d([-1, 0, 1])).print(); // [-0.1587, 0, 0.8413]
 * ```
 * @module
 */
import { tf } from "../runtime/tf.ts";
import { FUSED_KERNELS } from "./kernel_names.ts";
import { allocFloat32, cpuBackend, type CpuBackendLike, float32Values } from "./cpu_pool.ts";
import { fmix32 } from "../runtime/fmix32.ts";
import { type HalfType, nativeKernels } from "./native_kernels.ts";
import { unpackHalfFast } from "./onednn.ts";
import { erf } from "./erf.ts";

export { erf };

type KernelArgs = {
  inputs: Record<string, tf.TensorInfo>;
  backend: unknown;
  attrs?: Record<string, unknown>;
};

const SQRT1_2 = Math.SQRT1_2;
const INV_SQRT_2PI = 1 / Math.sqrt(2 * Math.PI);

/** Murmur3's 32-bit finaliser of (seed, i): the dropout mask's counter-based hash. */
export function dropoutHash(seed: number, i: number): number {
  return fmix32((Math.imul(i, 0x9e3779b1) ^ seed) >>> 0);
}

function values(be: CpuBackendLike, t: tf.TensorInfo): Float32Array {
  return float32Values(be, t);
}

function lastDim(t: tf.TensorInfo): [number, number] {
  const n = t.shape[t.shape.length - 1] ?? 1;
  const size = t.shape.reduce((a, b) => a * b, 1);
  return [size / Math.max(1, n), n];
}

function f32(be: CpuBackendLike, shape: number[], v: Float32Array): tf.TensorInfo {
  return be.makeTensorInfo(shape, "float32", v);
}

function layerNorm({ inputs, backend, attrs }: KernelArgs): tf.TensorInfo[] {
  const be = backend as CpuBackendLike;
  const x = values(be, inputs.x), g = values(be, inputs.gamma), b = values(be, inputs.beta);
  const eps = (attrs as { eps: number }).eps;
  const [N, H] = lastDim(inputs.x);
  const y = allocFloat32(N * H), xh = allocFloat32(N * H), rstd = new Float32Array(N);
  const nk = nativeKernels();
  if (nk) nk.layerNorm(x, g, b, y, xh, rstd, N, H, eps);
  else layerNormJs(x, g, b, y, xh, rstd, N, H, eps);
  const shape = inputs.x.shape;
  return [f32(be, shape, y), f32(be, shape, xh), f32(be, shape.slice(0, -1), rstd)];
}

function layerNormJs(
  x: Float32Array,
  g: Float32Array,
  b: Float32Array,
  y: Float32Array,
  xh: Float32Array,
  rstd: Float32Array,
  N: number,
  H: number,
  eps: number,
): void {
  for (let r = 0, o = 0; r < N; r++, o += H) {
    let s = 0;
    for (let j = 0; j < H; j++) s += x[o + j];
    const mu = s / H;
    let v = 0;
    for (let j = 0; j < H; j++) {
      const d = x[o + j] - mu;
      v += d * d;
    }
    const rs = 1 / Math.sqrt(v / H + eps);
    rstd[r] = rs;
    for (let j = 0; j < H; j++) {
      const t = (x[o + j] - mu) * rs;
      xh[o + j] = t;
      y[o + j] = t * g[j] + b[j];
    }
  }
}

/**
 * dx, dγ, dβ of a LayerNorm. With attribute `codes` ("bf16" / "f16"), `xhat` is x̂ as 16-bit codes packed
 * in pairs into an int32 tensor (`half_codes.ts`): the C kernel reads them a row at a time (no float32
 * copy of x̂, one [N, H] array less at the backward pass's memory peak); without the C kernels they are
 * unpacked first.
 */
function layerNormGrad({ inputs, backend, attrs }: KernelArgs): tf.TensorInfo[] {
  const be = backend as CpuBackendLike;
  const codes = (attrs as { codes?: HalfType } | undefined)?.codes;
  const dy = values(be, inputs.dy);
  const rstd = values(be, inputs.rstd), g = values(be, inputs.gamma);
  const [N, H] = lastDim(inputs.dy);
  const nk = nativeKernels();
  const bits = codes ? codesOf(be, inputs.xhat, N * H) : undefined;
  const dx = allocFloat32(N * H);
  const dg = new Float64Array(H), db = new Float64Array(H);
  const xh = nk && bits ? undefined : bits ? unpackHalfFast(codes!, bits, N * H) : values(be, inputs.xhat);
  if (!xh) nk!.layerNormGradHalf(codes!, dy, bits!, rstd, g, dx, dg, db, N, H);
  else if (nk) nk.layerNormGrad(dy, xh, rstd, g, dx, dg, db, N, H);
  else {
    for (let r = 0, o = 0; r < N; r++, o += H) {
      let s1 = 0, s2 = 0;
      for (let j = 0; j < H; j++) {
        const d = dy[o + j], t = xh[o + j];
        const gx = d * g[j];
        s1 += gx;
        s2 += gx * t;
        dg[j] += d * t;
        db[j] += d;
      }
      const m1 = s1 / H, m2 = s2 / H, rs = rstd[r];
      for (let j = 0; j < H; j++) dx[o + j] = rs * (dy[o + j] * g[j] - m1 - xh[o + j] * m2);
    }
  }
  return [
    f32(be, inputs.dy.shape, dx),
    f32(be, [H], Float32Array.from(dg)),
    f32(be, [H], Float32Array.from(db)),
  ];
}

/** The first n 16-bit codes of an int32 tensor holding them in pairs. */
function codesOf(be: CpuBackendLike, t: tf.TensorInfo, n: number): Uint16Array {
  const w = be.data.get(t.dataId).values;
  if (!(w instanceof Int32Array) || w.length * 2 < n) {
    throw new Error(`SimcseLayerNormGrad: x̂'s codes are not ${n} 16-bit codes packed in an int32 tensor`);
  }
  return new Uint16Array(w.buffer, w.byteOffset, n);
}

function gelu({ inputs, backend }: KernelArgs): tf.TensorInfo {
  const be = backend as CpuBackendLike;
  const x = values(be, inputs.x);
  const y = allocFloat32(x.length);
  const nk = nativeKernels();
  if (nk) nk.gelu(x, y, x.length);
  else {
    for (let i = 0; i < x.length; i++) {
      const v = x[i];
      y[i] = 0.5 * v * (1 + erf(v * SQRT1_2));
    }
  }
  return f32(be, inputs.x.shape, y);
}

function geluGrad({ inputs, backend }: KernelArgs): tf.TensorInfo {
  const be = backend as CpuBackendLike;
  const dy = values(be, inputs.dy), x = values(be, inputs.x);
  const dx = allocFloat32(x.length);
  const nk = nativeKernels();
  if (nk) nk.geluGrad(dy, x, dx, x.length);
  else {
    for (let i = 0; i < x.length; i++) {
      const v = x[i];
      dx[i] = dy[i] * (0.5 * (1 + erf(v * SQRT1_2)) + v * INV_SQRT_2PI * Math.exp(-0.5 * v * v));
    }
  }
  return f32(be, inputs.x.shape, dx);
}

const GELU_NEW_C = Math.sqrt(2 / Math.PI);

function geluNew({ inputs, backend }: KernelArgs): tf.TensorInfo {
  const be = backend as CpuBackendLike;
  const x = values(be, inputs.x);
  const y = allocFloat32(x.length);
  const nk = nativeKernels();
  if (nk) nk.geluNew(x, y, x.length);
  else {
    for (let i = 0; i < x.length; i++) {
      const v = x[i];
      y[i] = 0.5 * v * (1 + Math.tanh(GELU_NEW_C * (v + 0.044715 * v * v * v)));
    }
  }
  return f32(be, inputs.x.shape, y);
}

function geluNewGrad({ inputs, backend }: KernelArgs): tf.TensorInfo {
  const be = backend as CpuBackendLike;
  const dy = values(be, inputs.dy), x = values(be, inputs.x);
  const dx = allocFloat32(x.length);
  const nk = nativeKernels();
  if (nk) nk.geluNewGrad(dy, x, dx, x.length);
  else {
    for (let i = 0; i < x.length; i++) {
      const v = x[i];
      const t = Math.tanh(GELU_NEW_C * (v + 0.044715 * v * v * v));
      dx[i] = dy[i] * (0.5 * (1 + t) + 0.5 * v * (1 - t * t) * GELU_NEW_C * (1 + 3 * 0.044715 * v * v));
    }
  }
  return f32(be, inputs.x.shape, dx);
}

/** Offsets of each row of `shape` (all axes but the last) into a tensor of `mShape` broadcast to it. */
function broadcastRowOffsets(shape: number[], mShape: number[]): Int32Array {
  const R = shape.length;
  const m = [...new Array(R - mShape.length).fill(1), ...mShape];
  if (m[R - 1] !== shape[R - 1] && m[R - 1] !== 1) {
    throw new Error("attention mask: last axis does not broadcast");
  }
  const mStride = new Array<number>(R);
  let acc = 1;
  for (let d = R - 1; d >= 0; d--) {
    if (m[d] !== 1 && m[d] !== shape[d]) {
      throw new Error(`attention mask [${mShape}] does not broadcast to scores [${shape}]`);
    }
    mStride[d] = m[d] === 1 ? 0 : acc;
    acc *= m[d];
  }
  const rows = shape.slice(0, -1).reduce((a, b) => a * b, 1);
  const off = new Int32Array(rows);
  const idx = new Array<number>(R - 1).fill(0);
  let o = 0;
  for (let r = 0; r < rows; r++) {
    off[r] = o;
    for (let d = R - 2; d >= 0; d--) {
      idx[d]++;
      o += mStride[d];
      if (idx[d] < shape[d]) break;
      o -= mStride[d] * shape[d];
      idx[d] = 0;
    }
  }
  return off;
}

function attnSoftmax({ inputs, backend, attrs }: KernelArgs): tf.TensorInfo {
  const be = backend as CpuBackendLike;
  const s = values(be, inputs.scores), m = values(be, inputs.mask);
  const scale = (attrs as { scale: number }).scale;
  const [rows, L] = lastDim(inputs.scores);
  const mOff = broadcastRowOffsets(inputs.scores.shape, inputs.mask.shape);
  const mInner = inputs.mask.shape[inputs.mask.shape.length - 1] === 1 ? 0 : 1;
  const p = allocFloat32(rows * L);
  const nk = nativeKernels();
  if (nk) {
    nk.attnSoftmax(s, m, mOff, mInner, p, rows, L, scale);
    return f32(be, inputs.scores.shape, p);
  }
  for (let r = 0, o = 0; r < rows; r++, o += L) {
    const mo = mOff[r];
    let mx = -Infinity;
    for (let j = 0; j < L; j++) {
      const v = s[o + j] * scale + m[mo + j * mInner];
      p[o + j] = v;
      if (v > mx) mx = v;
    }
    let sum = 0;
    for (let j = 0; j < L; j++) {
      const e = Math.exp(p[o + j] - mx);
      p[o + j] = e;
      sum += e;
    }
    const inv = 1 / sum;
    for (let j = 0; j < L; j++) p[o + j] *= inv;
  }
  return f32(be, inputs.scores.shape, p);
}

function attnSoftmaxGrad({ inputs, backend, attrs }: KernelArgs): tf.TensorInfo {
  const be = backend as CpuBackendLike;
  const dp = values(be, inputs.dp), p = values(be, inputs.p);
  const scale = (attrs as { scale: number }).scale;
  const [rows, L] = lastDim(inputs.p);
  const ds = allocFloat32(rows * L);
  const nk = nativeKernels();
  if (nk) {
    nk.attnSoftmaxGrad(dp, p, ds, rows, L, scale);
    return f32(be, inputs.p.shape, ds);
  }
  for (let r = 0, o = 0; r < rows; r++, o += L) {
    let dot = 0;
    for (let j = 0; j < L; j++) dot += dp[o + j] * p[o + j];
    for (let j = 0; j < L; j++) ds[o + j] = scale * p[o + j] * (dp[o + j] - dot);
  }
  return f32(be, inputs.p.shape, ds);
}

/**
 * y = x·keep/(1−p), keep = hash(seed, i) ≥ p·2³². The mask is a function of (seed, index) only, so the
 * gradient is this kernel applied to dy with the same attributes, and no mask is stored.
 */
function dropout({ inputs, backend, attrs }: KernelArgs): tf.TensorInfo {
  const be = backend as CpuBackendLike;
  const x = values(be, inputs.x);
  const { rate, seed } = attrs as { rate: number; seed: number };
  const threshold = Math.min(2 ** 32 - 1, Math.floor(rate * 2 ** 32));
  const inv = 1 / (1 - rate);
  const y = allocFloat32(x.length);
  const s = seed >>> 0;
  const nk = nativeKernels();
  if (nk) nk.dropout(x, y, x.length, s, threshold, inv);
  else for (let i = 0; i < x.length; i++) y[i] = dropoutHash(s, i) >= threshold ? x[i] * inv : 0;
  return f32(be, inputs.x.shape, y);
}

const KERNELS: Record<string, (args: KernelArgs) => tf.TensorInfo | tf.TensorInfo[]> = {
  [FUSED_KERNELS.layerNorm]: layerNorm,
  [FUSED_KERNELS.layerNormGrad]: layerNormGrad,
  [FUSED_KERNELS.gelu]: gelu,
  [FUSED_KERNELS.geluGrad]: geluGrad,
  [FUSED_KERNELS.geluNew]: geluNew,
  [FUSED_KERNELS.geluNewGrad]: geluNewGrad,
  [FUSED_KERNELS.attnSoftmax]: attnSoftmax,
  [FUSED_KERNELS.attnSoftmaxGrad]: attnSoftmaxGrad,
  [FUSED_KERNELS.dropout]: dropout,
};

/** Register the fused kernels for the cpu backend (idempotent). */
export function registerFusedCpuKernels(): void {
  cpuBackend();
  for (const [name, fn] of Object.entries(KERNELS)) {
    if (tf.getKernel(name, "cpu")) continue;
    tf.registerKernel({ kernelName: name, backendName: "cpu", kernelFunc: fn as never });
  }
}

/** Remove them again (tests compare the fused and the composite paths). */
export function unregisterFusedCpuKernels(): void {
  for (const name of Object.keys(KERNELS)) {
    if (tf.getKernel(name, "cpu")) tf.unregisterKernel(name, "cpu");
  }
}
