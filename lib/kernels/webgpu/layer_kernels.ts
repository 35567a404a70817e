/**
 * The fused layer kernels of `lib/ops/fused.ts` on the TF.js webgpu backend, each ONE WGSL dispatch,
 * under the names and with the inputs, outputs and attributes of the cpu kernels
 * (`lib/kernels/kernel_names.ts`, `lib/kernels/cpu_fused.ts`):
 *
 * - `SimcseLayerNorm` {x, gamma, beta}, {eps} → [y, x̂, rstd]: one workgroup per row; the mean, then the
 *   variance of (x − μ) (two passes, as the cpu kernel), as workgroup tree reductions in f32;
 *   rstd = 1/√(σ² + ε) refined by a Newton step (the cpu kernels keep row statistics in float64).
 * - `SimcseLayerNormGrad` {dy, xhat, rstd, gamma} → [dx, dγ, dβ]: the first `rows` workgroups compute
 *   dx = r·(g − mean(g) − x̂·mean(g·x̂)), g = dy·γ, one row each; the workgroups after them the column
 *   sums dγ = Σ dy·x̂ and dβ = Σ dy, 16 columns each (16 lanes per column, then a tree reduction), so
 *   the whole gradient is one dispatch without atomics and the sums do not depend on scheduling.
 * - `SimcseGelu`, `SimcseGeluNew` and their gradients: elementwise; erf is the toolkit's rational fit
 *   (`lib/kernels/erf.ts`, same coefficients), evaluated in f32; gelu_new is written with the logistic
 *   σ(2u) = (1 + tanh u)/2, which does not cancel where tanh saturates (its gradient keeps the
 *   1e-6 agreement with float64 that the cpu kernels have).
 * - `SimcseAttnSoftmax` {scores, mask}, {scale} → softmax(scores·scale + mask) over the last axis, the
 *   mask broadcast to the scores as on cpu (any shape that broadcasts); `SimcseAttnSoftmaxGrad`
 *   {dp, p}, {scale} → scale·p·(dp − Σ dp·p). Dropout on the probabilities stays the separate
 *   `SimcseDropout` kernel (`dropout.ts`), as on cpu.
 *
 * All arithmetic is f32; nothing is read back (docs/GPU.md).
 *
 * @example
 * ```ts
 * import { useBackend } from "../backend.ts";
 * import { registerWebgpuLayerKernels } from "./layer_kernels.ts";
 * await useBackend("webgpu");
 * registerWebgpuLayerKernels(); // idempotent; `useBackend("webgpu")` already does it
 * ```
 * @module
 */
import { tf } from "../../runtime/tf.ts";
import { FUSED_KERNELS } from "../kernel_names.ts";
import {
  bindingsWgsl,
  dispatchWgsl,
  flatView as flat,
  groupIndexWgsl,
  newOutput,
  sizeOf as size,
} from "./dispatch.ts";

type KernelArgs = {
  inputs: Record<string, tf.TensorInfo>;
  attrs?: Record<string, unknown>;
};

/** Threads per workgroup of the row kernels (a power of two, for the tree reductions). */
const WG = 128;
/** Threads per workgroup of the elementwise kernels. */
const EW = 256;
/** Columns per workgroup of the LayerNorm gradient's dγ/dβ sums, and lanes per column (WG = COLS·LANES). */
const COLS = 16, LANES = WG / COLS;

/** [rows, last-axis length] of a tensor. */
function rowsOf(shape: number[]): [number, number] {
  const n = shape[shape.length - 1] ?? 1;
  return [n === 0 ? 0 : size(shape) / n, n];
}

/** WGSL: a tree sum over the workgroup of `v` (every thread gets the total); call in uniform control flow. */
const REDUCE = /* wgsl */ `
var<workgroup> red : array<f32, ${WG}>;
fn wgSum(v : f32, lid : u32) -> f32 {
  red[lid] = v;
  workgroupBarrier();
  for (var s = ${WG / 2}u; s > 0u; s = s >> 1u) {
    if (lid < s) { red[lid] = red[lid] + red[lid + s]; }
    workgroupBarrier();
  }
  let total = red[0];
  workgroupBarrier();
  return total;
}
fn wgMax(v : f32, lid : u32) -> f32 {
  red[lid] = v;
  workgroupBarrier();
  for (var s = ${WG / 2}u; s > 0u; s = s >> 1u) {
    if (lid < s) { red[lid] = max(red[lid], red[lid + s]); }
    workgroupBarrier();
  }
  let total = red[0];
  workgroupBarrier();
  return total;
}`;

