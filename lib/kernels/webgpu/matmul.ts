/**
 * A tiled matmul as a hand-written WGSL compute kernel on the TF.js webgpu backend, in f32 and in
 * binary16 ("fp16": f16 storage, exact products, f32 accumulation), for the fp16 Linear layer and the
 * fp16 attention matmuls (`lib/ops/fp16_linear.ts`, `lib/ops/fp16_matmul.ts`).
 *
 * C[z] = A[z] · B[z] (+ bias, epilogue) for a batch of z. Every operand, and the output, is a strided
 * view of a flat tensor: element (z, row, col) sits at z1·s0 + z2·s1 + row·s2 + col·s3 with
 * z = z1·zInner + z2, so transposes and the attention heads' split and merge are index arithmetic, not
 * copies. Each workgroup of 8×8 threads computes a 32×32 tile of C, each thread a 4×4 block of it (four
 * vec4 accumulators, f32); the K axis is walked in steps of 16 through workgroup-memory tiles of A
 * (16×32, k-major) and B (16×32), each thread reading a vec4 of A and one of B per k. Loads from storage
 * are vec4 (four f32, or four halves in 64 bits) along the operand's contiguous axis when its strides and
 * extent along that axis allow (multiples of 4), else scalar; stores to C likewise.
 *
 * **fp16 precision.** An operand is binary16 storage (the int32 tensor of packed pairs that
 * `packF16Tensor` makes, two halves per 32-bit word) or float32, rounded to binary16 as it is loaded
 * (round to nearest even on the f32 bits with u32 arithmetic, as `roundF16`; a no-op on values that are
 * already binary16). Where the device has `shader-f16` and keeps f16 subnormals (`f16_device.ts`), the
 * WGSL module starts with `enable f16;` and:
 * - runs in f16: the storage reads (`array<f16>`, or `array<vec4<f16>>` for vectorised loads), the
 *   workgroup tiles (`vec4<f16>`, half the memory and bandwidth of f32 tiles), the conversions
 *   f16 → f32 (exact), and the store of the saved pre-activation z16 (`array<f16>`);
 * - runs in f32: every product and sum (`vec4<f32>(a16)` times `vec4<f32>(b16)`: a product of two
 *   halves has up to 22 significant bits, exact in f32 but not in f16), the bias add, `postScale` and
 *   the activation; the roundings to binary16 are integer arithmetic on the f32 bits (WGSL lets an f32 →
 *   f16 conversion round either way), with the half reinterpreted as `f16` by a bitcast.
 * Elsewhere the same kernel keeps f32 tiles and decodes halves with u32 arithmetic: the f32 emulation,
 * with identical results (the products are exact either way; only the summation order of the f32
 * accumulation could differ, and it is the same). See docs/PRECISION.md and docs/GPU.md.
 *
 * Epilogue, in order: + bias (rounded to binary16 in fp16 precision), round to binary16
 * (`round`), × `postScale` and round again, then an activation (`gelu` (erf), `gelu_new`, `relu`) in f32
 * on the rounded z, rounded again: y = f16(act(f16(z))), the fused GELU+Linear of the fp16 Linear, with
 * z16 optionally written to a packed tensor for the backward pass (f16 kernels only).
 *
 * Pipelines are compiled once per shader variant and device and recorded into TF.js's own command
 * encoder (`recordAndSubmit` of tfjs-backend-webgpu), so they are ordered with TF.js's kernels; the
 * output tensors are owned by TF.js, and nothing is read back.
 *
 * @example
 * ```ts
 * import { tf } from "../../runtime/tf.ts";
 * import { useBackend } from "../backend.ts";
 * import { webgpuMatMul } from "./matmul.ts";
 * await useBackend("webgpu");
 * const c = webgpuMatMul(tf.ones([2, 3]), tf.ones([3, 4])); // [2, 4] of 3s
 * ```
 * @module
 */
import { tf } from "../../runtime/tf.ts";
import { HALF_WGSL } from "./fp16_round.ts";
import { announceF16Fallback, webgpuF16Support } from "./f16_device.ts";

/** An operand: a float32 tensor, or packed binary16 storage with the logical shape of the operand. */
export type MatmulOperand = tf.Tensor | { packed: tf.Tensor; shape: number[] };

/** An activation the fp16 epilogue applies (HF names). */
export type GemmActivation = "none" | "gelu" | "gelu_new" | "relu";

