/**
 * Vectorised C versions of the CPU path's elementwise and row kernels (`native/simcse_kernels.c`:
 * GELU (erf and tanh forms) and their gradients, dropout, LayerNorm forward/backward, attention softmax forward/backward,
 * AdamW, same-shape add), reached through `Deno.dlopen`. JS loops reach 3–40 ns per element for
 * these; the C loops run at SIMD speed.
 *
 * The library is compiled once per machine by the system C compiler (`$CC`, else `cc`, `gcc`,
 * `clang`) with `-O3 -march=native -ffast-math` and cached under `$SIMCSE_CACHE_DIR`, else
 * `$XDG_CACHE_HOME/simcse-ts`, else `~/.cache/simcse-ts`, named by a hash of the source, the flags
 * and the CPU's feature flags (so a cache shared between different CPUs never loads a wrong build).
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

const SOURCE = new URL("./native/simcse_kernels.c", import.meta.url);
const FLAGS = ["-O3", "-march=native", "-ffast-math", "-fPIC", "-shared"];

const SYMBOLS = {
  simcse_gelu: { parameters: ["buffer", "buffer", "i64"], result: "void" },
  simcse_gelu_grad: { parameters: ["buffer", "buffer", "buffer", "i64"], result: "void" },
  simcse_gelu_new: { parameters: ["buffer", "buffer", "i64"], result: "void" },
  simcse_gelu_new_grad: { parameters: ["buffer", "buffer", "buffer", "i64"], result: "void" },
  simcse_dropout: { parameters: ["buffer", "buffer", "buffer", "i64", "u32", "u32", "f64"], result: "void" },
  simcse_dropout_grad: { parameters: ["buffer", "buffer", "buffer", "i64", "f64"], result: "void" },
  simcse_layernorm: {
    parameters: ["buffer", "buffer", "buffer", "buffer", "buffer", "buffer", "i64", "i64", "f64"],
    result: "void",
  },
  simcse_layernorm_grad: {
    parameters: ["buffer", "buffer", "buffer", "buffer", "buffer", "buffer", "buffer", "i64", "i64"],
    result: "void",
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
  simcse_add: { parameters: ["buffer", "buffer", "buffer", "i64"], result: "void" },
  simcse_reduce_mid: {
    parameters: ["buffer", "buffer", "buffer", "i64", "i64", "i64", "f64"],
    result: "void",
  },
  simcse_sumsq: { parameters: ["buffer", "i64"], result: "f64" },
} as const;

type Lib = Deno.DynamicLibrary<typeof SYMBOLS>["symbols"];

/** The C kernels, with the argument order of `native/simcse_kernels.c`. */
export interface NativeKernels {
  gelu(x: Float32Array, y: Float32Array, n: number): void;
  geluGrad(dy: Float32Array, x: Float32Array, dx: Float32Array, n: number): void;
  geluNew(x: Float32Array, y: Float32Array, n: number): void;
  geluNewGrad(dy: Float32Array, x: Float32Array, dx: Float32Array, n: number): void;
  dropout(
    x: Float32Array,
    y: Float32Array,
    keep: Uint8Array,
    n: number,
    seed: number,
    threshold: number,
    inv: number,
  ): void;
  dropoutGrad(dy: Float32Array, keep: Uint8Array, dx: Float32Array, n: number, inv: number): void;
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
  add(a: Float32Array, b: Float32Array, out: Float32Array, n: number): void;
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

function cacheDir(): string {
  const env = (k: string) => {
    try {
      return Deno.env.get(k);
    } catch {
      return undefined;
    }
  };
  const explicit = env("SIMCSE_CACHE_DIR");
  if (explicit) return explicit;
  const xdg = env("XDG_CACHE_HOME");
  if (xdg) return `${xdg}/simcse-ts`;
  return `${env("HOME") ?? "/tmp"}/.cache/simcse-ts`;
}

/** The CPU's feature-flag line from /proc/cpuinfo ("" where there is none, e.g. macOS). */
export function cpuFlags(): string {
  try {
    const info = Deno.readTextFileSync("/proc/cpuinfo");
    return info.split("\n").find((l) => l.startsWith("flags")) ?? "";
  } catch {
    return "";
  }
}

function compilers(): string[] {
  const cc = Deno.env.get("CC");
  return [...(cc ? [cc] : []), "cc", "gcc", "clang"];
}

function compile(src: string, out: string, flags = FLAGS, libs = ["-lm"]): string | null {
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
        Deno.renameSync(tmp, out);
        return null;
      }
      errors.push(`${cc}: ${new TextDecoder().decode(r.stderr).trim().split("\n")[0]}`);
    } catch (e) {
      errors.push(`${cc}: ${e instanceof Deno.errors.NotFound ? "not found" : (e as Error).message}`);
    }
    try {
      Deno.removeSync(tmp);
    } catch { /* not there */ }
  }
  return errors.join("; ");
}

