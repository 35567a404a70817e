/**
 * Matmuls in f32, bf16 and f16 (f32 accumulation and output) through oneDNN (`libdnnl.so.2`, Debian
 * package `libdnnl2`, headers in `libdnnl-dev`), reached with `Deno.dlopen` through a small C layer
 * (`native/onednn_shim.c`, compiled once per machine and cached by `native_kernels.ts`). oneDNN picks
 * its kernels from the CPU itself (e.g. AMX or `avx512_core_bf16` for bf16, `avx512_core_fp16`/AMX for
 * f16), with no core-type setting; see docs/CPU-PERF.md.
 *
 * {@link gemm} is the one entry point: a row-major, strided matmul batched over up to two axes,
 *
 *     C[i1, i2] = alpha · op(A[i1, i2]) · op(B[i1, i2]) + beta · C[i1, i2],
 *
 * whose operands are float32 arrays (rounded to the 16-bit type inside the kernel, round to nearest,
 * ties to even: bit-exact with `lib/ops/bf16.ts` / `lib/ops/fp16.ts`) or 16-bit codes of that type
 * (`Uint16Array`), and whose f32 result can be rounded to the 16-bit type in the same call. It runs on
 * the first of:
 *
 * 1. oneDNN, when the library and a C compiler are present and oneDNN has a non-reference kernel for
 *    the type on this CPU;
 * 2. OpenBLAS `cblas_sgemm` (`cpu_blas.ts`) on copies rounded in JS (16-bit products are exact in f32,
 *    so only the summation order differs from oneDNN);
 * 3. plain JS loops.
 *
 * Each fallback is announced once on stderr, with the reason. {@link describeMatmul} says what was
 * found. `SIMCSE_ONEDNN=off` skips oneDNN.
 *
 * @example
 * ```ts
 * import { gemm } from "./onednn.ts";
 * const a = new Float32Array([1, 2, 3, 4]), b = new Float32Array([1, 0, 0, 1]), c = new Float32Array(4);
 * gemm({ type: "bf16", m: 2, n: 2, k: 2, a: { data: a, ld: 2 }, b: { data: b, ld: 2 }, c: { data: c, ld: 2 } });
 * // c = [1, 2, 3, 4]
 * ```
 * @module
 */
import {
  cpuFlags,
  cpuFlagsKnown,
  loadFailure,
  nativeKernels,
  OPENMP,
  openTrustedLibrary,
  SMALL_GEMM_MAX,
} from "./native_kernels.ts";
import { allocFloat32, releaseFloat32 } from "./cpu_pool.ts";
import { loadBlas } from "./cpu_blas.ts";
import { packBf16, roundBf16Array, unpackBf16 } from "../runtime/bfloat16.ts";
import { packF16, roundF16Array, unpackF16 } from "../runtime/float16.ts";

/** Operand type of a matmul (accumulation and output are always f32). */
export type GemmType = "f32" | "bf16" | "f16";

/** A matrix operand: float32 values, or 16-bit codes of the gemm's type; row stride `ld`. */
export interface GemmOperand {
  data: Float32Array | Uint16Array;
  /**
   * The float32 values are already values of the gemm's 16-bit type (a half op's output, or codes
   * widened once for two products): a kernel that widens its operands takes them as they are, with
   * no rounding copy. Values that are not would then enter the product unrounded.
   */
  rounded?: boolean;
  /** Elements before the first one (default 0). */
  offset?: number;
  /** Row stride of the matrix as stored (before any transpose). */
  ld: number;
  /** Element strides of the two batch axes (default [0, 0]; needed when `batch` is given). */
  strides?: [number, number];
}

/** The output: float32, row stride `ld`. */
export interface GemmOutput {
  data: Float32Array;
  offset?: number;
  ld: number;
  strides?: [number, number];
}