export interface WebgpuMatMulOptions {
  transposeA?: boolean;
  transposeB?: boolean;
  /** [N] float32, added to every row before rounding. */
  bias?: tf.Tensor;
  /** Round the result to binary16 values (after the bias). */
  roundF16?: boolean;
  /** Multiply by this after the first rounding, then round again (fp16 attention scores). */
  postScale?: number;
}

/** Strides of a view: element (z, row, col) at z1·s[0] + z2·s[1] + row·s[2] + col·s[3]. */
export type ViewStrides = [number, number, number, number];

/** One operand of {@link webgpuGemm}. */
export interface WebgpuGemmOperand {
  /** float32 values, or (with `packed`) int32 words of two binary16 values each. */
  tensor: tf.Tensor;
  packed?: boolean;
  strides: ViewStrides;
}

/** A batched matmul for {@link webgpuGemm}: C[z] (M×N) = A[z] (M×K) · B[z] (K×N), z < batch. */
export interface WebgpuGemmSpec {
  batch: number;
  /** z = z1·zInner + z2 (the heads of attention); default 1. */
  zInner?: number;
  M: number;
  N: number;
  K: number;
  a: WebgpuGemmOperand;
  b: WebgpuGemmOperand;
  /** "fp16": binary16 operands (packed, or float32 rounded on load); "f32": plain float32. */
  precision: "f32" | "fp16";
  /** Output: flat float32 tensor of `size` elements with these strides (default: contiguous [batch, M, N]). */
  out?: { size: number; strides: ViewStrides };
  /** [N] float32 added to every row. */
  bias?: tf.Tensor;
  /** Round to binary16 after the bias. */
  round?: boolean;
  /** × postScale after the rounding, rounded again. */
  postScale?: number;
  /** Activation on the rounded result, rounded again (fp16 precision). */
  activation?: GemmActivation;
  /** Also return the rounded pre-activation z16 packed (contiguous output, f16 kernels only). */
  saveZ?: boolean;
}

// deno-lint-ignore no-explicit-any
type Gpu = any;

/** The parts of tfjs-backend-webgpu's `WebGPUBackend` used here (`recordAndSubmit` is internal). */
interface WebgpuBackendInternals {
  device: Gpu;
  makeTensorInfo(shape: number[], dtype: tf.DataType): tf.TensorInfo;
  uploadToGPU(dataId: unknown): void;
  recordAndSubmit(
    program: { pipeline: Gpu; dispatch: [number, number, number] },
    output: tf.TensorInfo,
    inputs: tf.TensorInfo[],
    uniforms: { type: string; data: number[] }[],
  ): void;
}

/** What `recordAndSubmit` dispatches; its class name is what `tf.profile` reports for the dispatch. */
class SimcseTiledMatmul {
  constructor(readonly pipeline: Gpu, readonly dispatch: [number, number, number]) {}
}

const TILE = 32, TK = 16, WG = 8; // 32×32 outputs per workgroup of 8×8 threads, 4×4 per thread

type Vec = "none" | "row" | "col";
type Src = "f32" | "f32round" | "half";

interface Variant {
  f16: boolean; // WGSL f16 (else f32 tiles and u32 decoding)
  a: { src: Src; vec: Vec };
  b: { src: Src; vec: Vec };
  outVec: boolean;
  bias: boolean;
  biasRound: boolean;
  round: boolean;
  scale: boolean;
  act: GemmActivation;
  saveZ: boolean;
}

/** WGSL type of a tile element. */
const tileType = (v: Variant) => v.f16 ? "f16" : "f32";

function storageType(src: Src, vec: boolean, f16: boolean): string {
  if (src !== "half") return vec ? "array<vec4<f32>>" : "array<f32>";
  if (f16) return vec ? "array<vec4<f16>>" : "array<f16>";
  return vec ? "array<vec2<u32>>" : "array<u32>";
}