const ROW_MAIN = `@compute @workgroup_size(${WG})
fn main(@builtin(workgroup_id) wid : vec3<u32>, @builtin(local_invocation_index) lid : u32)`;

// ---------------------------------------------------------------------------------------------
// LayerNorm

const LAYER_NORM =
  bindingsWgsl(["Y", "Xhat", "Rstd"], ["X", "Gamma", "Beta"], "rows : u32, H : u32, eps : f32,") +
  REDUCE + /* wgsl */ `
${ROW_MAIN} {
  let row = ${groupIndexWgsl};
  if (row >= u.rows) { return; }
  let H = u.H;
  let o = row * H;
  var s = 0.0;
  for (var j = lid; j < H; j = j + ${WG}u) { s = s + X[o + j]; }
  let mu = wgSum(s, lid) / f32(H);
  var q = 0.0;
  for (var j = lid; j < H; j = j + ${WG}u) {
    let d = X[o + j] - mu;
    q = q + d * d;
  }
  // 1/√a with one Newton step: WGSL lets sqrt and division be a few ulp off (they are on lavapipe)
  let a = wgSum(q, lid) / f32(H) + u.eps;
  let r0 = inverseSqrt(a);
  let rs = r0 * (1.5 - 0.5 * a * r0 * r0);
  if (lid == 0u) { Rstd[row] = rs; }
  for (var j = lid; j < H; j = j + ${WG}u) {
    let t = (X[o + j] - mu) * rs;
    Xhat[o + j] = t;
    Y[o + j] = t * Gamma[j] + Beta[j];
  }
}`;

function layerNorm({ inputs, attrs }: KernelArgs): tf.TensorInfo[] {
  const { x, gamma, beta } = inputs;
  const eps = (attrs as { eps: number }).eps;
  const [rows, H] = rowsOf(x.shape);
  const y = newOutput(x.shape), xhat = newOutput(x.shape), rstd = newOutput(x.shape.slice(0, -1));
  dispatchWgsl({
    key: "simcse_layer_norm",
    code: LAYER_NORM,
    outputs: [flat(y), flat(xhat), flat(rstd)],
    inputs: [flat(x), flat(gamma), flat(beta)],
    uniforms: [{ type: "uint32", data: [rows] }, { type: "uint32", data: [H] }, {
      type: "float32",
      data: [eps],
    }],
    workgroups: H === 0 ? 0 : rows,
  });
  return [y, xhat, rstd];
}

const LAYER_NORM_GRAD =
  bindingsWgsl(["Dx", "Dgamma", "Dbeta"], ["Dy", "Xh", "Rstd", "Gamma"], "rows : u32, H : u32,") +
  REDUCE + /* wgsl */ `
var<workgroup> redB : array<f32, ${WG}>;
${ROW_MAIN} {
  let g = ${groupIndexWgsl};
  let H = u.H;
  if (g < u.rows) { // dx of row g
    let o = g * H;
    var s1 = 0.0;
    var s2 = 0.0;
    for (var j = lid; j < H; j = j + ${WG}u) {
      let gx = Dy[o + j] * Gamma[j];
      s1 = s1 + gx;
      s2 = s2 + gx * Xh[o + j];
    }
    let m1 = wgSum(s1, lid) / f32(H);
    let m2 = wgSum(s2, lid) / f32(H);
    let rs = Rstd[g];
    for (var j = lid; j < H; j = j + ${WG}u) {
      Dx[o + j] = rs * (Dy[o + j] * Gamma[j] - m1 - Xh[o + j] * m2);
    }
    return;
  }
  // dγ and dβ of ${COLS} columns: lane l sums rows l, l + ${LANES}, …; then the lanes are summed
  let col = (g - u.rows) * ${COLS}u + lid % ${COLS}u;
  let lane = lid / ${COLS}u;
  var sg = 0.0;
  var sb = 0.0;
  if (col < H) {
    for (var r = lane; r < u.rows; r = r + ${LANES}u) {
      let d = Dy[r * H + col];
      sg = sg + d * Xh[r * H + col];
      sb = sb + d;
    }
  }
  red[lid] = sg;
  redB[lid] = sb;
  workgroupBarrier();
  for (var s = ${WG / 2}u; s >= ${COLS}u; s = s >> 1u) {
    if (lid < s) {
      red[lid] = red[lid] + red[lid + s];
      redB[lid] = redB[lid] + redB[lid + s];
    }
    workgroupBarrier();
  }
  if (lid < ${COLS}u && col < H) {
    Dgamma[col] = red[lid];
    Dbeta[col] = redB[lid];
  }
}`;

