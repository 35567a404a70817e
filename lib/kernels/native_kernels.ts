/**
 * Vectorised C versions of the CPU path's elementwise and row kernels (`native/simcse_kernels.c`:
 * GELU (erf and tanh forms) and their gradients, dropout, LayerNorm forward/backward, attention softmax forward/backward,
 * AdamW, same-shape add, the row copies of a gather), reached through `Deno.dlopen`. JS loops reach 3–40 ns per element for
 * these; the C loops run at SIMD speed.
 *
 * The library is compiled once per machine by the system C compiler (`$CC`, else `cc`, `gcc`,
 * `clang`) with `-O3 -march=native -ffast-math` and cached under `$SIMCSE_CACHE_DIR`, else
 * `$XDG_CACHE_HOME/simcse-ts`, else `$HOME/.cache/simcse-ts`, named by a hash of the source, the
 * flags and the CPU's feature flags (so a cache shared between different CPUs never loads a wrong
 * build). Native code is loaded only from a trusted place: the cache folder is created private
 * (0700) and refused when another user owns it or others may write to it; with no such folder (no
 * `HOME`, or a refused one) the library is compiled into a fresh private temporary folder that is
 * removed once it is loaded, never into a shared path such as `/tmp/.cache`. A cached library is
 * opened only when its sha256 equals the one recorded next to it when this toolkit compiled it;
 * anything else at that path is replaced by a fresh build, with a one-line note.
 * Without a compiler, or with `SIMCSE_NATIVE_KERNELS=off`, the JS loops are used: results agree to
 * float rounding and dropout masks are identical (same hash).
 *
 * @example
 * ```ts
 * import { loadNativeKernels } from "./native_kernels.ts";
 * const k = loadNativeKernels(); // null (see nativeKernelsUnavailableReason()) or the functions
 * if (k) k.add(new Float32Array([1, 2]), new Float32Array([3, 4]), new Float32Array(2), 2);
 * ```
 * @module
 */

import { createHash } from "node:crypto";
import { writeFileAtomicSync } from "../runtime/atomic_write.ts";
import type { AdamWScalars } from "./webgpu/adamw.ts";

const SOURCE = new URL("./native/simcse_kernels.c", import.meta.url);
/**
 * `-ffast-math`'s value-changing parts, but not `-ffast-math` itself: with it, gcc 12 links
 * `crtfastmath.o` into the library, whose constructor sets flush-to-zero and denormals-are-zero for
 * the whole process when it is loaded (every float32 denormal in JS then reads as 0).
 */
const FAST_MATH = [
  "-fno-math-errno",
  "-fno-trapping-math",
  "-ffinite-math-only",
  "-fno-signed-zeros",
  "-fassociative-math",
  "-freciprocal-math",
];
/**
 * OpenMP: the kernels split large loops across threads (native/par.h). A compiler that cannot build with
 * it (clang without libomp) builds without it, said once; the pragmas are then ignored.
 */
export const OPENMP = "-fopenmp";
/** The compiler flags of the C kernels' library (`halfBatchGemmFor` builds it with another `-march`). */
const KERNEL_FLAGS: readonly string[] = [
  "-O3",
  "-march=native",
  ...FAST_MATH,
  OPENMP,
  "-fPIC",
  "-shared",
];
const FLAGS = KERNEL_FLAGS as string[];

/** `simcse_half_batch_gemm`'s signature (also opened from other builds of the library: `halfBatchGemmFor`). */
const HALF_BATCH_GEMM_SYMBOL = {
  parameters: [
    ...["i32", "i32", "i32", "i32", "i32", "i64", "i64", "i64", "i64", "i64"],
    ...["buffer", "i64", "i64", "i64", "buffer", "i64", "i64", "i64", "buffer", "i64", "i64", "i64", "f32"],
  ],
  result: "i32",
} as const;