/** fetchX(i) -> T and fetchX4(i4) -> vec4<T>: element i, or elements 4·i4 … 4·i4+3. */
function fetchFns(name: string, src: Src, vec: boolean, f16: boolean): string {
  const T = f16 ? "f16" : "f32";
  const one = (e: string) => {
    if (src === "f32") return e;
    if (f16) return `f16(unpack2x16float(f32ToHalfBits(${e})).x)`;
    return `halfBitsToF32(f32ToHalfBits(${e}))`;
  };
  if (!vec) {
    if (src !== "half") return `fn fetch${name}(i : u32) -> ${T} { return ${one(`${name}[i]`)}; }`;
    if (f16) return `fn fetch${name}(i : u32) -> f16 { return ${name}[i]; }`;
    return `fn fetch${name}(i : u32) -> f32 {
      let w = ${name}[i >> 1u];
      return halfBitsToF32(select(w >> 16u, w & 0xffffu, (i & 1u) == 0u));
    }`;
  }
  if (src === "half") {
    if (f16) return `fn fetch${name}4(i : u32) -> vec4<f16> { return ${name}[i]; }`;
    return `fn fetch${name}4(i : u32) -> vec4<f32> {
      let w = ${name}[i];
      return vec4<f32>(halfBitsToF32(w.x & 0xffffu), halfBitsToF32(w.x >> 16u),
                       halfBitsToF32(w.y & 0xffffu), halfBitsToF32(w.y >> 16u));
    }`;
  }
  if (src === "f32") return `fn fetch${name}4(i : u32) -> vec4<f32> { return ${name}[i]; }`;
  if (f16) return `fn fetch${name}4(i : u32) -> vec4<f16> { return vec4<f16>(round4(${name}[i])); }`;
  return `fn fetch${name}4(i : u32) -> vec4<f32> {
    let v = ${name}[i];
    return vec4<f32>(${["x", "y", "z", "w"].map((c) => one(`v.${c}`)).join(", ")});
  }`;
}

/**
 * WGSL statements that fill tile `name` (A: tileA[k][m/4][m%4], B: tileB[k][n/4][n%4]) for the
 * K step k0, vectorised along the operand's row or column axis, or scalar.
 */
function loadTile(name: "A" | "B", vec: Vec, T: string): string {
  // Logical axes: A (row = m, col = k), B (row = k, col = n). The tile's outer index is k.
  const isA = name === "A";
  const rowLimit = isA ? "M" : "K", colLimit = isA ? "K" : "N";
  const rowBase = isA ? "row0" : "k0", colBase = isA ? "k0" : "col0";
  const store = (k: string, mn: string, val: string) =>
    `tile${name}[${k}][(${mn}) / 4u][(${mn}) % 4u] = ${val};`;
  const off = (r: string, c: string) => `off${name}(z1, z2, ${r}, ${c})`;
  if (vec === "none") {
    // 512 elements, 8 per thread; the row index runs fastest for B (n), the k index for A.
    const [r, c] = isA ? ["e / 16u", "e % 16u"] : ["e / 32u", "e % 32u"];
    return `for (var s = 0u; s < 8u; s++) {
        let e = li + s * 64u;
        let r = ${r}; let c = ${c};
        let gr = ${rowBase} + r; let gc = ${colBase} + c;
        var v = ${T}(0.0);
        if (gr < uniforms.${rowLimit} && gc < uniforms.${colLimit}) { v = fetch${name}(${off("gr", "gc")}); }
        ${isA ? store("c", "r", "v") : store("r", "c", "v")}
      }`;
  }
  // 128 vec4s, 2 per thread.
  const alongK = (isA && vec === "col") || (!isA && vec === "row");
  const body = alongK
    // four consecutive k of one m (A) / n (B): scattered into four tile rows
    ? `let mn = e / 4u; let kq = (e % 4u) * 4u;
        let gr = ${isA ? "row0 + mn" : "k0 + kq"}; let gc = ${isA ? "k0 + kq" : "col0 + mn"};
        var v = vec4<${T}>(${T}(0.0));
        if (gr < uniforms.${rowLimit} && gc < uniforms.${colLimit}) { v = fetch${name}4(${
      off("gr", "gc")
    } / 4u); }
        ${store("kq", "mn", "v.x")} ${store("kq + 1u", "mn", "v.y")}
        ${store("kq + 2u", "mn", "v.z")} ${store("kq + 3u", "mn", "v.w")}`
    // four consecutive m (A) / n (B) of one k: one vec4 of the tile
    : `let k = e / 8u; let q = e % 8u;
        let gr = ${isA ? "row0 + q * 4u" : "k0 + k"}; let gc = ${isA ? "k0 + k" : "col0 + q * 4u"};
        var v = vec4<${T}>(${T}(0.0));
        if (gr < uniforms.${rowLimit} && gc < uniforms.${colLimit}) { v = fetch${name}4(${
      off("gr", "gc")
    } / 4u); }
        tile${name}[k][q] = v;`;
  return `for (var s = 0u; s < 2u; s++) {
        let e = li + s * 64u;
        ${body}
      }`;
}

