/**
 * Matmuls for the TF.js `cpu` backend through a system BLAS (`cblas_sgemm`), reached with
 * `Deno.dlopen` (needs `--allow-ffi`): OpenBLAS on Linux (`libopenblas.so.0`, Debian package
 * `libopenblas0`), Accelerate on macOS. `registerBlasKernels()` replaces the cpu backend's
 * `BatchMatMul` and `_FusedMatMul` (tfjs 4.22 has no cpu `MatMul` kernel: `tf.matMul` dispatches
 * `BatchMatMul`). Row-major `cblas_sgemm` takes `transposeA`/`transposeB` as flags, so the
 * transposes autograd asks for cost nothing; batched matmuls loop over the batch with sub-array
 * views and the stock kernel's `bi % batch` broadcasting. Non-float32 inputs go to the stock kernels.
 *
 * OpenBLAS picks its kernels from the CPU at load time; Debian's 0.3.21 does not know recent AVX-512
 * CPUs (e.g. AMD Zen 4) and falls back to its Haswell kernels. {@link blasInfo} reports the core in
 * use; this module never sets `OPENBLAS_CORETYPE` (a benchmark may, before the first load).
 *
 * It does set `OPENBLAS_THREAD_TIMEOUT` to 16 before the first load, unless the environment sets it:
 * OpenBLAS's threads then spin for 2^16 cycles after a call before they sleep, not its default 2^28
 * (about 0.1 s). The toolkit's OpenMP kernels (oneDNN, `native/simcse_kernels.c`) run between the
 * sgemm calls, and on two cores OpenBLAS's spinning threads took the core they needed: BERT-base fp16
 * steps took 7.5 s with the default and 6.7–6.8 s with 2^4 or 2^16, fp32 6.7 and 6.5 s (docs/CPU-PERF.md,
 * "Eleventh round"). The value changes no result, only when idle threads sleep.
 *
 * @example
 * ```ts
 * import { tf } from "../runtime/tf.ts";
 * import { registerBlasKernels } from "./cpu_blas.ts";
 * await tf.setBackend("cpu");
 * const r = registerBlasKernels(); // { ok: true, info } or { ok: false, reason }
 * tf.matMul(tf.ones([2, 3]), tf.ones([3, 4])).print(); // all 3, computed by sgemm when r.ok
 * ```
 * @module
 */
import { tf } from "../runtime/tf.ts";
import { allocFloat32, cpuBackend, type CpuBackendLike, float32Values } from "./cpu_pool.ts";
import { nativeKernels, SMALL_GEMM_MAX } from "./native_kernels.ts";

const CBLAS_ROW_MAJOR = 101;
const CBLAS_NO_TRANS = 111;
const CBLAS_TRANS = 112;

const SGEMM_SIG = {
  parameters: [
    "i32",
    "i32",
    "i32",
    "i32",
    "i32",
    "i32",
    "f32",
    "buffer",
    "i32",
    "buffer",
    "i32",
    "f32",
    "buffer",
    "i32",
  ],
  result: "void",
} as const;

/** A loaded BLAS library. */
export interface BlasInfo {
  /** The path or name it was opened by. */
  path: string;
  /** "OpenBLAS 0.3.21 … Haswell …" (OpenBLAS) or "Accelerate". */
  config: string;
  /** OpenBLAS's kernel family in use ("Haswell", "SkylakeX", …); "" for other libraries. */
  corename: string;
  /** Threads the library uses (OpenBLAS), or 0 when unknown. */
  threads: number;
}

/** Row-major C[M,N] = alpha · op(A) · op(B) + beta · C, with leading dimensions lda, ldb, ldc. */
export type Sgemm = (
  transA: boolean,
  transB: boolean,
  m: number,
  n: number,
  k: number,
  alpha: number,
  a: Float32Array,
  lda: number,
  b: Float32Array,
  ldb: number,
  beta: number,
  c: Float32Array,
  ldc: number,
) => void;