/** One (batched) matmul; see the module doc. */
export interface GemmSpec {
  type: GemmType;
  transA?: boolean;
  transB?: boolean;
  m: number;
  n: number;
  k: number;
  /** Sizes of the two batch axes (default [1, 1]). */
  batch?: [number, number];
  a: GemmOperand;
  b: GemmOperand;
  c: GemmOutput;
  /** Default 1. */
  alpha?: number;
  /** Default 0 (C is overwritten; with 0 its old contents are never read). */
  beta?: number;
  /** Round C to the 16-bit type afterwards (bf16/f16 only). */
  roundOut?: boolean;
  /** With `roundOut`: then multiply by this and round again (default 1: no second step). */
  postScale?: number;
}

const SOURCE = new URL("./native/onednn_shim.c", import.meta.url);
const SHIM_FLAGS = ["-O3", "-march=native", OPENMP, "-fPIC", "-shared"];

const SYMBOLS = {
  simcse_dnnl_init: { parameters: [], result: "i32" },
  simcse_dnnl_set_threads: { parameters: ["i32"], result: "void" },
  simcse_dnnl_version: { parameters: ["buffer", "i64"], result: "void" },
  simcse_dnnl_impl: { parameters: ["i32", "i64", "i64", "i64", "buffer", "i64"], result: "i32" },
  simcse_dnnl_matmul: {
    parameters: [
      "i32", // dt
      "i32", // a16
      "i32", // b16
      "i32", // ta
      "i32", // tb
      "i64", // b1
      "i64", // b2
      "i64", // m
      "i64", // n
      "i64", // k
      "buffer", // a
      "i64", // lda
      "i64", // sa1
      "i64", // sa2
      "buffer", // b
      "i64", // ldb
      "i64", // sb1
      "i64", // sb2
      "buffer", // c
      "i64", // ldc
      "i64", // sc1
      "i64", // sc2
      "f32", // alpha
      "f32", // beta
      "i32", // round_out
      "f32", // post_scale
    ],
    result: "i32",
  },
  simcse_pack_bf16: { parameters: ["buffer", "buffer", "i64"], result: "void" },
  simcse_pack_f16: { parameters: ["buffer", "buffer", "i64"], result: "void" },
  simcse_round_bf16: { parameters: ["buffer", "buffer", "i64"], result: "void" },
  simcse_round_f16: { parameters: ["buffer", "buffer", "i64"], result: "void" },
} as const;

type Shim = Deno.DynamicLibrary<typeof SYMBOLS>["symbols"];

/** What was found when oneDNN was loaded. */
export interface OneDnnInfo {
  /** "oneDNN 2.6.3 (effective ISA avx512_core_amx)". */
  version: string;
  /** oneDNN's kernel for each type at a 256³ probe ("brg:avx512_core_amx", …), or null when it has none but its reference code. */
  impl: Record<GemmType, string | null>;
  /** The compiled shim. */
  path: string;
}

const DT: Record<GemmType, number> = { f32: 0, bf16: 1, f16: 2 };

let shim: Shim | null = null;
let info: OneDnnInfo | null = null;
let reason: string | null = null;
let tried = false;
let enabled = true;

function readCString(buf: Uint8Array): string {
  const end = buf.indexOf(0);
  return new TextDecoder().decode(buf.subarray(0, end < 0 ? buf.length : end));
}