const ACT_WGSL = /* wgsl */ `
// Φ(x) through erfc (Numerical Recipes' erfcc, relative error < 1.2e-7), accurate in both tails.
fn normCdf(x : f32) -> f32 {
  let z = abs(x) * 0.7071067811865476;
  let t = 1.0 / (1.0 + 0.5 * z);
  let p = -1.26551223 + t * (1.00002368 + t * (0.37409196 + t * (0.09678418 + t * (-0.18628806 +
    t * (0.27886807 + t * (-1.13520398 + t * (1.48851587 + t * (-0.82215223 + t * 0.17087277))))))));
  let half_erfc = 0.5 * t * exp(-z * z + p);
  return select(1.0 - half_erfc, half_erfc, x < 0.0);
}
fn act_gelu(x : f32) -> f32 { return x * normCdf(x); }
// 0.5·x·(1 + tanh(u)) = x / (1 + exp(-2u)), without the cancellation of 1 + tanh(u) for u < 0.
fn act_gelu_new(x : f32) -> f32 {
  let u = 0.7978845608028654 * (x + 0.044715 * x * x * x);
  return x / (1.0 + exp(-2.0 * u));
}
fn act_relu(x : f32) -> f32 { return max(x, 0.0); }
`;

function shader(v: Variant, nInputs: number): string {
  const T = tileType(v);
  const inputs: string[] = [];
  const decl = (name: string, type: string, access = "read") =>
    `@group(0) @binding(${inputs.push(name)}) var<storage, ${access}> ${name} : ${type};`;
  const declA = decl("A", storageType(v.a.src, v.a.vec !== "none", v.f16));
  const declB = decl("B", storageType(v.b.src, v.b.vec !== "none", v.f16));
  const declBias = v.bias ? decl("Bias", "array<f32>") : "";
  const declZ = v.saveZ ? decl("Z", "array<f16>", "read_write") : "";
  if (inputs.length !== nInputs) throw new Error("webgpuGemm: binding count mismatch");
  // recordAndSubmit's uniforms: NaN, Inf, then shape and strides (one i32 each, flat tensors) of every
  // input and of the output, then ours.
  const pads = Array.from({ length: 2 + 2 * (nInputs + 1) }, (_, i) => `pad${i} : u32,`).join(" ");
  const roundOne = v.f16
    ? (e: string) => `unpack2x16float(f32ToHalfBits(${e})).x`
    : (e: string) => `halfBitsToF32(f32ToHalfBits(${e}))`;
  let epilogue = "";
  if (v.bias) {
    const bias = (j: number) => {
      const raw = `Bias[min(col + ${j}u, uniforms.N - 1u)]`;
      return v.biasRound ? roundOne(raw) : raw;
    };
    epilogue += `x = x + vec4<f32>(${[0, 1, 2, 3].map(bias).join(", ")});\n`;
  }
  if (v.round) epilogue += "x = round4(x);\n";
  if (v.scale) epilogue += "x = round4(x * uniforms.scale);\n";
  if (v.saveZ) {
    epilogue += `for (var j = 0u; j < 4u; j++) {
          if (col + j < uniforms.N) {
            let e = offC(z1, z2, row, col + j);
            Z[e] = f16(x[j]);
            if (e + 1u == uniforms.total && (uniforms.total & 1u) == 1u) { Z[e + 1u] = f16(0.0); }
          }
        }\n`;
  }
  if (v.act !== "none") {
    epilogue +=
      `x = round4(vec4<f32>(act_${v.act}(x.x), act_${v.act}(x.y), act_${v.act}(x.z), act_${v.act}(x.w)));\n`;
  }
  const store = v.outVec
    ? "if (col < uniforms.N) { result[offC(z1, z2, row, col) / 4u] = x; }"
    : `for (var j = 0u; j < 4u; j++) {
          if (col + j < uniforms.N) { result[offC(z1, z2, row, col + j)] = x[j]; }
        }`;
  return `${v.f16 ? "enable f16;\n" : ""}// simcse tiled matmul (lib/kernels/webgpu/matmul.ts)
struct Uniforms {
  ${pads}
  M : u32, N : u32, K : u32, zInner : u32, scale : f32, total : u32,
  a0 : u32, a1 : u32, a2 : u32, a3 : u32,
  b0 : u32, b1 : u32, b2 : u32, b3 : u32,
  c0 : u32, c1 : u32, c2 : u32, c3 : u32,
};
@group(0) @binding(0) var<storage, read_write> result : ${v.outVec ? "array<vec4<f32>>" : "array<f32>"};
${declA}
${declB}
${declBias}
${declZ}
@group(0) @binding(${nInputs + 1}) var<uniform> uniforms : Uniforms;
${HALF_WGSL}
${v.act !== "none" ? ACT_WGSL : ""}
${fetchFns("A", v.a.src, v.a.vec !== "none", v.f16)}
${fetchFns("B", v.b.src, v.b.vec !== "none", v.f16)}
fn offA(z1 : u32, z2 : u32, r : u32, c : u32) -> u32 {
  return z1 * uniforms.a0 + z2 * uniforms.a1 + r * uniforms.a2 + c * uniforms.a3;
}
fn offB(z1 : u32, z2 : u32, r : u32, c : u32) -> u32 {
  return z1 * uniforms.b0 + z2 * uniforms.b1 + r * uniforms.b2 + c * uniforms.b3;
}
fn offC(z1 : u32, z2 : u32, r : u32, c : u32) -> u32 {
  return z1 * uniforms.c0 + z2 * uniforms.c1 + r * uniforms.c2 + c * uniforms.c3;
}
fn round4(x : vec4<f32>) -> vec4<f32> {
  return vec4<f32>(${["x", "y", "z", "w"].map((c) => roundOne(`x.${c}`)).join(", ")});
}

var<workgroup> tileA : array<array<vec4<${T}>, ${TILE / 4}>, ${TK}>;
var<workgroup> tileB : array<array<vec4<${T}>, ${TILE / 4}>, ${TK}>;

@compute @workgroup_size(${WG}, ${WG}, 1)
fn main(@builtin(workgroup_id) wg : vec3<u32>, @builtin(local_invocation_id) lid : vec3<u32>,
        @builtin(local_invocation_index) li : u32) {
  let z1 = wg.z / uniforms.zInner;
  let z2 = wg.z % uniforms.zInner;
  let row0 = wg.y * ${TILE}u;
  let col0 = wg.x * ${TILE}u;
  var acc : array<vec4<f32>, 4>;
  for (var i = 0u; i < 4u; i++) { acc[i] = vec4<f32>(0.0); }
  for (var k0 = 0u; k0 < uniforms.K; k0 = k0 + ${TK}u) {
    ${loadTile("A", v.a.vec, T)}
    ${loadTile("B", v.b.vec, T)}
    workgroupBarrier();
    for (var k = 0u; k < ${TK}u; k++) {
      // Products in f32: exact for binary16 operands (22 significant bits at most).
      let a = vec4<f32>(tileA[k][lid.y]);
      let b = vec4<f32>(tileB[k][lid.x]);
      acc[0] = acc[0] + a.x * b;
      acc[1] = acc[1] + a.y * b;
      acc[2] = acc[2] + a.z * b;
      acc[3] = acc[3] + a.w * b;
    }
    workgroupBarrier();
  }
  let col = col0 + lid.x * 4u;
  for (var i = 0u; i < 4u; i++) {
    let row = row0 + lid.y * 4u + i;
    if (row < uniforms.M) {
      var x = acc[i];
      ${epilogue}
      ${store}
    }
  }
}`;
}