interface Loaded {
  info: BlasInfo;
  sgemm: Sgemm;
  setThreads?: (n: number) => void;
}

let loaded: Loaded | null = null;
let loadError: string | null = null;

/** `$SIMCSE_BLAS_LIB` alone when set (that library or none), else the system's usual names. */
function candidates(): string[] {
  const own = Deno.env.get("SIMCSE_BLAS_LIB");
  if (own) return [own];
  const list: string[] = [];
  if (Deno.build.os === "darwin") {
    list.push("/System/Library/Frameworks/Accelerate.framework/Accelerate");
  } else if (Deno.build.os === "windows") {
    list.push("libopenblas.dll");
  } else {
    list.push(
      "libopenblas.so.0",
      "/usr/lib/x86_64-linux-gnu/libopenblas.so.0",
      "/usr/lib/aarch64-linux-gnu/libopenblas.so.0",
      "/usr/lib64/libopenblas.so.0",
      "libopenblas.so",
    );
  }
  return list;
}

function cString(p: Deno.PointerValue): string {
  return p ? new Deno.UnsafePointerView(p).getCString() : "";
}

function tryOpen(path: string): Loaded | null {
  let lib;
  try {
    lib = Deno.dlopen(path, { cblas_sgemm: SGEMM_SIG });
  } catch {
    return null;
  }
  const raw = lib.symbols.cblas_sgemm;
  const sgemm: Sgemm = (tA, tB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc) =>
    raw(
      CBLAS_ROW_MAJOR,
      tA ? CBLAS_TRANS : CBLAS_NO_TRANS,
      tB ? CBLAS_TRANS : CBLAS_NO_TRANS,
      m,
      n,
      k,
      alpha,
      a,
      lda,
      b,
      ldb,
      beta,
      c,
      ldc,
    );
  const info: BlasInfo = {
    path,
    config: path.includes("Accelerate") ? "Accelerate" : "",
    corename: "",
    threads: 0,
  };
  let setThreads: ((n: number) => void) | undefined;
  // OpenBLAS extras, when present: its build config, chosen core and thread count.
  try {
    const extra = Deno.dlopen(path, {
      openblas_get_config: { parameters: [], result: "pointer" },
      openblas_get_corename: { parameters: [], result: "pointer" },
      openblas_get_num_threads: { parameters: [], result: "i32" },
      openblas_set_num_threads: { parameters: ["i32"], result: "void" },
    });
    info.config = cString(extra.symbols.openblas_get_config()).trim();
    info.corename = cString(extra.symbols.openblas_get_corename()).trim();
    info.threads = extra.symbols.openblas_get_num_threads();
    setThreads = (n) => extra.symbols.openblas_set_num_threads(n);
  } catch {
    // not OpenBLAS
  }
  return { info, sgemm, setThreads };
}

/** How long OpenBLAS's idle threads spin (2^n cycles) unless `OPENBLAS_THREAD_TIMEOUT` says otherwise. */
export const OPENBLAS_SPIN_LOG2 = 16;

/** Open the system BLAS once. Returns null (see {@link blasUnavailableReason}) when none can be opened. */
export function loadBlas(): Loaded | null {
  if (loaded || loadError) return loaded;
  if (typeof Deno === "undefined" || typeof Deno.dlopen !== "function") {
    loadError = "Deno.dlopen is not available";
    return null;
  }
  try { // read by OpenBLAS when it loads (see the module doc)
    if (Deno.env.get("OPENBLAS_THREAD_TIMEOUT") === undefined) {
      Deno.env.set("OPENBLAS_THREAD_TIMEOUT", String(OPENBLAS_SPIN_LOG2));
    }
  } catch { /* without --allow-env OpenBLAS keeps its default */ }
  for (const path of candidates()) {
    try {
      loaded = tryOpen(path);
    } catch (e) {
      if (e instanceof Deno.errors.NotCapable || e instanceof Deno.errors.PermissionDenied) {
        loadError = "FFI is not permitted (run with --allow-ffi or -A)";
        return null;
      }
      loaded = null;
    }
    if (loaded) return loaded;
  }
  const own = Deno.env.get("SIMCSE_BLAS_LIB");
  loadError = own
    ? `SIMCSE_BLAS_LIB=${own} could not be opened (unset it to use the system's OpenBLAS)`
    : Deno.build.os === "darwin"
    ? "the Accelerate framework could not be opened"
    : `no OpenBLAS library found (tried ${
      candidates().join(", ")
    }; install it with 'apt-get install libopenblas0')`;
  return null;
}