const SYMBOLS = {
  simcse_gelu: { parameters: ["buffer", "buffer", "i64"], result: "void" },
  simcse_gelu_grad: { parameters: ["buffer", "buffer", "buffer", "i64"], result: "void" },
  simcse_gelu_new: { parameters: ["buffer", "buffer", "i64"], result: "void" },
  simcse_gelu_new_grad: { parameters: ["buffer", "buffer", "buffer", "i64"], result: "void" },
  simcse_dropout: { parameters: ["buffer", "buffer", "i64", "u32", "u32", "f64"], result: "void" },
  simcse_layernorm: {
    parameters: ["buffer", "buffer", "buffer", "buffer", "buffer", "buffer", "i64", "i64", "f64"],
    result: "void",
  },
  simcse_layernorm_grad: {
    parameters: ["buffer", "buffer", "buffer", "buffer", "buffer", "buffer", "buffer", "i64", "i64"],
    result: "i32",
  },
  simcse_layernorm_grad_half: {
    parameters: ["i32", "buffer", "buffer", "buffer", "buffer", "buffer", "buffer", "buffer", "i64", "i64"],
    result: "i32",
  },
  simcse_attn_softmax: {
    parameters: ["buffer", "buffer", "buffer", "i32", "buffer", "i64", "i64", "f32"],
    result: "void",
  },
  simcse_attn_softmax_grad: {
    parameters: ["buffer", "buffer", "buffer", "i64", "i64", "f32"],
    result: "void",
  },
  simcse_adamw: {
    parameters: ["buffer", "buffer", "buffer", "buffer", "i64", "f64", "f64", "f64", "f64", "f64", "f32"],
    result: "void",
  },
  simcse_adamw_rows: {
    parameters: [
      "buffer",
      "buffer",
      "buffer",
      "i64",
      "buffer",
      "i64",
      "i64",
      "buffer",
      "buffer",
      "f64",
      "f64",
      "f64",
      "f64",
      "f64",
      "f32",
    ],
    result: "void",
  },
  simcse_add: { parameters: ["buffer", "buffer", "buffer", "i64"], result: "void" },
  simcse_small_gemm_bf16_dot: { parameters: [], result: "i32" },
  simcse_dropout_add_layernorm: {
    parameters: [
      ...[
        "i32",
        "buffer",
        "buffer",
        "i32",
        "u32",
        "u32",
        "f64",
        "buffer",
        "buffer",
        "buffer",
        "buffer",
        "buffer",
      ],
      ...["i64", "i64", "f64"],
    ],
    result: "i32",
  },
  simcse_gather_rows: {
    parameters: ["buffer", "buffer", "buffer", "i64", "i64", "i64", "i64"],
    result: "void",
  },
  simcse_reduce_mid: {
    parameters: ["buffer", "buffer", "buffer", "i64", "i64", "i64", "f64"],
    result: "void",
  },
  simcse_sumsq: { parameters: ["buffer", "i64"], result: "f64" },
  simcse_sum_rows: { parameters: ["buffer", "buffer", "buffer", "i64", "i64"], result: "void" },
  simcse_ln_weight_grad: {
    parameters: ["buffer", "buffer", "buffer", "buffer", "i64", "i64"],
    result: "void",
  },
  simcse_scale_finite: { parameters: ["buffer", "i64", "f32"], result: "i32" },
  simcse_half_linear_out: { parameters: ["i32", "i32", "buffer", "buffer", "buffer", "i64"], result: "void" },
  simcse_half_act_codes: { parameters: ["i32", "i32", "buffer", "buffer", "i64"], result: "void" },
  simcse_half_act_values: { parameters: ["i32", "i32", "buffer", "buffer", "i64"], result: "void" },
  simcse_half_linear_out_bias: {
    parameters: ["i32", "i32", "buffer", "buffer", "buffer", "buffer", "i64", "i64"],
    result: "void",
  },
  simcse_half_linear_grad_in: {
    parameters: ["i32", "i32", "buffer", "buffer", "buffer", "buffer", "i64", "i64"],
    result: "void",
  },
  simcse_half_linear_grad_values: {
    parameters: ["i32", "i32", "buffer", "buffer", "buffer", "buffer", "i64", "i64"],
    result: "void",
  },
  simcse_half_scaled_codes: { parameters: ["i32", "buffer", "buffer", "i64", "f32"], result: "void" },
  simcse_half_pack: { parameters: ["i32", "buffer", "buffer", "i64"], result: "void" },
  simcse_half_unpack: { parameters: ["i32", "buffer", "buffer", "i64"], result: "void" },
  simcse_half_round: { parameters: ["i32", "buffer", "buffer", "i64"], result: "void" },
  simcse_half_round_block: {
    parameters: ["i32", "buffer", "i64", "i64", "i64", "i64", "i64", "i64", "i64", "f32"],
    result: "void",
  },
  simcse_half_batch_gemm: HALF_BATCH_GEMM_SYMBOL,
} as const;

type Lib = Deno.DynamicLibrary<typeof SYMBOLS>["symbols"];

/** The 16-bit formats of the half-precision kernels. */
export type HalfType = "bf16" | "f16";
/** Activations the half-precision Linear kernels fuse. */
export type HalfActivation = "none" | "gelu" | "gelu_new" | "relu";
/**
 * The largest m, n or k that `gemm` gives {@link NativeKernels.halfBatchGemm}: up to it, the kernel measured
 * faster than oneDNN's f32 kernel on widened operands (binary16 Q·Kᵀ over 4 heads of 64: 0.55 against 0.82 ms
 * for 128 sequences of 32, 1.16 against 1.27 ms for 8 of 256); larger products go to the library kernels.
 */
export const SMALL_GEMM_MAX = 256;
/** Their numbers in the C code (`native/half.h`, `simcse_kernels.c`). */
const HALF_CODE = { bf16: 1, f16: 2 } as const;
/** `SMALL_GEMM_F32` of `native/small_gemm.h`: plain float32 products. */
const SMALL_GEMM_F32 = 0;
const ACT_CODE = { none: 0, gelu: 1, gelu_new: 2, relu: 3 } as const;

/**
 * A matrix operand of {@link NativeKernels.halfBatchGemm} from its first element: 16-bit codes of the
 * format, or float32 values (`rounded`: already values of the format, taken as they are; else rounded to
 * it on the way in); row stride `ld`, batch strides `strides`.
 */
export interface HalfBatchOperand {
  data: Float32Array | Uint16Array;
  rounded?: boolean;
  ld: number;
  strides: [number, number];
}