interface Compiled {
  pipeline: Gpu;
  source: string;
  dispatches: number;
}

const pipelines = new WeakMap<object, Map<string, Compiled>>();

/** Shader variants compiled on the current device, with their WGSL source and dispatch counts. */
export function webgpuGemmPipelines(): Map<string, { f16: boolean; source: string; dispatches: number }> {
  const backend = tf.backend() as unknown as WebgpuBackendInternals;
  const m = pipelines.get(backend.device) ?? new Map<string, Compiled>();
  return new Map([...m].map(([k, c]) => [k, { f16: c.source.startsWith("enable f16;"), ...c }]));
}

function pipelineFor(backend: WebgpuBackendInternals, v: Variant, nInputs: number): Compiled {
  let cache = pipelines.get(backend.device);
  if (!cache) pipelines.set(backend.device, cache = new Map());
  const key = JSON.stringify(v);
  let c = cache.get(key);
  if (!c) {
    const source = shader(v, nInputs);
    const pipeline = backend.device.createComputePipeline({
      layout: "auto",
      compute: { module: backend.device.createShaderModule({ code: source }), entryPoint: "main" },
    });
    cache.set(key, c = { pipeline, source, dispatches: 0 });
  }
  return c;
}

/**
 * Which axis of a view can be read four elements at a time: the one with stride 1 when every other
 * stride (batch ones included) and the extent along it are multiples of 4.
 */