/** Why {@link loadBlas} failed, or null when it has not failed. */
export function blasUnavailableReason(): string | null {
  return loadError;
}

/** The loaded BLAS, or null. */
export function blasInfo(): BlasInfo | null {
  return loaded?.info ?? null;
}

/** Set OpenBLAS's thread count (no-op for other libraries). */
export function setBlasThreads(n: number): void {
  loadBlas()?.setThreads?.(n);
  if (loaded) loaded.info.threads = n;
}

/** The sgemm of the loaded library; throws when none is loaded. */
export function sgemm(): Sgemm {
  const l = loadBlas();
  if (!l) throw new Error(`no BLAS: ${loadError}`);
  return l.sgemm;
}

// ---------------------------------------------------------------------------------------------
// Kernels

interface MatMulAttrs {
  transposeA: boolean;
  transposeB: boolean;
}

/**
 * Batched matmul of float32 tensors with tfjs `BatchMatMul` semantics (outer dims flattened, batch
 * index `bi % batchA` / `bi % batchB`); returns the output values and shape. A batch of small products
 * without broadcasting goes to the C kernels in one call where they are loaded (`smallBatch`), else `gemm`
 * runs once per matrix.
 */
export function blasBatchMatMul(
  gemm: Sgemm,
  a: Float32Array,
  aShape: number[],
  b: Float32Array,
  bShape: number[],
  transposeA: boolean,
  transposeB: boolean,
  rowBias?: Float32Array,
): { values: Float32Array; shape: number[] } {
  const ra = aShape.length, rb = bShape.length;
  const k = transposeA ? aShape[ra - 2] : aShape[ra - 1];
  const kb = transposeB ? bShape[rb - 1] : bShape[rb - 2];
  const m = transposeA ? aShape[ra - 1] : aShape[ra - 2];
  const n = transposeB ? bShape[rb - 2] : bShape[rb - 1];
  if (k !== kb) {
    throw new Error(
      `Error in matMul: inner shapes (${k}) and (${kb}) of Tensors with shapes ${aShape} and ${bShape} ` +
        `and transposeA=${transposeA} and transposeB=${transposeB} must match.`,
    );
  }
  const outerA = aShape.slice(0, -2), outerB = bShape.slice(0, -2);
  const outer = tf.broadcast_util.assertAndGetBroadcastShape(outerA, outerB);
  const batchA = outerA.reduce((x, y) => x * y, 1);
  const batchB = outerB.reduce((x, y) => x * y, 1);
  const batch = Math.max(batchA, batchB);
  const out = allocFloat32(batch * m * n);
  const sizeA = m * k, sizeB = k * n, sizeC = m * n;
  const lda = transposeA ? m : k, ldb = transposeB ? k : n;
  // A bias of n values is added to every output row by writing it there first and running sgemm
  // with beta = 1 (one pass less over the output than adding it afterwards).
  const beta = rowBias ? 1 : 0;
  if (rowBias) { for (let o = 0; o < out.length; o += n) out.set(rowBias, o); }
  if (k === 0) {
    if (!rowBias) out.fill(0);
  } else if (
    sizeC > 0 &&
    (rowBias || batchA !== batchB || !smallBatch(a, b, out, [transposeA, transposeB], batch, [m, n, k]))
  ) {
    if (batch === 1) {
      gemm(transposeA, transposeB, m, n, k, 1, a, lda, b, ldb, beta, out, n);
    } else {
      for (let bi = 0; bi < batch; bi++) {
        const ia = bi % batchA, ib = bi % batchB;
        gemm(
          transposeA,
          transposeB,
          m,
          n,
          k,
          1,
          a.subarray(ia * sizeA, (ia + 1) * sizeA),
          lda,
          b.subarray(ib * sizeB, (ib + 1) * sizeB),
          ldb,
          beta,
          out.subarray(bi * sizeC, (bi + 1) * sizeC),
          n,
        );
      }
    }
  }
  return { values: out, shape: [...outer, m, n] };
}