function wrap(lib: Lib, path: string): NativeKernels {
  return {
    path,
    gelu: (x, y, n) => lib.simcse_gelu(x, y, BigInt(n)),
    geluGrad: (dy, x, dx, n) => lib.simcse_gelu_grad(dy, x, dx, BigInt(n)),
    geluNew: (x, y, n) => lib.simcse_gelu_new(x, y, BigInt(n)),
    geluNewGrad: (dy, x, dx, n) => lib.simcse_gelu_new_grad(dy, x, dx, BigInt(n)),
    dropout: (x, y, keep, n, seed, threshold, inv) =>
      lib.simcse_dropout(x, y, keep, BigInt(n), seed >>> 0, threshold >>> 0, inv),
    dropoutGrad: (dy, keep, dx, n, inv) => lib.simcse_dropout_grad(dy, keep, dx, BigInt(n), inv),
    layerNorm: (x, g, b, y, xhat, rstd, rows, h, eps) =>
      lib.simcse_layernorm(x, g, b, y, xhat, rstd, BigInt(rows), BigInt(h), eps),
    layerNormGrad: (dy, xhat, rstd, g, dx, dg, db, rows, h) =>
      lib.simcse_layernorm_grad(dy, xhat, rstd, g, dx, dg, db, BigInt(rows), BigInt(h)),
    attnSoftmax: (s, m, mOff, mInner, p, rows, l, scale) =>
      lib.simcse_attn_softmax(s, m, mOff, mInner, p, BigInt(rows), BigInt(l), scale),
    attnSoftmaxGrad: (dp, p, ds, rows, l, scale) =>
      lib.simcse_attn_softmax_grad(dp, p, ds, BigInt(rows), BigInt(l), scale),
    adamw: (p, g, m, v, n, b1, b2, stepSize, eps, decay, gradScale) =>
      lib.simcse_adamw(p, g, m, v, BigInt(n), b1, b2, stepSize, eps, decay, gradScale),
    add: (a, b, out, n) => lib.simcse_add(a, b, out, BigInt(n)),
    reduceMid: (x, out, acc, outer, red, inner, scale) =>
      lib.simcse_reduce_mid(x, out, acc, BigInt(outer), BigInt(red), BigInt(inner), scale),
    sumSquares: (x, n) => lib.simcse_sumsq(x, BigInt(n)) as number,
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
    const src = SOURCE.pathname;
    const text = Deno.readTextFileSync(src);
    const ext = Deno.build.os === "darwin" ? "dylib" : Deno.build.os === "windows" ? "dll" : "so";
    const dir = cacheDir();
    const path = `${dir}/simcse_kernels-${
      fnv1a([text, FLAGS.join(" "), cpuFlags() || Deno.build.arch, compilers()[0]].join("\n"))
    }.${ext}`;
    let exists = false;
    try {
      exists = Deno.statSync(path).isFile;
    } catch { /* not built yet */ }
    if (!exists) {
      Deno.mkdirSync(dir, { recursive: true });
      const err = compile(src, path);
      if (err !== null) {
        reason = `no C compiler could build ${src} (${err})`;
        return null;
      }
    }
    const lib = Deno.dlopen(path, SYMBOLS);
    kernels = wrap(lib.symbols, path);
    return kernels;
  } catch (e) {
    reason = e instanceof Deno.errors.NotCapable || e instanceof Deno.errors.PermissionDenied
      ? "needs --allow-ffi, --allow-run, --allow-read, --allow-write and --allow-env (or -A)"
      : (e as Error).message;
    return null;
  }
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
 * Compile another C library of this repo once per machine, cached beside the kernels (same cache
 * folder, named by a hash of the source, flags, libraries, CPU flags and compiler): `name` names the
 * file, `libs` are linker arguments (e.g. `["-ldnnl"]`). Returns its path, or the reason it cannot be
 * built. Used by `onednn.ts`.
 */
export function buildNativeLibrary(
  source: URL,
  opts: { name: string; flags?: string[]; libs?: string[] },
): { path: string } | { error: string } {
  try {
    if (source.protocol !== "file:") return { error: `the C source is not a local file (${source.href})` };
    const flags = opts.flags ?? FLAGS, libs = opts.libs ?? ["-lm"];
    const src = source.pathname;
    const text = Deno.readTextFileSync(src);
    const ext = Deno.build.os === "darwin" ? "dylib" : Deno.build.os === "windows" ? "dll" : "so";
    const dir = cacheDir();
    const key = [text, flags.join(" "), libs.join(" "), cpuFlags() || Deno.build.arch, compilers()[0]];
    const path = `${dir}/${opts.name}-${fnv1a(key.join("\n"))}.${ext}`;
    try {
      if (Deno.statSync(path).isFile) return { path };
    } catch { /* not built yet */ }
    Deno.mkdirSync(dir, { recursive: true });
    const err = compile(src, path, flags, libs);
    return err === null ? { path } : { error: `no C compiler could build ${src} (${err})` };
  } catch (e) {
    return {
      error: e instanceof Deno.errors.NotCapable || e instanceof Deno.errors.PermissionDenied
        ? "needs --allow-ffi, --allow-run, --allow-read, --allow-write and --allow-env (or -A)"
        : (e as Error).message,
    };
  }
}