function vecAxis(s: ViewStrides, rows: number, cols: number, batchStrides: boolean[]): Vec {
  const zOk = (s[0] % 4 === 0 || !batchStrides[0]) && (s[1] % 4 === 0 || !batchStrides[1]);
  if (!zOk) return "none";
  if (s[3] === 1 && s[2] % 4 === 0 && cols % 4 === 0) return "col";
  if (s[2] === 1 && s[3] % 4 === 0 && rows % 4 === 0) return "row";
  return "none";
}

function flat(t: tf.Tensor): tf.TensorInfo {
  return { dataId: t.dataId, shape: [t.size], dtype: t.dtype };
}

/**
 * The general kernel: see {@link WebgpuGemmSpec} and the module doc. Returns the output as a flat float32
 * tensor (reshape it), and z16 packed when `saveZ` is set.
 */
export function webgpuGemm(spec: WebgpuGemmSpec): { out: tf.Tensor1D; z16?: tf.Tensor1D } {
  if (tf.getBackend() !== "webgpu") throw new Error("webgpuGemm needs the webgpu backend");
  const { batch, M, N, K } = spec;
  const zInner = spec.zInner ?? 1;
  const half = spec.precision === "fp16";
  const support = webgpuF16Support();
  const f16 = half && support.f16;
  if (half && !f16) announceF16Fallback();
  if (spec.saveZ && (!f16 || !spec.round)) {
    throw new Error("webgpuGemm: saveZ needs the f16 kernels and round");
  }
  if ((spec.activation ?? "none") !== "none" && !half) {
    throw new Error("webgpuGemm: activations are fp16 only");
  }
  const out = spec.out ?? { size: batch * M * N, strides: [zInner * M * N, M * N, N, 1] as ViewStrides };
  if (batch > 65535) throw new Error(`webgpuGemm: batch ${batch} exceeds one dispatch dimension`);
  const operandSrc = (o: WebgpuGemmOperand): Src => {
    if (o.packed) {
      if (!half || o.tensor.dtype !== "int32") {
        throw new Error("webgpuGemm: packed operands are int32, fp16 only");
      }
      return "half";
    }
    if (o.tensor.dtype !== "float32") throw new Error(`webgpuGemm: ${o.tensor.dtype} operand`);
    return half ? "f32round" : "f32";
  };
  const zUsed = [batch > zInner, zInner > 1];
  const v: Variant = {
    f16,
    a: { src: operandSrc(spec.a), vec: vecAxis(spec.a.strides, M, K, zUsed) },
    b: { src: operandSrc(spec.b), vec: vecAxis(spec.b.strides, K, N, zUsed) },
    outVec: vecAxis(out.strides, M, N, zUsed) === "col",
    bias: !!spec.bias,
    biasRound: !!spec.bias && half,
    round: !!spec.round,
    scale: spec.postScale !== undefined,
    act: spec.activation ?? "none",
    saveZ: !!spec.saveZ,
  };
  const backend = tf.backend() as unknown as WebgpuBackendInternals;
  const outInfo = backend.makeTensorInfo([out.size], "float32");
  let zInfo: tf.TensorInfo | undefined;
  if (v.saveZ) zInfo = backend.makeTensorInfo([Math.ceil(out.size / 2)], "int32");
  const result = () => ({
    out: tf.engine().makeTensorFromTensorInfo(outInfo) as tf.Tensor1D,
    z16: zInfo ? tf.engine().makeTensorFromTensorInfo(zInfo) as tf.Tensor1D : undefined,
  });
  if (out.size === 0 || batch * M * N === 0) return result();
  const inputs = [flat(spec.a.tensor), flat(spec.b.tensor)];
  if (spec.bias) {
    if (spec.bias.size !== N || spec.bias.dtype !== "float32") {
      throw new Error(`webgpuGemm: bias of ${spec.bias.size} values for ${N} columns`);
    }
    inputs.push(flat(spec.bias));
  }
  if (zInfo) inputs.push(zInfo);
  const compiled = pipelineFor(backend, v, inputs.length);
  backend.uploadToGPU(outInfo.dataId);
  for (const t of inputs) backend.uploadToGPU(t.dataId);
  const u32 = (data: number[]) => ({ type: "uint32", data });
  backend.recordAndSubmit(
    new SimcseTiledMatmul(compiled.pipeline, [Math.ceil(N / TILE), Math.ceil(M / TILE), batch]),
    outInfo,
    inputs,
    [
      u32([M]),
      u32([N]),
      u32([K]),
      u32([zInner]),
      { type: "float32", data: [spec.postScale ?? 1] },
      u32([out.size]),
      ...spec.a.strides.map((s) => u32([s])),
      ...spec.b.strides.map((s) => u32([s])),
      ...out.strides.map((s) => u32([s])),
    ],
  );
  compiled.dispatches++;
  return result();
}