/**
 * `out` = the batch of small products (m, n and k at most {@link SMALL_GEMM_MAX}, no broadcast batch) in one
 * call of the C kernels' small-matrix kernel in its float32 form (`native/small_gemm.h`, as
 * `cpu_head_matmul.ts` uses it for the attention products), not an sgemm call per matrix: BERT's [CLS]-only
 * last layer at evaluation multiplies B·heads pairs of [1, dh] and [dh, L]. False (nothing written) where
 * the C kernels are not loaded, for other shapes, or when the kernel could not allocate its tiles.
 */
function smallBatch(
  a: Float32Array,
  b: Float32Array,
  out: Float32Array,
  trans: [boolean, boolean],
  batch: number,
  [m, n, k]: [number, number, number],
): boolean {
  const nk = nativeKernels();
  if (!nk || batch < 2 || Math.min(m, n, k) < 1 || Math.max(m, n, k) > SMALL_GEMM_MAX) return false;
  return nk.halfBatchGemm(
    "f32",
    trans,
    [batch, 1],
    [m, n, k],
    { data: a, ld: trans[0] ? m : k, strides: [m * k, 0] },
    { data: b, ld: trans[1] ? k : n, strides: [k * n, 0] },
    { data: out, ld: n, strides: [m * n, 0] },
    1,
  );
}

const ACTIVATION_KERNELS: Record<string, string> = {
  relu: "Relu",
  relu6: "Relu6",
  elu: "Elu",
  sigmoid: "Sigmoid",
  leakyrelu: "LeakyRelu",
  prelu: "Prelu",
};

let registered = false;
let stockBatchMatMul: tf.KernelFunc | null = null;
let stockFusedMatMul: tf.KernelFunc | null = null;

function isFloat(t: tf.TensorInfo): boolean {
  return t.dtype === "float32";
}

function batchMatMulKernel(args: {
  inputs: tf.NamedTensorInfoMap;
  backend: unknown;
  attrs?: tf.NamedAttrMap;
}): tf.TensorInfo {
  const { a, b } = args.inputs as { a: tf.TensorInfo; b: tf.TensorInfo };
  if (!isFloat(a) || !isFloat(b)) return stockBatchMatMul!(args as never) as tf.TensorInfo;
  const backend = args.backend as CpuBackendLike;
  const { transposeA, transposeB } = args.attrs as unknown as MatMulAttrs;
  const r = blasBatchMatMul(
    loaded!.sgemm,
    float32Values(backend, a),
    a.shape,
    float32Values(backend, b),
    b.shape,
    transposeA,
    transposeB,
  );
  return backend.makeTensorInfo(r.shape, "float32", r.values);
}