/** The C kernels, with the argument order of `native/simcse_kernels.c`. */
export interface NativeKernels {
  gelu(x: Float32Array, y: Float32Array, n: number): void;
  geluGrad(dy: Float32Array, x: Float32Array, dx: Float32Array, n: number): void;
  geluNew(x: Float32Array, y: Float32Array, n: number): void;
  geluNewGrad(dy: Float32Array, x: Float32Array, dx: Float32Array, n: number): void;
  /** y = x·keep/(1−p), keep = hash(seed, i) ≥ threshold; also the gradient (applied to dy). */
  dropout(x: Float32Array, y: Float32Array, n: number, seed: number, threshold: number, inv: number): void;
  /**
   * y = LayerNorm(dropout(dense) + res) over `rows` rows of `h` in one pass, with the values of `dropout`
   * (when `drop` is given: its seed, threshold and 1/(1 − rate)), `add` and `layerNorm` in turn; x̂'s codes in
   * `fmt` into `codes` (when not null) and 1/σ into `rstd`. False when the row buffers could not be had.
   */
  dropoutAddLayerNorm(
    fmt: HalfType,
    dense: Float32Array,
    res: Float32Array,
    drop: { seed: number; threshold: number; inv: number } | null,
    g: Float32Array,
    b: Float32Array,
    y: Float32Array,
    codes: Uint16Array | null,
    rstd: Float32Array,
    rows: number,
    h: number,
    eps: number,
  ): boolean;
  layerNorm(
    x: Float32Array,
    g: Float32Array,
    b: Float32Array,
    y: Float32Array,
    xhat: Float32Array,
    rstd: Float32Array,
    rows: number,
    h: number,
    eps: number,
  ): void;
  /**
   * dx, dγ, dβ of a LayerNorm, rows in parallel in fixed blocks of 256: each block's dγ and dβ summed in
   * double in row order, the blocks' sums added in block order (the bits do not depend on the threads).
   */
  layerNormGrad(
    dy: Float32Array,
    xhat: Float32Array,
    rstd: Float32Array,
    g: Float32Array,
    dx: Float32Array,
    dg: Float64Array,
    db: Float64Array,
    rows: number,
    h: number,
  ): void;
  /** {@link layerNormGrad} with x̂ as 16-bit codes of `fmt`, unpacked a row at a time (no float32 copy). */
  layerNormGradHalf(
    fmt: HalfType,
    dy: Float32Array,
    xhat: Uint16Array,
    rstd: Float32Array,
    g: Float32Array,
    dx: Float32Array,
    dg: Float64Array,
    db: Float64Array,
    rows: number,
    h: number,
  ): void;
  attnSoftmax(
    s: Float32Array,
    m: Float32Array,
    mOff: Int32Array,
    mInner: number,
    p: Float32Array,
    rows: number,
    l: number,
    scale: number,
  ): void;
  attnSoftmaxGrad(
    dp: Float32Array,
    p: Float32Array,
    ds: Float32Array,
    rows: number,
    l: number,
    scale: number,
  ): void;
  adamw(
    p: Float32Array,
    g: Float32Array,
    m: Float32Array,
    v: Float32Array,
    n: number,
    b1: number,
    b2: number,
    stepSize: number,
    eps: number,
    decay: number,
    gradScale: number,
  ): void;
  /**
   * {@link adamw} on a [V, H] parameter whose gradient is given as rows: row ids[k] (ascending, distinct)
   * has gradient rows[k·H …], every other row the zero row `zero` (H zeros). The dense call's values.
   */
  adamwRows(
    p: Float32Array,
    rows: Float32Array,
    ids: Int32Array,
    zero: Float32Array,
    V: number,
    H: number,
    m: Float32Array,
    v: Float32Array,
    s: AdamWScalars,
  ): void;
  /**
   * Whether {@link halfBatchGemm} multiplies bf16 matrices with AVX512_BF16's dot products (a build for a
   * CPU that has them), at twice the products per instruction of its float32 form.
   */
  readonly bf16DotProducts: boolean;
  add(a: Float32Array, b: Float32Array, out: Float32Array, n: number): void;
  /** out [outer, n, inner] = rows ids[i] of x [outer, dim, inner] (ids checked to lie in [0, dim)). */
  gatherRows(
    x: Float32Array,
    ids: Int32Array,
    out: Float32Array,
    outer: number,
    dim: number,
    inner: number,
  ): void;
  /**
   * The epilogue of a half-precision Linear (`fmt` 1 bf16, 2 f16; `act` 0 none, 1 gelu, 2 gelu_new,
   * 3 relu), in place on `c` = x·W + b in f32: z = half(c) and `z16` (when given) gets z's 16-bit codes;
   * with an activation, c = half(act(z)) and `y16` (when given) c's codes, else c = z.
   */
  halfLinearOut(
    fmt: HalfType,
    act: HalfActivation,
    c: Float32Array,
    z16: Uint16Array | null,
    n: number,
    y16?: Uint16Array | null,
  ): void;
  /**
   * `halfLinearOut` on a [rows, cols] product taken without its bias: `bias` [cols] is added to every row
   * first (one float32 add per element).
   */
  halfLinearOutBias(
    fmt: HalfType,
    act: HalfActivation,
    c: Float32Array,
    bias: Float32Array,
    z16: Uint16Array | null,
    y16: Uint16Array | null,
    rows: number,
    cols: number,
  ): void;
  /** The codes of half(act(z)) from z's codes `z16` into `y16`: `halfLinearOut`'s y16 again, bit for bit. */
  halfActCodes(fmt: HalfType, act: HalfActivation, z16: Uint16Array, y16: Uint16Array, n: number): void;
  /** The float32 values of half(act(z)) from z's codes `z16` into `y`: the values of {@link halfActCodes}'s codes. */
  halfActValues(fmt: HalfType, act: HalfActivation, z16: Uint16Array, y: Float32Array, n: number): void;
  /**
   * The gradient entering a half-precision Linear: g = half(half(dy)·act'(z)) (z from `z16`; act 0:
   * g = half(dy)) as 16-bit codes in `g16`, with Σ_rows g added into `acc` (double), so that rows
   * taken in pieces sum as in one call.
   */
  halfLinearGradIn(
    fmt: HalfType,
    act: HalfActivation,
    dy: Float32Array,
    z16: Uint16Array | null,
    g16: Uint16Array,
    acc: Float64Array,
    rows: number,
    cols: number,
  ): void;
  /**
   * {@link halfLinearGradIn} with g as float32 values in the format (its codes' values) into `g`, which
   * may be `dy`, for products on a float32 kernel (which would widen g's codes); the same sums.
   */
  halfLinearGradValues(
    fmt: HalfType,
    act: HalfActivation,
    dy: Float32Array,
    z16: Uint16Array | null,
    g: Float32Array,
    acc: Float64Array,
    rows: number,
    cols: number,
  ): void;
  /** Codes of half(half(x)·scale) into `out`. */
  halfScaledCodes(fmt: HalfType, x: Float32Array, out: Uint16Array, n: number, scale: number): void;
  /** The 16-bit codes of float32 values. */
  halfPack(fmt: HalfType, x: Float32Array, out: Uint16Array, n: number): void;
  /** The values of 16-bit codes. */
  halfUnpack(fmt: HalfType, h: Uint16Array, out: Float32Array, n: number): void;
  /** `src` rounded to the format into `dst` (may be `src`). */
  halfRound(fmt: HalfType, src: Float32Array, dst: Float32Array, n: number): void;
  /**
   * In place on the b1 × b2 batch of m × n blocks of `c` (row stride `ld`, batch strides s1, s2):
   * c = half(c), then c = half(c·postScale) when postScale ≠ 1.
   */
  halfRoundBlock(
    fmt: HalfType,
    c: Float32Array,
    batch: [number, number],
    m: number,
    n: number,
    ld: number,
    strides: [number, number],
    postScale: number,
  ): void;
  /**
   * The b1 × b2 products C = half(op(A)·op(B)) of small matrices (m, n, k ≤ {@link SMALL_GEMM_MAX}),
   * then half(C·postScale) when postScale ≠ 1, with float32 accumulation in the inner index's order
   * (`native/small_gemm.h`); false when the C side could not allocate its tiles (nothing reliable in c).
   * With fmt "f32", float32 operands taken as they are and nothing rounded: C = op(A)·op(B)·postScale.
   */
  halfBatchGemm(
    fmt: HalfType | "f32",
    trans: [boolean, boolean],
    batch: [number, number],
    mnk: [number, number, number],
    a: HalfBatchOperand,
    b: HalfBatchOperand,
    c: { data: Float32Array; ld: number; strides: [number, number] },
    postScale: number,
  ): boolean;
  /** out[o, i] = scale · Σ_r x[o, r, i] for x [outer, red, inner] (double accumulation; acc: inner doubles). */
  reduceMid(
    x: Float32Array,
    out: Float32Array,
    acc: Float64Array,
    outer: number,
    red: number,
    inner: number,
    scale: number,
  ): void;
  /** Σ x² in double. */
  sumSquares(x: Float32Array, n: number): number;
  /** rows[slot[r] + j] += d[r·h + j] for the n rows of d in order (slot: element offsets into rows). */
  sumRows(d: Float32Array, slot: Int32Array, rows: Float32Array, n: number, h: number): void;
  /** In place: dw[i, j] = g[i]·dw[i, j] + b[i]·db[j] (double products, one rounding), dw [nIn, nOut]. */
  lnWeightGrad(
    dw: Float32Array,
    g: Float32Array,
    b: Float32Array,
    db: Float32Array,
    nIn: number,
    nOut: number,
  ): void;
  /** x *= s in place (float32 products); whether every product is finite. */
  scaleFinite(x: Float32Array, n: number, s: number): boolean;
  /** Where the compiled library is. */
  path: string;
}