function info(o: MatmulOperand): { t: tf.Tensor; shape: number[]; packed: boolean } {
  if (o instanceof tf.Tensor) {
    if (o.dtype !== "float32") throw new Error(`webgpuMatMul: ${o.dtype} operand`);
    return { t: o, shape: o.shape, packed: false };
  }
  if (o.packed.dtype !== "int32") throw new Error("webgpuMatMul: packed binary16 operands are int32 tensors");
  return { t: o.packed, shape: o.shape, packed: true };
}

/**
 * op(A) · op(B) for 2-D operands or 3-D ones with the same batch size, on the webgpu backend; see the
 * module doc for the options. With `roundF16` or a packed operand it is a binary16 matmul (float32
 * operands and the bias are rounded to binary16 as they are loaded; a no-op on binary16 values),
 * else a float32 one. Returns a float32 tensor [M, N] or [batch, M, N].
 */
export function webgpuMatMul(a: MatmulOperand, b: MatmulOperand, opts: WebgpuMatMulOptions = {}): tf.Tensor {
  if (tf.getBackend() !== "webgpu") throw new Error("webgpuMatMul needs the webgpu backend");
  const A = info(a), B = info(b);
  const rank = A.shape.length;
  if ((rank !== 2 && rank !== 3) || B.shape.length !== rank) {
    throw new Error(`webgpuMatMul: shapes [${A.shape}] and [${B.shape}] must both be 2-D or 3-D`);
  }
  const batch = rank === 3 ? A.shape[0] : 1;
  if (rank === 3 && B.shape[0] !== batch) {
    throw new Error(`webgpuMatMul: batch sizes of [${A.shape}] and [${B.shape}] differ`);
  }
  const ta = !!opts.transposeA, tb = !!opts.transposeB;
  const [ar, ac] = A.shape.slice(-2), [br, bc] = B.shape.slice(-2);
  const M = ta ? ac : ar, K = ta ? ar : ac, K2 = tb ? bc : br, N = tb ? br : bc;
  if (K !== K2) throw new Error(`webgpuMatMul: inner dimensions of [${A.shape}] and [${B.shape}] differ`);
  if (opts.bias && (opts.bias.size !== N || opts.bias.dtype !== "float32")) {
    throw new Error(`webgpuMatMul: bias of ${opts.bias.size} values for ${N} columns`);
  }
  const half = A.packed || B.packed || !!opts.roundF16;
  const { out } = webgpuGemm({
    batch,
    M,
    N,
    K,
    a: { tensor: A.t, packed: A.packed, strides: [M * K, 0, ta ? 1 : K, ta ? M : 1] },
    b: { tensor: B.t, packed: B.packed, strides: [K * N, 0, tb ? 1 : N, tb ? K : 1] },
    precision: half ? "fp16" : "f32",
    bias: opts.bias,
    round: !!opts.roundF16,
    postScale: opts.postScale,
  });
  const shaped = tf.reshape(out, rank === 3 ? [batch, M, N] : [M, N]);
  out.dispose();
  return shaped;
}