/** Load oneDNN through the shim (first call compiles it). Null, with {@link oneDnnUnavailableReason}, when it cannot. */
export function loadOneDnn(): OneDnnInfo | null {
  if (tried) return info;
  tried = true;
  try {
    if (Deno.env.get("SIMCSE_ONEDNN") === "off") {
      reason = "SIMCSE_ONEDNN=off";
      return null;
    }
    const opened = openTrustedLibrary(
      SOURCE,
      { name: "simcse_onednn", flags: SHIM_FLAGS, libs: ["-ldnnl"] },
      SYMBOLS,
    );
    if ("error" in opened) {
      reason = /ldnnl|dnnl\.h/.test(opened.error)
        ? "oneDNN not found (install libdnnl2 and libdnnl-dev)"
        : opened.error;
      return null;
    }
    const lib = opened.lib.symbols;
    const st = lib.simcse_dnnl_init();
    if (st !== 0) {
      reason = `oneDNN could not create a CPU engine (${st})`;
      return null;
    }
    const buf = new Uint8Array(256);
    lib.simcse_dnnl_version(buf, 256n);
    const version = readCString(buf);
    const impl = {} as Record<GemmType, string | null>;
    for (const t of ["f32", "bf16", "f16"] as GemmType[]) {
      buf.fill(0);
      const ok = lib.simcse_dnnl_impl(DT[t], 256n, 256n, 256n, buf, 256n) === 0;
      const name = ok ? readCString(buf) : "";
      impl[t] = ok && !name.startsWith("ref") ? name : null;
    }
    shim = lib;
    info = { version, impl, path: opened.path };
    return info;
  } catch (e) {
    reason = loadFailure(e);
    return null;
  }
}

/** Why oneDNN is not in use, or null. */
export function oneDnnUnavailableReason(): string | null {
  return reason;
}

/** Switch oneDNN off and on again (tests compare the fallbacks; the bench compares engines). */
export function setOneDnnEnabled(on: boolean): void {
  enabled = on;
}

let noBlas = false;

/** Tests: also skip OpenBLAS (true), so that the JS loops run. */
export function setGemmBlasDisabled(off: boolean): void {
  noBlas = off;
}

/** oneDNN's thread count (OpenMP), when it is loaded. */
export function setOneDnnThreads(n: number): void {
  if (loadOneDnn()) shim!.simcse_dnnl_set_threads(n);
}

/**
 * The shim's FFI symbols once oneDNN is loaded, else null: for `bench/ffi_profile.ts`, which wraps them with
 * timers. The toolkit itself calls them only through {@link gemm}.
 */
export function oneDnnSymbols(): Shim | null {
  return loadOneDnn() ? shim : null;
}

/** What runs a matmul of `type` here: "onednn", "openblas" (on rounded copies) or "js". */
export function gemmEngine(type: GemmType): "onednn" | "openblas" | "js" {
  if (enabled && loadOneDnn() && (info!.impl[type] || (type === "f16" && info!.impl.f32))) return "onednn";
  return !noBlas && loadBlas() ? "openblas" : "js";
}

/**
 * True when a matmul of `type` runs on a float32 kernel that widens its 16-bit operands into copies at
 * every call (f16 without an f16 kernel; bf16 on the fallbacks): splitting a product into pieces of rows
 * then widens its B operand once per piece.
 */
export function gemmWidensOperands(type: GemmType): boolean {
  if (type === "f32") return false;
  return gemmEngine(type) !== "onednn" || !info!.impl[type];
}

/** One line: oneDNN's version and kernels or why it is absent, the fallback, and the CPU's 16-bit flags. */
export function describeMatmul(): string {
  const flags = new Set(cpuFlags().split(/\s+/));
  const cpu = cpuFlagsKnown()
    ? ["avx512_bf16", "avx512_fp16", "amx_bf16"].map((f) => `${f} ${flags.has(f) ? "yes" : "no"}`).join(", ")
    : "flags unknown (/proc/cpuinfo unreadable)";
  const dnn = loadOneDnn();
  const blas = loadBlas();
  const head = dnn
    ? `${dnn.version}; ${
      (["f32", "bf16", "f16"] as GemmType[]).map((t) =>
        `${t}: ${
          dnn.impl[t] ??
            (t === "f16" && dnn.impl.f32
              ? `${
                blas && !noBlas ? "OpenBLAS sgemm (batched: " + dnn.impl.f32 + ")" : dnn.impl.f32
              } on binary16 values`
              : "none (fallback)")
        }`
      ).join(
        ", ",
      )
    }`
    : `no oneDNN (${reason})`;
  return `${head}; fallback ${blas ? "OpenBLAS sgemm" : "JS loops"}; CPU ${cpu}`;
}

const announced = new Set<string>();