let kernels: NativeKernels | null = null;
let reason: string | null = null;
let tried = false;

/** FNV-1a, 64-bit, as hex (a cache key, not a security hash). */
function fnv1a(text: string): string {
  let h = 0xcbf29ce484222325n;
  for (let i = 0; i < text.length; i++) {
    h ^= BigInt(text.charCodeAt(i));
    h = (h * 0x100000001b3n) & 0xffffffffffffffffn;
  }
  return h.toString(16).padStart(16, "0");
}

function env(k: string): string | undefined {
  try {
    return Deno.env.get(k);
  } catch {
    return undefined;
  }
}

/** The configured cache folder, or null when there is none (no HOME): never a shared default path. */
export function nativeCacheDir(): string | null {
  const explicit = env("SIMCSE_CACHE_DIR");
  if (explicit) return explicit;
  const xdg = env("XDG_CACHE_HOME");
  if (xdg) return `${xdg}/simcse-ts`;
  const home = env("HOME");
  return home ? `${home}/.cache/simcse-ts` : null;
}

let processCache: string | undefined;

/**
 * The toolkit's cache folder for things it can always regenerate (compiled kernels, generated model
 * folders): `nativeCacheDir()`, else (no HOME) a private temporary folder made once per process.
 */
export function cacheDir(): string {
  return nativeCacheDir() ?? (processCache ??= Deno.makeTempDirSync({ prefix: "simcse-ts-cache-" }));
}

