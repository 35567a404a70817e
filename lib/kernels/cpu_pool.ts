/**
 * Access to the TF.js `cpu` backend's storage for hand-written kernels, and a pool of Float32Array
 * output buffers (and Uint8Array ones for dropout masks). A training step allocates hundreds of
 * multi-MB arrays; fresh ones cost `mmap`, page faults and zeroing (half the process time of the
 * pre-pool prototype, docs/CPU-PERF.md "History") and are freed late by GC. With the pool installed, an output buffer allocated by
 * {@link allocFloat32} returns to the pool when the backend frees its tensor and is handed to the
 * next kernel that needs that many elements.
 *
 * Safety: a buffer is recycled only while the backend is its sole holder. It "escapes" (is never
 * recycled) once it is read out (`dataSync`/`data`/`readSync`) or once another tensor is stored on
 * a view of the same memory (e.g. the stock `Slice` kernel returns sub-array views). Pooled arrays
 * are NOT zeroed: a kernel that allocates with {@link allocFloat32} must write every element.
 *
 * @example
 * ```ts
 * import { installCpuPool, allocFloat32 } from "./cpu_pool.ts";
 * installCpuPool(); // idempotent; after the cpu backend is registered
 * const out = allocFloat32(1 << 20); // reused buffer when one of that size is free
 * ```
 * @module
 */
import { tf } from "../runtime/tf.ts";

/** The parts of tfjs-backend-cpu's `MathBackendCPU` the kernels here use. */
export interface CpuBackendLike {
  data: {
    get(dataId: unknown): { values: ArrayLike<number> | Uint8Array[]; dtype: tf.DataType; refCount: number };
    has(dataId: unknown): boolean;
  };
  write(values: unknown, shape: number[], dtype: tf.DataType): unknown;
  readSync(dataId: unknown): unknown;
  disposeData(dataId: unknown, force?: boolean): boolean;
  makeTensorInfo(shape: number[], dtype: tf.DataType, values?: unknown): tf.TensorInfo;
  disposeIntermediateTensorInfo(t: tf.TensorInfo): void;
  incRef(dataId: unknown): void;
}

/** The cpu backend instance (created on first use). */
export function cpuBackend(): CpuBackendLike {
  const b = tf.findBackend("cpu");
  if (!b) throw new Error("the TF.js cpu backend is not registered");
  return b as unknown as CpuBackendLike;
}

/** A tensor's values as a Float32Array (the backend's own array when it is one; a copy otherwise). */
export function float32Values(backend: CpuBackendLike, t: tf.TensorInfo): Float32Array {
  const v = backend.data.get(t.dataId).values;
  return v instanceof Float32Array ? v : Float32Array.from(v as ArrayLike<number>);
}

/**
 * The Float32Array behind a cpu-backend tensor when this tensor is its only user (ref count 1), so
 * that an optimizer may update it in place; null on other backends or when the data is shared.
 */
export function exclusiveFloat32(t: tf.Tensor): Float32Array | null {
  if (tf.getBackend() !== "cpu" || t.dtype !== "float32") return null;
  const b = cpuBackend();
  if (!b.data.has(t.dataId)) return null;
  const entry = b.data.get(t.dataId);
  if (entry.refCount !== 1 || !(entry.values instanceof Float32Array)) return null;
  escape(entry.values); // handed out: never recycle it behind the tensor's back
  return entry.values;
}

/**
 * The Int32Array behind an int32 cpu-backend tensor, for reading only, without taking it out of the
 * pool's reach (as {@link peekFloat32}); null on other backends or dtypes.
 */
export function peekInt32(t: tf.Tensor): Int32Array | null {
  if (tf.getBackend() !== "cpu" || t.dtype !== "int32" || t.isDisposed) return null;
  const b = cpuBackend();
  if (!b.data.has(t.dataId)) return null;
  const v = b.data.get(t.dataId).values;
  return v instanceof Int32Array ? v : null;
}

/**
 * The Float32Array behind a cpu-backend tensor, WITHOUT taking it out of the pool's reach: for
 * synchronous use only (read it, or write it when `forWrite`, then drop the reference before the
 * tensor can be disposed). With `forWrite` it is returned only when this tensor is the data's sole
 * holder (ref count 1), so no other tensor sees the change. Null on other backends, for other
 * dtypes, or when the data is shared and `forWrite` is set.
 */
export function peekFloat32(t: tf.Tensor, forWrite = false): Float32Array | null {
  if (tf.getBackend() !== "cpu" || t.dtype !== "float32" || t.isDisposed) return null;
  const b = cpuBackend();
  if (!b.data.has(t.dataId)) return null;
  const entry = b.data.get(t.dataId);
  if (!(entry.values instanceof Float32Array) || (forWrite && entry.refCount !== 1)) return null;
  return entry.values;
}

const MIN_POOLED = 4096; // smaller arrays are cheap to allocate

type Pooled = Float32Array | Uint8Array | Int32Array;
// Free memory is kept as ArrayBuffers keyed by byte length, so that any typed array of that size can
// reuse it (the 16-bit ops' int32 code words and float32 arrays of the same bytes share one list).
const free = new Map<number, ArrayBuffer[]>();
let freeBytes = 0;
let maxFreeBytes = 0;
const fresh = new WeakSet<ArrayBuffer>(); // allocated here, not yet stored in the backend
const owned = new WeakSet<ArrayBuffer>(); // stored in exactly one backend entry, never read out
let installed = false;
let stats = { allocs: 0, reused: 0, released: 0 };