/** Print `line` once per key; a function is called only then (the callers run on every matmul). */
function announce(key: string, line: string | (() => string)): void {
  if (announced.has(key)) return;
  announced.add(key);
  console.warn(typeof line === "string" ? line : line());
}

function fallbackNote(type: GemmType, engine: "openblas" | "js"): void {
  announce(`${type}:${engine}`, () => {
    const how = engine === "openblas"
      ? `OpenBLAS sgemm${type === "f32" ? "" : ` on ${type}-rounded copies`}`
      : "JS loops (slow)";
    const why = !enabled
      ? `oneDNN switched off${noBlas ? ", OpenBLAS too" : ""}`
      : info
      ? `oneDNN has no ${type} kernel on this CPU`
      : reason ?? "oneDNN unavailable";
    // on a fallback bf16 is no faster either: no advice
    const note = type === "f16" ? ` ${f16WithoutKernelNote(new Set(), false)}` : "";
    return `matmul: ${type} matmuls run on ${how} (${why}).${note}`;
  });
}

let bf16Checked = false;

function slowBf16Note(): void {
  if (bf16Checked) return; // called on every bf16 matmul
  bf16Checked = true;
  const flags = new Set(cpuFlags().split(/\s+/));
  if (cpuFlagsKnown() && !flags.has("avx512_bf16") && !flags.has("amx_bf16")) {
    announce(
      "bf16:slow",
      "matmul: this CPU has no avx512_bf16/amx_bf16, so bf16 matmuls are not faster than f32 here " +
        "(bf16 still runs, with the same results).",
    );
  }
}

const i64 = (v: number) => BigInt(v);

/** Run one matmul (see {@link GemmSpec}) on the best engine available. */
export function gemm(s: GemmSpec): void {
  if (runSmallBatch(s)) return;
  const engine = gemmEngine(s.type);
  if (s.type === "bf16") slowBf16Note();
  if (engine === "onednn") {
    if (f16OnBlas(s)) {
      runFallback(s, "openblas");
      return;
    }
    if (runOneDnn(s)) return;
    announce(`${s.type}:failed`, `matmul: oneDNN refused a ${s.type} matmul; using the fallback for it.`);
    runFallback(s, !noBlas && loadBlas() ? "openblas" : "js");
    return;
  }
  fallbackNote(s.type, engine);
  runFallback(s, engine);
}

/**
 * True when batched products with 16-bit operands, m, n and k at most `size`, rounded to the format as
 * they are stored (the attention products), run on the C kernels' small-matrix kernel
 * (`native/small_gemm.h`), where the C kernels are loaded and either the library kernels would widen
 * 16-bit operands into float32 copies ({@link gemmWidensOperands}) or the products are bf16 and the C
 * kernels multiply them with AVX512_BF16's dot products (BERT-mini's attention products of a training
 * step: 12.6 against 14.9 ms on oneDNN, which runs these 32×32 matrices at about 100 GFLOP/s). That kernel
 * loads each matrix into tiles on its thread, reading codes in place and rounding float32 operands as it
 * loads them, and rounds as it stores: callers hand it codes, or float32 values as they are, rather than
 * widened or rounded copies.
 */
export function batchedGemmReadsCodes(type: GemmType, size: number): boolean {
  if (type === "f32" || size > SMALL_GEMM_MAX) return false;
  const k = nativeKernels();
  return k !== null && (gemmWidensOperands(type) || (type === "bf16" && k.bf16DotProducts));
}

/** A product of {@link batchedGemmReadsCodes} on the C kernels; false (the other engines) for any other. */
function runSmallBatch(s: GemmSpec): boolean {
  if (
    !s.batch || !s.roundOut || (s.alpha ?? 1) !== 1 || (s.beta ?? 0) !== 0 ||
    !batchedGemmReadsCodes(s.type, Math.max(s.m, s.n, s.k))
  ) return false;
  const operand = (o: GemmOperand) => ({
    data: view(o.data, o.offset),
    rounded: o.rounded,
    ld: o.ld,
    strides: o.strides ?? [0, 0] as [number, number],
  });
  return nativeKernels()!.halfBatchGemm(
    s.type as "bf16" | "f16",
    [!!s.transA, !!s.transB],
    s.batch,
    [s.m, s.n, s.k],
    operand(s.a),
    operand(s.b),
    { data: view(s.c.data, s.c.offset), ld: s.c.ld, strides: s.c.strides ?? [0, 0] },
    s.postScale ?? 1,
  );
}