/**
 * This process's uid. `Deno.uid()` needs `--allow-sys`, which the tasks do not grant (least privilege:
 * read, write, env, ffi, run); without it the owner of a file this process creates is the same uid.
 * (Before, the check called `Deno.uid()` anyway: the tasks then ran without native code, or, on a
 * terminal, stopped at a permission prompt.)
 */
function processUid(): number | null {
  // Asked first: on a terminal, calling Deno.uid() without the permission would prompt the user.
  if (Deno.permissions.querySync({ name: "sys", kind: "uid" }).state === "granted") return Deno.uid();
  const probe = Deno.makeTempFileSync({ prefix: "simcse-uid-" });
  try {
    return Deno.statSync(probe).uid;
  } finally {
    Deno.removeSync(probe);
  }
}

/**
 * Create `dir` private (0700) if missing, and check that it is a folder owned by this user that
 * nobody else may write to; returns why not, or null when it can be trusted.
 */
export function untrustedDirReason(dir: string): string | null {
  try {
    Deno.mkdirSync(dir, { recursive: true, mode: 0o700 });
  } catch (e) {
    return `cannot create it (${(e as Error).message})`;
  }
  let info: Deno.FileInfo;
  try {
    info = Deno.statSync(dir);
  } catch (e) {
    return `cannot read it (${(e as Error).message})`;
  }
  if (!info.isDirectory) return "it is not a folder";
  if (Deno.build.os === "windows" || info.mode === null) return null; // no POSIX owners here
  const uid = processUid();
  if (uid !== null && info.uid !== uid) return `it belongs to uid ${info.uid}, not to this user (${uid})`;
  if (info.mode & 0o022) {
    return `others may write to it (mode ${(info.mode & 0o777).toString(8)})`;
  }
  return null;
}

/** sha256 of a file's bytes, as hex. */
function sha256FileSync(path: string): string {
  return createHash("sha256").update(Deno.readFileSync(path)).digest("hex");
}

let flagsLine: string | undefined;
let flagsKnown = false;

/**
 * The CPU's feature-flag line from /proc/cpuinfo ("" where there is none, e.g. macOS, or where it
 * cannot be read: see {@link cpuFlagsKnown}). Deno 2.9 lets a script read /proc/cpuinfo only with
 * `--allow-all`; the tasks grant `--allow-run` instead, so the line then comes from `cat`.
 */
export function cpuFlags(): string {
  if (flagsLine !== undefined) return flagsLine; // read once: callers ask on hot paths
  let text: string | null = null;
  try {
    text = Deno.readTextFileSync("/proc/cpuinfo");
  } catch {
    try {
      const r = new Deno.Command("cat", { args: ["/proc/cpuinfo"], stdout: "piped", stderr: "null" })
        .outputSync();
      if (r.success) text = new TextDecoder().decode(r.stdout);
    } catch { /* no --allow-run, or no cat */ }
  }
  flagsKnown = text !== null;
  flagsLine = text?.split("\n").find((l) => l.startsWith("flags")) ?? "";
  return flagsLine;
}

/** Whether {@link cpuFlags} could read /proc/cpuinfo (false: its "" says nothing about the CPU). */
export function cpuFlagsKnown(): boolean {
  cpuFlags();
  return flagsKnown;
}

function compilers(): string[] {
  const cc = Deno.env.get("CC");
  return [...(cc ? [cc] : []), "cc", "gcc", "clang"];
}

/** Compile `src` to `out`; returns the sha256 of what was built, or the compilers' errors. */
function compile(
  src: string,
  out: string,
  flags = FLAGS,
  libs = ["-lm"],
): { hash: string } | { error: string } {
  const errors: string[] = [];
  for (const cc of compilers()) {
    const tmp = `${out}.${Deno.pid}.tmp`;
    try {
      const r = new Deno.Command(cc, {
        args: [...flags, "-o", tmp, src, ...libs],
        stderr: "piped",
        stdout: "null",
      })
        .outputSync();
      if (r.success) {
        const hash = sha256FileSync(tmp);
        Deno.renameSync(tmp, out);
        return { hash };
      }
      errors.push(`${cc}: ${new TextDecoder().decode(r.stderr).trim().split("\n")[0]}`);
    } catch (e) {
      errors.push(`${cc}: ${e instanceof Deno.errors.NotFound ? "not found" : (e as Error).message}`);
    }
    try {
      Deno.removeSync(tmp);
    } catch { /* not there */ }
  }
  return { error: errors.join("; ") };
}

/** One line on stderr about where native code comes from. */
function note(text: string): void {
  console.warn(`cpu backend: ${text}`);
}

/** The recorded sha256 of a cached library, or null. */
function recordedHash(path: string): string | null {
  try {
    const h = Deno.readTextFileSync(`${path}.sha256`).trim();
    return /^[0-9a-f]{64}$/.test(h) ? h : null;
  } catch {
    return null;
  }
}

/**
 * The path of a library named `name` built from `src` that may be opened: the cached one when its
 * sha256 matches the recorded one, else a fresh build (recorded). `dir` must be trusted.
 */