function fusedMatMulKernel(args: {
  inputs: tf.NamedTensorInfoMap;
  backend: unknown;
  attrs?: tf.NamedAttrMap;
}): tf.TensorInfo {
  const { a, b, bias, preluActivationWeights } = args.inputs as Record<string, tf.TensorInfo | undefined>;
  if (!isFloat(a!) || !isFloat(b!) || (bias && !isFloat(bias))) {
    return stockFusedMatMul!(args as never) as tf.TensorInfo;
  }
  const backend = args.backend as CpuBackendLike;
  const { transposeA, transposeB, activation, leakyreluAlpha } = args.attrs as unknown as MatMulAttrs & {
    activation?: string;
    leakyreluAlpha?: number;
  };
  const n = transposeB ? b!.shape[b!.shape.length - 2] : b!.shape[b!.shape.length - 1];
  const bv = bias ? float32Values(backend, bias) : undefined;
  const rowBias = bias && bias.shape.length <= 1 && bv!.length === n ? bv : undefined; // the usual [n] bias
  const r = blasBatchMatMul(
    loaded!.sgemm,
    float32Values(backend, a!),
    a!.shape,
    float32Values(backend, b!),
    b!.shape,
    transposeA,
    transposeB,
    rowBias,
  );
  let current = backend.makeTensorInfo(r.shape, "float32", r.values);
  if (bias && !rowBias) { // other bias shapes: the Add kernel's broadcasting
    const add = tf.getKernel("Add", "cpu")!.kernelFunc;
    const next = add({ inputs: { a: current, b: bias }, backend: backend as never }) as tf.TensorInfo;
    backend.disposeIntermediateTensorInfo(current);
    current = next;
  }
  if (activation && activation !== "linear") {
    const name = ACTIVATION_KERNELS[activation];
    if (!name) throw new Error(`_FusedMatMul: unknown activation '${activation}'`);
    const k = tf.getKernel(name, "cpu")!.kernelFunc;
    const inputs: tf.NamedTensorInfoMap = name === "Prelu"
      ? { x: current, alpha: preluActivationWeights! }
      : { x: current };
    const next = k({
      inputs,
      backend: backend as never,
      attrs: name === "LeakyRelu" ? { alpha: leakyreluAlpha ?? 0.2 } : {},
    }) as tf.TensorInfo;
    backend.disposeIntermediateTensorInfo(current);
    current = next;
  }
  return current;
}

/**
 * Replace the cpu backend's `BatchMatMul` and `_FusedMatMul` with sgemm-backed kernels (idempotent).
 * Returns `{ ok: false, reason }` and leaves the stock kernels when no BLAS library can be opened.
 */
export function registerBlasKernels(): { ok: true; info: BlasInfo } | { ok: false; reason: string } {
  const l = loadBlas();
  if (!l) return { ok: false, reason: loadError ?? "BLAS unavailable" };
  if (!registered) {
    cpuBackend(); // the cpu backend must exist so that its stock kernels are registered
    stockBatchMatMul = tf.getKernel("BatchMatMul", "cpu")!.kernelFunc;
    stockFusedMatMul = tf.getKernel("_FusedMatMul", "cpu")!.kernelFunc;
    tf.unregisterKernel("BatchMatMul", "cpu");
    tf.registerKernel({
      kernelName: "BatchMatMul",
      backendName: "cpu",
      kernelFunc: batchMatMulKernel as never,
    });
    tf.unregisterKernel("_FusedMatMul", "cpu");
    tf.registerKernel({
      kernelName: "_FusedMatMul",
      backendName: "cpu",
      kernelFunc: fusedMatMulKernel as never,
    });
    registered = true;
  }
  return { ok: true, info: l.info };
}

/** Put the stock `BatchMatMul` / `_FusedMatMul` back (for tests comparing against them). */
export function unregisterBlasKernels(): void {
  if (!registered) return;
  tf.unregisterKernel("BatchMatMul", "cpu");
  tf.registerKernel({ kernelName: "BatchMatMul", backendName: "cpu", kernelFunc: stockBatchMatMul! });
  tf.unregisterKernel("_FusedMatMul", "cpu");
  tf.registerKernel({ kernelName: "_FusedMatMul", backendName: "cpu", kernelFunc: stockFusedMatMul! });
  registered = false;
}

/** Whether the BLAS kernels are currently registered. */
export function blasKernelsActive(): boolean {
  return registered;
}