/**
 * binary16 without an f16 kernel runs on an f32 kernel with widened operands. For a single product that
 * kernel is OpenBLAS's sgemm, fed operands widened in C: oneDNN 2.6's f32 kernel is as fast for some
 * layouts but up to 3× slower for others (the 3072-wide FFN products of BERT-base with a plain B, measured
 * 341 vs 114 ms; docs/PRECISION.md). Batched products (attention) stay on oneDNN, one primitive per batch.
 */
function f16OnBlas(s: GemmSpec): boolean {
  if (s.type !== "f16" || info!.impl.f16 || noBlas || !loadBlas()) return false;
  const [b1, b2] = s.batch ?? [1, 1];
  if (b1 * b2 !== 1) return false;
  announce(
    "f16:blas",
    () =>
      "matmul: f16 matmuls run on OpenBLAS sgemm with binary16 operands widened in C, batched ones on oneDNN's f32 kernel (no f16 kernel here; products of binary16 values are exact in f32): " +
      f16WithoutKernelNote(new Set(cpuFlags().split(/\s+/)), !!info!.impl.bf16),
  );
  return true;
}

/**
 * What fp16 buys where no f16 matmul runs it (its products are fp32's multiply-adds on widened values):
 * memory, not speed; and whether bf16 is faster here, which needs oneDNN's bf16 kernel (`bf16Kernel`) on a
 * CPU with bf16 arithmetic (`flags`: /proc/cpuinfo's; docs/CPU-PERF.md).
 */
export function f16WithoutKernelNote(flags: ReadonlySet<string>, bf16Kernel: boolean): string {
  const bf16 = bf16Kernel ? ["amx_bf16", "avx512_bf16"].find((f) => flags.has(f)) : undefined;
  return "fp16 saves memory here but is not faster than fp32" +
    (bf16 ? `; --precision bf16 is (this CPU has ${bf16}).` : ".");
}

function view<T extends Float32Array | Uint16Array>(data: T, offset = 0): T {
  return (offset === 0 ? data : data.subarray(offset)) as T;
}

function runOneDnn(s: GemmSpec): boolean {
  const [b1, b2] = s.batch ?? [1, 1];
  const [sa1, sa2] = s.a.strides ?? [0, 0];
  const [sb1, sb2] = s.b.strides ?? [0, 0];
  const [sc1, sc2] = s.c.strides ?? [0, 0];
  const a16 = s.a.data instanceof Uint16Array, b16 = s.b.data instanceof Uint16Array;
  if ((a16 || b16) && s.type === "f32") throw new Error("gemm: 16-bit operands need type bf16 or f16");
  // binary16 without an f16 kernel: on the f32 kernel, exact for binary16 operands (products of
  // binary16 values are exact in float32), announced once.
  const onF32 = s.type === "f16" && !info!.impl.f16;
  if (onF32 && (noBlas || !loadBlas())) { // with OpenBLAS, f16OnBlas has said where f16 runs
    announce(
      "f16:f32kernel",
      `matmul: f16 matmuls run on oneDNN's f32 kernel with binary16 operands (no f16 kernel here; products of binary16 values are exact in f32).`,
    );
  }
  const st = shim!.simcse_dnnl_matmul(
    onF32 ? 3 : DT[s.type],
    a16 ? 1 : onF32 && s.a.rounded ? 2 : 0,
    b16 ? 1 : onF32 && s.b.rounded ? 2 : 0,
    s.transA ? 1 : 0,
    s.transB ? 1 : 0,
    i64(b1),
    i64(b2),
    i64(s.m),
    i64(s.n),
    i64(s.k),
    view(s.a.data, s.a.offset),
    i64(s.a.ld),
    i64(sa1),
    i64(sa2),
    view(s.b.data, s.b.offset),
    i64(s.b.ld),
    i64(sb1),
    i64(sb2),
    view(s.c.data, s.c.offset),
    i64(s.c.ld),
    i64(sc1),
    i64(sc2),
    s.alpha ?? 1,
    s.beta ?? 0,
    s.roundOut && s.type !== "f32" ? DT[s.type] : 0,
    s.postScale ?? 1,
  );
  return st === 0;
}