function trustedBuild(
  src: string,
  dir: string,
  name: string,
  cached: boolean,
  flags = FLAGS,
  libs = ["-lm"],
): { path: string; hash: string } | {
  error: string;
} {
  const path = `${dir}/${name}`;
  if (cached) {
    let info: Deno.FileInfo | null = null;
    try {
      info = Deno.lstatSync(path);
    } catch { /* not built yet */ }
    if (info) {
      const want = recordedHash(path);
      const got = info.isFile ? sha256FileSync(path) : null;
      if (want !== null && got === want) return { path, hash: got };
      note(
        `${path} is not the library this toolkit compiled (${
          want === null ? "no hash was recorded for it" : "its sha256 differs from the recorded one"
        }); rebuilding it`,
      );
      try {
        Deno.removeSync(path);
      } catch { /* another process removed it first */ }
    }
  }
  // The first build on a machine takes seconds; say so where someone is watching.
  if (cached && Deno.stderr.isTerminal()) note(`compiling ${name} for this CPU (once; cached in ${dir})`);
  let r = compile(src, path, flags, libs);
  if ("error" in r && flags.includes(OPENMP)) {
    const serial = compile(src, path, flags.filter((f) => f !== OPENMP), libs);
    if (!("error" in serial)) note(`built ${name} without OpenMP, on one thread (${r.error})`);
    r = serial;
  }
  if ("error" in r) return r;
  if (cached) writeFileAtomicSync(`${path}.sha256`, `${r.hash}\n`);
  return { path, hash: r.hash };
}

/** {@link NativeKernels.halfBatchGemm} over a `simcse_half_batch_gemm` symbol (of this library or another build). */
function halfBatchGemmOf(
  fn: Deno.DynamicLibrary<{ f: typeof HALF_BATCH_GEMM_SYMBOL }>["symbols"]["f"],
): NativeKernels["halfBatchGemm"] {
  const kind = (o: HalfBatchOperand) => o.data instanceof Uint16Array ? 1 : o.rounded ? 2 : 0;
  const i64 = (v: number) => BigInt(v);
  return (fmt, [ta, tb], [b1, b2], [m, n, k], a, b, c, postScale) => {
    if (fmt === "f32" && (a.data instanceof Uint16Array || b.data instanceof Uint16Array)) {
      throw new Error("halfBatchGemm: f32 products take float32 operands");
    }
    return fn(
      fmt === "f32" ? SMALL_GEMM_F32 : HALF_CODE[fmt],
      fmt === "f32" ? 2 : kind(a),
      fmt === "f32" ? 2 : kind(b),
      ta ? 1 : 0,
      tb ? 1 : 0,
      i64(b1),
      i64(b2),
      i64(m),
      i64(n),
      i64(k),
      a.data,
      i64(a.ld),
      i64(a.strides[0]),
      i64(a.strides[1]),
      b.data,
      i64(b.ld),
      i64(b.strides[0]),
      i64(b.strides[1]),
      c.data,
      i64(c.ld),
      i64(c.strides[0]),
      i64(c.strides[1]),
      postScale,
    ) === 0;
  };
}

/**
 * {@link NativeKernels.halfBatchGemm} of the kernels built for another CPU (`-march=<march>` in place of
 * `-march=native`; compiled and cached as this machine's library is): tests and benches compare a build
 * without AVX-512 (its plain loops) with this machine's. `close` unloads it; an error when it cannot be built.
 */
export function halfBatchGemmFor(
  march: string,
): { gemm: NativeKernels["halfBatchGemm"]; close: () => void } | { error: string } {
  if (!/^[\w.-]+$/.test(march)) return { error: `-march takes names like haswell, got '${march}'` };
  const flags = FLAGS.map((f) => f === "-march=native" ? `-march=${march}` : f);
  const opened = openTrustedLibrary(SOURCE, { name: `simcse_kernels-${march}`, flags }, {
    simcse_half_batch_gemm: HALF_BATCH_GEMM_SYMBOL,
  });
  if ("error" in opened) return opened;
  return {
    gemm: halfBatchGemmOf(opened.lib.symbols.simcse_half_batch_gemm),
    close: () => opened.lib.close(),
  };
}