function layerNormGrad({ inputs }: KernelArgs): tf.TensorInfo[] {
  const { dy, xhat, rstd, gamma } = inputs;
  const [rows, H] = rowsOf(xhat.shape);
  const dx = newOutput(xhat.shape), dg = newOutput([H]), db = newOutput([H]);
  dispatchWgsl({
    key: "simcse_layer_norm_grad",
    code: LAYER_NORM_GRAD,
    outputs: [flat(dx), dg, db],
    inputs: [flat(dy), flat(xhat), flat(rstd), flat(gamma)],
    uniforms: [{ type: "uint32", data: [rows] }, { type: "uint32", data: [H] }],
    workgroups: H === 0 ? 0 : rows + Math.ceil(H / COLS),
  });
  return [dx, dg, db];
}

// ---------------------------------------------------------------------------------------------
// GELU and gelu_new

/** WGSL erf: the rational fit of `lib/kernels/erf.ts` (x clamped to [−4, 4]), in f32. */
const ERF = /* wgsl */ `
fn erf32(x : f32) -> f32 {
  let v = clamp(x, -4.0, 4.0);
  let z = v * v;
  let p = ((((((-2.72614225801306e-10 * z + 2.77068142495902e-08) * z - 2.10102402082508e-06) * z -
    5.69250639462346e-05) * z - 7.34990630326855e-04) * z - 2.95459980854025e-03) * z -
    1.60960333262415e-02) * v;
  let q = (((-1.45660718464996e-05 * z - 2.13374055278905e-04) * z - 1.68282697438203e-03) * z -
    7.37332916720468e-03) * z - 1.42647390514189e-02;
  return p / q;
}
fn geluNewArg(x : f32) -> f32 {
  // u = c·(x + 0.044715·x³), clamped where exp(±2u) would overflow f32 (σ(±80) is 0 or 1 there)
  return clamp(0.7978845608028654 * (x + 0.044715 * x * x * x), -40.0, 40.0);
}
// gelu_new = 0.5·x·(1 + tanh u) = x·σ(2u), and 1 − tanh²u = 4·σ(2u)·σ(−2u): written with σ so that
// neither 1 + tanh u nor 1 − tanh²u cancels where tanh saturates
fn sigmoid2(u : f32) -> f32 { return 1.0 / (1.0 + exp(-2.0 * u)); }`;

/** The elementwise kernels: WGSL expression of the output element `i` (inputs X, and Dy for gradients). */
const ELEMENTWISE: Record<string, { inputs: string[]; expr: string }> = {
  [FUSED_KERNELS.gelu]: { inputs: ["X"], expr: "0.5 * x * (1.0 + erf32(x * 0.7071067811865476))" },
  [FUSED_KERNELS.geluGrad]: {
    inputs: ["Dy", "X"],
    expr:
      "Dy[i] * (0.5 * (1.0 + erf32(x * 0.7071067811865476)) + x * 0.3989422804014327 * exp(-0.5 * x * x))",
  },
  [FUSED_KERNELS.geluNew]: { inputs: ["X"], expr: "x * sigmoid2(geluNewArg(x))" },
  [FUSED_KERNELS.geluNewGrad]: {
    inputs: ["Dy", "X"],
    expr: "Dy[i] * (sp + 2.0 * x * sp * sn * 0.7978845608028654 * (1.0 + 3.0 * 0.044715 * x * x))",
  },
};