/** Elements from the operand's first to one past its last. */
function span(rows: number, cols: number, trans: boolean, op: GemmOperand, b1: number, b2: number): number {
  const [s1, s2] = op.strides ?? [0, 0];
  const sr = trans ? cols : rows, sc = trans ? rows : cols;
  return (b1 - 1) * s1 + (b2 - 1) * s2 + (sr - 1) * op.ld + sc;
}

/** Rounded operand copies on the cpu pool, which runFallback gives back when it is done with them. */
const pooledCopies = new WeakSet<Float32Array>();

/** The operand as float32 values of the gemm's type, starting at its offset. */
function asRoundedF32(type: GemmType, op: GemmOperand, n: number): Float32Array {
  const src = op.data.subarray(op.offset ?? 0, (op.offset ?? 0) + n);
  if (op.rounded && src instanceof Float32Array) return src;
  const k = nativeKernels();
  if (k && type !== "f32") {
    const out = allocFloat32(n); // given back by runFallback
    pooledCopies.add(out);
    if (src instanceof Uint16Array) k.halfUnpack(type, src, out, n);
    else k.halfRound(type, src, out, n);
    return out;
  }
  if (src instanceof Uint16Array) {
    if (type === "bf16") return unpackBf16(src, n);
    if (type === "f16") return unpackF16(src, n);
    throw new Error("gemm: 16-bit operands need type bf16 or f16");
  }
  if (type === "bf16") return roundBf16Array(src);
  if (type === "f16") return roundF16Array(src);
  return src;
}

/** The same computation on OpenBLAS sgemm or in JS, rounding in JS. */
function runFallback(s: GemmSpec, engine: "openblas" | "js"): void {
  const [b1, b2] = s.batch ?? [1, 1];
  const tA = !!s.transA, tB = !!s.transB;
  const a = asRoundedF32(s.type, s.a, span(s.m, s.k, tA, s.a, b1, b2));
  const b = asRoundedF32(s.type, s.b, span(s.k, s.n, tB, s.b, b1, b2));
  const [sa1, sa2] = s.a.strides ?? [0, 0], [sb1, sb2] = s.b.strides ?? [0, 0];
  const [sc1, sc2] = s.c.strides ?? [0, 0];
  const alpha = s.alpha ?? 1, beta = s.beta ?? 0, c0 = s.c.offset ?? 0;
  const sgemm = engine === "openblas" ? loadBlas()!.sgemm : null;
  for (let i1 = 0; i1 < b1; i1++) {
    for (let i2 = 0; i2 < b2; i2++) {
      const oa = i1 * sa1 + i2 * sa2, ob = i1 * sb1 + i2 * sb2, oc = c0 + i1 * sc1 + i2 * sc2;
      if (sgemm && s.k > 0) {
        sgemm(
          tA,
          tB,
          s.m,
          s.n,
          s.k,
          alpha,
          a.subarray(oa),
          s.a.ld,
          b.subarray(ob),
          s.b.ld,
          beta,
          s.c.data.subarray(oc),
          s.c.ld,
        );
      } else {
        jsGemm(tA, tB, s.m, s.n, s.k, alpha, a, oa, s.a.ld, b, ob, s.b.ld, beta, s.c.data, oc, s.c.ld);
      }
    }
  }
  const k = nativeKernels();
  for (const x of [a, b]) if (pooledCopies.has(x)) releaseFloat32(x); // the rounded copies made above
  if (s.roundOut && s.type !== "f32" && k) {
    k.halfRoundBlock(
      s.type,
      s.c.data.subarray(c0),
      [b1, b2],
      s.m,
      s.n,
      s.c.ld,
      [sc1, sc2],
      s.postScale ?? 1,
    );
  } else if (s.roundOut && s.type !== "f32") {
    const round = s.type === "bf16" ? roundBf16Array : roundF16Array;
    const scale = s.postScale ?? 1;
    for (let i1 = 0; i1 < b1; i1++) {
      for (let i2 = 0; i2 < b2; i2++) {
        for (let r = 0; r < s.m; r++) {
          const o = c0 + i1 * sc1 + i2 * sc2 + r * s.c.ld;
          const row = s.c.data.subarray(o, o + s.n);
          round(row, row);
          if (scale !== 1) {
            for (let j = 0; j < row.length; j++) row[j] *= scale;
            round(row, row);
          }
        }
      }
    }
  }
}