function wrap(lib: Lib, path: string): NativeKernels {
  return {
    path,
    gelu: (x, y, n) => lib.simcse_gelu(x, y, BigInt(n)),
    geluGrad: (dy, x, dx, n) => lib.simcse_gelu_grad(dy, x, dx, BigInt(n)),
    geluNew: (x, y, n) => lib.simcse_gelu_new(x, y, BigInt(n)),
    geluNewGrad: (dy, x, dx, n) => lib.simcse_gelu_new_grad(dy, x, dx, BigInt(n)),
    dropout: (x, y, n, seed, threshold, inv) =>
      lib.simcse_dropout(x, y, BigInt(n), seed >>> 0, threshold >>> 0, inv),
    dropoutAddLayerNorm: (fmt, dense, res, drop, g, b, y, codes, rstd, rows, h, eps) =>
      lib.simcse_dropout_add_layernorm(
        fmt === "bf16" ? 1 : 2,
        dense,
        res,
        drop ? 1 : 0,
        (drop?.seed ?? 0) >>> 0,
        (drop?.threshold ?? 0) >>> 0,
        drop?.inv ?? 1,
        g,
        b,
        y,
        codes,
        rstd,
        BigInt(rows),
        BigInt(h),
        eps,
      ) === 0,
    layerNorm: (x, g, b, y, xhat, rstd, rows, h, eps) =>
      lib.simcse_layernorm(x, g, b, y, xhat, rstd, BigInt(rows), BigInt(h), eps),
    layerNormGrad: (dy, xhat, rstd, g, dx, dg, db, rows, h) => {
      const st = lib.simcse_layernorm_grad(dy, xhat, rstd, g, dx, dg, db, BigInt(rows), BigInt(h));
      if (st !== 0) throw new Error("layerNormGrad: out of memory for the blocks' sums");
    },
    layerNormGradHalf: (fmt, dy, xhat, rstd, g, dx, dg, db, rows, h) => {
      const st = lib.simcse_layernorm_grad_half(
        HALF_CODE[fmt],
        dy,
        xhat,
        rstd,
        g,
        dx,
        dg,
        db,
        BigInt(rows),
        BigInt(h),
      );
      if (st !== 0) throw new Error("layerNormGradHalf: out of memory for a row buffer or the blocks' sums");
    },
    attnSoftmax: (s, m, mOff, mInner, p, rows, l, scale) =>
      lib.simcse_attn_softmax(s, m, mOff, mInner, p, BigInt(rows), BigInt(l), scale),
    attnSoftmaxGrad: (dp, p, ds, rows, l, scale) =>
      lib.simcse_attn_softmax_grad(dp, p, ds, BigInt(rows), BigInt(l), scale),
    adamw: (p, g, m, v, n, b1, b2, stepSize, eps, decay, gradScale) =>
      lib.simcse_adamw(p, g, m, v, BigInt(n), b1, b2, stepSize, eps, decay, gradScale),
    adamwRows: (p, rows, ids, zero, V, H, m, v, s) =>
      lib.simcse_adamw_rows(
        p,
        rows,
        ids,
        BigInt(ids.length),
        zero,
        BigInt(V),
        BigInt(H),
        m,
        v,
        s.beta1,
        s.beta2,
        s.stepSize,
        s.eps,
        s.decay,
        s.gradScale,
      ),
    bf16DotProducts: lib.simcse_small_gemm_bf16_dot() === 1,
    add: (a, b, out, n) => lib.simcse_add(a, b, out, BigInt(n)),
    gatherRows: (x, ids, out, outer, dim, inner) =>
      lib.simcse_gather_rows(x, ids, out, BigInt(outer), BigInt(dim), BigInt(ids.length), BigInt(inner)),
    reduceMid: (x, out, acc, outer, red, inner, scale) =>
      lib.simcse_reduce_mid(x, out, acc, BigInt(outer), BigInt(red), BigInt(inner), scale),
    sumSquares: (x, n) => lib.simcse_sumsq(x, BigInt(n)) as number,
    sumRows: (d, slot, rows, n, h) => lib.simcse_sum_rows(d, slot, rows, BigInt(n), BigInt(h)),
    lnWeightGrad: (dw, g, b, db, nIn, nOut) =>
      lib.simcse_ln_weight_grad(dw, g, b, db, BigInt(nIn), BigInt(nOut)),
    scaleFinite: (x, n, s) => lib.simcse_scale_finite(x, BigInt(n), s) === 1,
    halfLinearOut: (fmt, act, c, z16, n, y16 = null) =>
      lib.simcse_half_linear_out(HALF_CODE[fmt], ACT_CODE[act], c, z16, y16, BigInt(n)),
    halfLinearOutBias: (fmt, act, c, bias, z16, y16, rows, cols) =>
      lib.simcse_half_linear_out_bias(
        HALF_CODE[fmt],
        ACT_CODE[act],
        c,
        bias,
        z16,
        y16,
        BigInt(rows),
        BigInt(cols),
      ),
    halfActCodes: (fmt, act, z16, y16, n) =>
      lib.simcse_half_act_codes(HALF_CODE[fmt], ACT_CODE[act], z16, y16, BigInt(n)),
    halfActValues: (fmt, act, z16, y, n) =>
      lib.simcse_half_act_values(HALF_CODE[fmt], ACT_CODE[act], z16, y, BigInt(n)),
    halfLinearGradIn: (fmt, act, dy, z16, g16, acc, rows, cols) =>
      lib.simcse_half_linear_grad_in(
        HALF_CODE[fmt],
        ACT_CODE[act],
        dy,
        z16,
        g16,
        acc,
        BigInt(rows),
        BigInt(cols),
      ),
    halfLinearGradValues: (fmt, act, dy, z16, g, acc, rows, cols) =>
      lib.simcse_half_linear_grad_values(
        HALF_CODE[fmt],
        ACT_CODE[act],
        dy,
        z16,
        g,
        acc,
        BigInt(rows),
        BigInt(cols),
      ),
    halfScaledCodes: (fmt, x, out, n, scale) =>
      lib.simcse_half_scaled_codes(HALF_CODE[fmt], x, out, BigInt(n), scale),
    halfPack: (fmt, x, out, n) => lib.simcse_half_pack(HALF_CODE[fmt], x, out, BigInt(n)),
    halfUnpack: (fmt, h, out, n) => lib.simcse_half_unpack(HALF_CODE[fmt], h, out, BigInt(n)),
    halfRound: (fmt, src, dst, n) => lib.simcse_half_round(HALF_CODE[fmt], src, dst, BigInt(n)),
    halfBatchGemm: halfBatchGemmOf(lib.simcse_half_batch_gemm),
    halfRoundBlock: (fmt, c, [b1, b2], m, n, ld, [s1, s2], postScale) =>
      lib.simcse_half_round_block(
        HALF_CODE[fmt],
        c,
        BigInt(b1),
        BigInt(b2),
        BigInt(m),
        BigInt(n),
        BigInt(ld),
        BigInt(s1),
        BigInt(s2),
        postScale,
      ),
  };
}