function elementwise(name: string) {
  const { inputs: names, expr } = ELEMENTWISE[name];
  const code = bindingsWgsl(["Out"], names, "n : u32,") + ERF + /* wgsl */ `
@compute @workgroup_size(${EW})
fn main(@builtin(workgroup_id) wid : vec3<u32>, @builtin(local_invocation_index) lid : u32) {
  let i = ${groupIndexWgsl} * ${EW}u + lid;
  if (i >= u.n) { return; }
  let x = X[i];
  ${
    name === FUSED_KERNELS.geluNewGrad
      ? "let v = geluNewArg(x); let sp = sigmoid2(v); let sn = sigmoid2(-v);"
      : ""
  }
  Out[i] = ${expr};
}`;
  return ({ inputs }: KernelArgs): tf.TensorInfo => {
    const x = inputs.x, n = size(x.shape);
    const out = newOutput(x.shape);
    dispatchWgsl({
      key: `simcse_${name}`,
      code,
      outputs: [flat(out)],
      inputs: names.map((v) => flat(v === "X" ? x : inputs.dy)),
      uniforms: [{ type: "uint32", data: [n] }],
      workgroups: Math.ceil(n / EW),
    });
    return out;
  };
}

// ---------------------------------------------------------------------------------------------
// Attention softmax

/**
 * How the mask broadcasts over the rows of the scores: the rows' leading axes merged into at most
 * three (sizes d and mask strides s, 0 where the mask broadcasts), and the mask's stride along the
 * last axis (0 or 1).
 */
export function maskLayout(
  shape: number[],
  maskShape: number[],
): { d: number[]; s: number[]; inner: number } {
  const R = shape.length;
  if (maskShape.length > R) throw new Error(`attention mask [${maskShape}] has more axes than the scores`);
  const m = [...new Array(R - maskShape.length).fill(1), ...maskShape];
  const stride = new Array<number>(R);
  for (let d = R - 1, acc = 1; d >= 0; d--) {
    if (m[d] !== 1 && m[d] !== shape[d]) {
      throw new Error(`attention mask [${maskShape}] does not broadcast to scores [${shape}]`);
    }
    stride[d] = m[d] === 1 ? 0 : acc;
    acc *= m[d];
  }
  const axes: [number, number][] = []; // [size, mask stride], outermost first, size-1 axes dropped
  for (let d = 0; d < R - 1; d++) {
    if (shape[d] === 1) continue;
    const last = axes[axes.length - 1];
    if (last && last[1] === stride[d] * shape[d]) last.splice(0, 2, last[0] * shape[d], stride[d]);
    else axes.push([shape[d], stride[d]]);
  }
  if (axes.length > 3) {
    throw new Error(`attention mask [${maskShape}] broadcasts to scores [${shape}] in more than 3 blocks`);
  }
  while (axes.length < 3) axes.unshift([1, 0]);
  return {
    d: axes.map((a) => a[0]),
    s: axes.map((a) => a[1]),
    inner: R > 0 ? (stride[R - 1] === 0 ? 0 : 1) : 0,
  };
}

const ATTN_SOFTMAX = bindingsWgsl(
  ["P"],
  ["S", "M"],
  "rows : u32, L : u32, scale : f32, d1 : u32, d2 : u32, s0 : u32, s1 : u32, s2 : u32, inner : u32,",
) + REDUCE + /* wgsl */ `
${ROW_MAIN} {
  let row = ${groupIndexWgsl};
  if (row >= u.rows) { return; }
  let L = u.L;
  let o = row * L;
  let mo = (row / (u.d1 * u.d2)) * u.s0 + ((row / u.d2) % u.d1) * u.s1 + (row % u.d2) * u.s2;
  var mx = -3.4028234663852886e38;
  for (var j = lid; j < L; j = j + ${WG}u) {
    let v = S[o + j] * u.scale + M[mo + j * u.inner];
    P[o + j] = v;
    mx = max(mx, v);
  }
  mx = wgMax(mx, lid);
  var sum = 0.0;
  for (var j = lid; j < L; j = j + ${WG}u) {
    let e = exp(P[o + j] - mx);
    P[o + j] = e;
    sum = sum + e;
  }
  let inv = 1.0 / wgSum(sum, lid);
  for (var j = lid; j < L; j = j + ${WG}u) { P[o + j] = P[o + j] * inv; }
}`;