function alloc<T extends Pooled>(n: number, bytesPer: number, make: (b: ArrayBuffer) => T): T {
  if (!installed || n < MIN_POOLED) return make(new ArrayBuffer(n * bytesPer));
  stats.allocs++;
  const list = free.get(n * bytesPer);
  if (list && list.length > 0) {
    const buf = list.pop()!;
    freeBytes -= buf.byteLength;
    fresh.add(buf);
    stats.reused++;
    return make(buf);
  }
  const buf = new ArrayBuffer(n * bytesPer);
  fresh.add(buf);
  return make(buf);
}

/**
 * A Float32Array of `n` elements with ARBITRARY contents (recycled when the pool is installed and
 * one is free). Write every element before storing it with `makeTensorInfo`.
 */
export function allocFloat32(n: number): Float32Array {
  return alloc(n, 4, (b) => new Float32Array(b));
}

/** A Uint8Array (e.g. a "bool" mask tensor's storage) of `n` elements, on the same terms as {@link allocFloat32}. */
export function allocUint8(n: number): Uint8Array {
  return alloc(n, 1, (b) => new Uint8Array(b));
}

/**
 * An Int32Array of `n` elements (e.g. the storage of 16-bit codes packed in pairs), on the same terms
 * as {@link allocFloat32}.
 */
export function allocInt32(n: number): Int32Array {
  return alloc(n, 4, (b) => new Int32Array(b));
}

/** Give back a scratch array from {@link allocFloat32} / {@link allocUint8} / {@link allocInt32} that was never stored in a tensor. */
export function releaseFloat32(a: Pooled): void {
  const buf = a.buffer as ArrayBuffer;
  if (!installed || !fresh.has(buf) || a.byteOffset !== 0 || a.byteLength !== buf.byteLength) return;
  fresh.delete(buf);
  pushFree(a);
}

function pushFree(a: Pooled): void {
  const buf = a.buffer as ArrayBuffer;
  if (freeBytes + buf.byteLength > maxFreeBytes) return; // over the cap: let GC have it
  let list = free.get(buf.byteLength);
  if (!list) free.set(buf.byteLength, list = []);
  list.push(buf);
  freeBytes += buf.byteLength;
  stats.released++;
}

function escape(values: unknown): void {
  if (values && ArrayBuffer.isView(values)) owned.delete(values.buffer as ArrayBuffer);
}

/**
 * Hook the pool into the cpu backend (idempotent). `maxFreeMB` caps the memory kept in free lists
 * (default: env `SIMCSE_CPU_POOL_MB`, else a quarter of physical memory, at most 8 GiB).
 */
export function installCpuPool(maxFreeMB?: number): void {
  const envMB = Number(Deno.env.get("SIMCSE_CPU_POOL_MB") ?? NaN);
  let total = 16 * 2 ** 30;
  try {
    total = Deno.systemMemoryInfo().total;
  } catch {
    // keep the default
  }
  maxFreeBytes = (maxFreeMB ?? (Number.isFinite(envMB) ? envMB : Math.min(8192, total / 4 / 2 ** 20))) *
    2 ** 20;
  if (installed) return;
  const b = cpuBackend();
  const write = b.write.bind(b);
  const readSync = b.readSync.bind(b);
  const disposeData = b.disposeData.bind(b);
  b.write = (values, shape, dtype) => {
    if (values && ArrayBuffer.isView(values)) {
      const buf = values.buffer as ArrayBuffer;
      if (owned.has(buf)) {
        owned.delete(buf); // a second tensor on the same memory: never recycle it
      } else if (fresh.has(buf)) {
        fresh.delete(buf);
        if (values.byteOffset === 0 && values.byteLength === buf.byteLength) owned.add(buf);
      }
    }
    return write(values, shape, dtype);
  };
  b.readSync = (dataId) => {
    if (b.data.has(dataId)) escape(b.data.get(dataId).values);
    return readSync(dataId);
  };
  b.disposeData = (dataId, force) => {
    const entry = b.data.has(dataId) ? b.data.get(dataId) : undefined;
    const done = disposeData(dataId, force);
    if (entry && !b.data.has(dataId)) {
      const v = entry.values;
      if (
        (v instanceof Float32Array || v instanceof Uint8Array || v instanceof Int32Array) &&
        owned.has(v.buffer as ArrayBuffer)
      ) {
        owned.delete(v.buffer as ArrayBuffer);
        pushFree(v);
      }
    }
    return done;
  };
  installed = true;
}

/** Empty the free lists (memory goes back to GC). */
export function drainCpuPool(): void {
  free.clear();
  freeBytes = 0;
}

/** Pool counters since the last reset, and the bytes now in free lists. */
export function cpuPoolStats(
  reset = false,
): { allocs: number; reused: number; released: number; freeBytes: number } {
  const s = { ...stats, freeBytes };
  if (reset) stats = { allocs: 0, reused: 0, released: 0 };
  return s;
}

/** Whether {@link installCpuPool} has run. */
export function cpuPoolInstalled(): boolean {
  return installed;
}