/**
 * Compile (first time on a machine) and open the C kernels. Returns null, with the reason in
 * {@link nativeKernelsUnavailableReason}, when they are switched off or cannot be built or opened.
 */
export function loadNativeKernels(): NativeKernels | null {
  if (tried) return kernels;
  tried = true;
  try {
    if (Deno.env.get("SIMCSE_NATIVE_KERNELS") === "off") {
      reason = "SIMCSE_NATIVE_KERNELS=off";
      return null;
    }
    if (SOURCE.protocol !== "file:") {
      reason = `the C source is not a local file (${SOURCE.href})`;
      return null;
    }
    const opened = openTrustedLibrary(SOURCE, { name: "simcse_kernels" }, SYMBOLS);
    if ("error" in opened) {
      reason = opened.error;
      return null;
    }
    kernels = wrap(opened.lib.symbols, opened.path);
    return kernels;
  } catch (e) {
    reason = loadFailure(e);
    return null;
  }
}

/** The permissions a native library needs: compiling it, checking its hash, opening it. */
const NEEDED = "--allow-ffi, --allow-run, --allow-read, --allow-write and --allow-env (or -A)";

/**
 * Why loading a native library failed, in one line: for a missing permission, the flag Deno asked for
 * and the whole set it needs ("needs --allow-run (it uses --allow-ffi, …)"); else the error's message.
 */
export function loadFailure(e: unknown): string {
  if (e instanceof Deno.errors.NotCapable || e instanceof Deno.errors.PermissionDenied) {
    const flag = /--allow-[a-z-]+/.exec((e as Error).message)?.[0];
    return flag ? `needs ${flag} (it uses ${NEEDED})` : `needs ${NEEDED}`;
  }
  return e instanceof Error ? e.message : String(e);
}

let enabled = true;

/** The C kernels if {@link loadNativeKernels} has already opened them (never compiles). */
export function nativeKernels(): NativeKernels | null {
  return enabled ? kernels : null;
}

/** Switch the loaded C kernels off and on again (tests compare them with the JS loops). */
export function setNativeKernelsEnabled(on: boolean): void {
  enabled = on;
}

/** Why the C kernels are not in use, or null. */
export function nativeKernelsUnavailableReason(): string | null {
  return reason;
}

/**
 * OpenMP's workers sleep between parallel loops and matmuls instead of spinning (libgomp spins for a while
 * by default): the JS thread works between the calls, and spinning workers compete with it and with
 * OpenBLAS's threads on small machines (docs/CPU-PERF.md). libgomp reads this when it loads; a value
 * already set is kept.
 */
function passiveOpenMp(): void {
  if (Deno.env.get("OMP_WAIT_POLICY") === undefined) Deno.env.set("OMP_WAIT_POLICY", "PASSIVE");
}

/**
 * Compile the C file `source` once per machine (cached as `<name>-<hash>.so` under the private cache,
 * keyed by source, flags, libraries, CPU flags and compiler) and open it with `symbols`. The rules of
 * the kernel cache hold for every library: the cache folder must be private (0700, this user's), a
 * cached library is opened only when its sha256 equals the one recorded when it was compiled (else it
 * is rebuilt), and the bytes are hashed again right before `dlopen`; without a trusted cache the
 * library is built in a private temporary folder removed once it is open.
 */
export function openTrustedLibrary<S extends Deno.ForeignLibraryInterface>(
  source: URL,
  opts: { name: string; flags?: string[]; libs?: string[] },
  symbols: S,
): { lib: Deno.DynamicLibrary<S>; path: string } | { error: string } {
  try {
    if (source.protocol !== "file:") return { error: `the C source is not a local file (${source.href})` };
    const flags = opts.flags ?? FLAGS, libs = opts.libs ?? ["-lm"];
    const src = source.pathname;
    // The source and the local headers it includes (`#include "half.h"`), so that a changed header
    // gives a new cache key.
    const dirOf = src.slice(0, src.lastIndexOf("/") + 1);
    let text = Deno.readTextFileSync(src);
    for (const [, h] of text.matchAll(/^#include "([\w.]+)"/gm)) text += Deno.readTextFileSync(dirOf + h);
    const ext = Deno.build.os === "darwin" ? "dylib" : Deno.build.os === "windows" ? "dll" : "so";
    const key = [text, flags.join(" "), libs.join(" "), cpuFlags() || Deno.build.arch, compilers()[0]];
    const name = `${opts.name}-${fnv1a(key.join("\n"))}.${ext}`;
    let dir = nativeCacheDir();
    if (dir !== null) {
      const why = untrustedDirReason(dir);
      if (why !== null) {
        note(`not using the kernel cache ${dir}: ${why}; compiling into a private temporary folder`);
        dir = null;
      }
    }
    const temporary = dir === null;
    if (dir === null) dir = Deno.makeTempDirSync({ prefix: "simcse-kernels-" }); // created 0700
    try {
      const built = trustedBuild(src, dir, name, !temporary, flags, libs);
      if ("error" in built) return { error: `no C compiler could build ${src} (${built.error})` };
      // Checked again right before opening: only the bytes hashed above are loaded.
      if (sha256FileSync(built.path) !== built.hash) {
        return { error: `${built.path} changed while it was being loaded` };
      }
      if (flags.includes(OPENMP)) passiveOpenMp();
      return { lib: Deno.dlopen(built.path, symbols), path: built.path };
    } finally {
      if (temporary) Deno.removeSync(dir, { recursive: true });
    }
  } catch (e) {
    return { error: loadFailure(e) };
  }
}