function attnSoftmax({ inputs, attrs }: KernelArgs): tf.TensorInfo {
  const { scores, mask } = inputs;
  const scale = (attrs as { scale: number }).scale;
  const [rows, L] = rowsOf(scores.shape);
  const { d, s, inner } = maskLayout(scores.shape, mask.shape);
  const p = newOutput(scores.shape);
  const u32 = (v: number) => ({ type: "uint32" as const, data: [v] });
  dispatchWgsl({
    key: "simcse_attn_softmax",
    code: ATTN_SOFTMAX,
    outputs: [flat(p)],
    inputs: [flat(scores), flat(mask)],
    uniforms: [
      u32(rows),
      u32(L),
      { type: "float32", data: [scale] },
      u32(d[1]),
      u32(d[2]),
      ...s.map(u32),
      u32(inner),
    ],
    workgroups: L === 0 ? 0 : rows,
  });
  return p;
}

const ATTN_SOFTMAX_GRAD = bindingsWgsl(["Ds"], ["Dp", "P"], "rows : u32, L : u32, scale : f32,") + REDUCE +
  /* wgsl */ `
${ROW_MAIN} {
  let row = ${groupIndexWgsl};
  if (row >= u.rows) { return; }
  let L = u.L;
  let o = row * L;
  var dot = 0.0;
  for (var j = lid; j < L; j = j + ${WG}u) { dot = dot + Dp[o + j] * P[o + j]; }
  dot = wgSum(dot, lid);
  for (var j = lid; j < L; j = j + ${WG}u) { Ds[o + j] = u.scale * P[o + j] * (Dp[o + j] - dot); }
}`;

function attnSoftmaxGrad({ inputs, attrs }: KernelArgs): tf.TensorInfo {
  const { dp, p } = inputs;
  const scale = (attrs as { scale: number }).scale;
  const [rows, L] = rowsOf(p.shape);
  const ds = newOutput(p.shape);
  dispatchWgsl({
    key: "simcse_attn_softmax_grad",
    code: ATTN_SOFTMAX_GRAD,
    outputs: [flat(ds)],
    inputs: [flat(dp), flat(p)],
    uniforms: [{ type: "uint32", data: [rows] }, { type: "uint32", data: [L] }, {
      type: "float32",
      data: [scale],
    }],
    workgroups: L === 0 ? 0 : rows,
  });
  return ds;
}

const KERNELS: Record<string, (args: KernelArgs) => tf.TensorInfo | tf.TensorInfo[]> = {
  [FUSED_KERNELS.layerNorm]: layerNorm,
  [FUSED_KERNELS.layerNormGrad]: layerNormGrad,
  [FUSED_KERNELS.gelu]: elementwise(FUSED_KERNELS.gelu),
  [FUSED_KERNELS.geluGrad]: elementwise(FUSED_KERNELS.geluGrad),
  [FUSED_KERNELS.geluNew]: elementwise(FUSED_KERNELS.geluNew),
  [FUSED_KERNELS.geluNewGrad]: elementwise(FUSED_KERNELS.geluNewGrad),
  [FUSED_KERNELS.attnSoftmax]: attnSoftmax,
  [FUSED_KERNELS.attnSoftmaxGrad]: attnSoftmaxGrad,
};

/** The kernel names this module registers on webgpu. */
export const WEBGPU_LAYER_KERNELS: readonly string[] = Object.keys(KERNELS);

/** Register the layer kernels for the webgpu backend (idempotent). */
export function registerWebgpuLayerKernels(): void {
  for (const [name, fn] of Object.entries(KERNELS)) {
    if (tf.getKernel(name, "webgpu")) continue;
    tf.registerKernel({ kernelName: name, backendName: "webgpu", kernelFunc: fn as never });
  }
}

/** Remove them again (tests compare the kernels with the TF.js-op path). */
export function unregisterWebgpuLayerKernels(): void {
  for (const name of Object.keys(KERNELS)) {
    if (tf.getKernel(name, "webgpu")) tf.unregisterKernel(name, "webgpu");
  }
}