function jsGemm(
  tA: boolean,
  tB: boolean,
  m: number,
  n: number,
  k: number,
  alpha: number,
  a: Float32Array,
  oa: number,
  lda: number,
  b: Float32Array,
  ob: number,
  ldb: number,
  beta: number,
  c: Float32Array,
  oc: number,
  ldc: number,
): void {
  const acc = new Float32Array(n);
  for (let i = 0; i < m; i++) {
    acc.fill(0);
    for (let p = 0; p < k; p++) {
      const av = a[oa + (tA ? p * lda + i : i * lda + p)];
      if (tB) { for (let j = 0; j < n; j++) acc[j] += av * b[ob + j * ldb + p]; }
      else {
        const row = ob + p * ldb;
        for (let j = 0; j < n; j++) acc[j] += av * b[row + j];
      }
    }
    const o = oc + i * ldc;
    for (let j = 0; j < n; j++) c[o + j] = alpha * acc[j] + (beta === 0 ? 0 : beta * c[o + j]);
  }
}

/** 16-bit codes of `src` in `type` (C when oneDNN's shim is loaded, else JS; bit-identical). */
export function packHalfFast(type: "bf16" | "f16", src: Float32Array, out: Uint16Array): Uint16Array {
  const k = nativeKernels();
  if (k) k.halfPack(type, src, out, src.length);
  else if (enabled && loadOneDnn()) {
    (type === "bf16" ? shim!.simcse_pack_bf16 : shim!.simcse_pack_f16)(src, out, i64(src.length));
  } else if (type === "bf16") packBf16(src, out);
  else packF16(src, out);
  return out;
}

/**
 * The float32 values of `n` 16-bit codes of `type` (C when the kernels are loaded, else JS; bit-identical),
 * into `out` when given.
 */
export function unpackHalfFast(
  type: "bf16" | "f16",
  bits: Uint16Array,
  n: number = bits.length,
  out: Float32Array = new Float32Array(n),
): Float32Array {
  const k = nativeKernels();
  if (!k) return type === "bf16" ? unpackBf16(bits, n, out) : unpackF16(bits, n, out);
  k.halfUnpack(type, bits, out, n);
  return out;
}

/**
 * `src` rounded to `type`, as float32 (into `out` when given; it may be `src`): C when oneDNN's shim
 * is loaded, else `roundBf16Array` / `roundF16Array` (bit-identical).
 */
export function roundHalfFast(
  type: "bf16" | "f16",
  src: Float32Array,
  out: Float32Array = new Float32Array(src.length),
): Float32Array {
  const k = nativeKernels();
  if (k) {
    k.halfRound(type, src, out, src.length);
    return out;
  }
  if (enabled && loadOneDnn()) {
    (type === "bf16" ? shim!.simcse_round_bf16 : shim!.simcse_round_f16)(src, out, i64(src.length));
    return out;
  }
  return type === "bf16" ? roundBf16Array(src, out) : roundF16Array(src, out);
}
