/**
 * Access to the TF.js `cpu` backend's storage for hand-written kernels, and a pool of Float32Array
 * output buffers (and Int32Array ones for packed 16-bit codes). A training step allocates hundreds of
 * multi-MB arrays; fresh ones cost `mmap`, page faults and zeroing (half the process time of the
 * pre-pool prototype, docs/CPU-PERF.md "History") and are freed late by GC. With the pool installed, an output buffer allocated by
 * {@link allocFloat32} returns to the pool when the backend frees its tensor and is handed to the
 * next kernel that needs that many elements.
 *
 * Safety: a buffer is recycled only while the backend is its sole holder. Reading a pooled tensor out
 * (`dataSync`/`data`/`readSync`) gives a copy; its buffer "escapes" (is never recycled) once another
 * tensor is stored on a view of the same memory (e.g. the stock `Slice` kernel returns sub-array views)
 * or it is handed out for writing in place ({@link exclusiveFloat32}). Pooled arrays
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
  writeEpoch++;
  return entry.values;
}

let writeEpoch = 0;

/**
 * A counter that moves whenever a tensor's storage is handed out for writing in place
 * ({@link exclusiveFloat32}, {@link peekFloat32} with `forWrite`): what was derived from a tensor's
 * values at one count (16-bit codes of a weight, `lib/ops/weight_codes.ts`) is current while it holds.
 */
export function storageWriteEpoch(): number {
  return writeEpoch;
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
  if (forWrite) writeEpoch++;
  return entry.values;
}

const MIN_POOLED = 4096; // smaller arrays are cheap to allocate
const ALIGN = 64; // byte alignment of every pooled array (a cache line, one AVX-512 vector)

/**
 * Bytes from the start of `buf` to its first ALIGN-aligned address. An ArrayBuffer's memory is only
 * 16-byte aligned (a large one is an mmap'd block after malloc's 16-byte header), and oneDNN's AMX
 * matmuls read their 16-bit operands and write their float32 results in place: with every row of
 * them straddling two cache lines, a BERT-base bf16 product took 12.9–14.3 ms instead of 10.6–10.8
 * (docs/CPU-PERF.md, "Sixth round"). Reading an address needs the FFI permission; without it the
 * native kernels are not loaded either, and nothing here needs more than 16 bytes (shift 0).
 */
function alignShift(buf: ArrayBuffer): number {
  if (ffiGranted === undefined) {
    try {
      ffiGranted = Deno.permissions.querySync({ name: "ffi" }).state === "granted";
    } catch {
      ffiGranted = false;
    }
  }
  if (!ffiGranted) return 0;
  const addr = BigInt(Deno.UnsafePointer.value(Deno.UnsafePointer.of(buf)));
  return Number((BigInt(ALIGN) - (addr % BigInt(ALIGN))) % BigInt(ALIGN));
}
let ffiGranted: boolean | undefined;

type Pooled = Float32Array | Int32Array;

/**
 * Free memory lives in slabs: ArrayBuffers cut into regions, each handed out as a typed array of
 * exactly the requested length at its offset. A request takes the smallest free region that fits
 * (the rest of it stays free), and a freed region merges with free neighbours, so memory that one
 * phase of a step used for 16-bit codes serves the next phase's float32 arrays (and back): a pool of
 * whole arrays per byte length would keep the largest count of each size at once. A slab is made at
 * the size of a request that nothing free can hold.
 */
interface Slab {
  buf: ArrayBuffer;
  regions: Region[]; // in address order, covering the slab from its first 64-byte-aligned address
  pooled: boolean; // false once detached: its regions are never handed out again
  escaped: number; // regions read out or aliased: never recycled
}
interface Region {
  slab: Slab;
  off: number;
  len: number;
  state: "free" | "used" | "escaped";
}

let slabs: Slab[] = [];
const slabOf = new WeakMap<ArrayBuffer, Slab>();
const regionOf = new WeakMap<ArrayBufferView, Region>(); // arrays handed out, while their region is theirs
const fresh = new WeakSet<ArrayBufferView>(); // handed out, not yet stored in the backend
const owned = new WeakSet<ArrayBufferView>(); // stored in exactly one backend entry, never handed out
let freeBytes = 0;
let maxFreeBytes = 0;
let installed = false;
let stats = { allocs: 0, reused: 0, released: 0 };

function alloc<T extends Pooled>(
  n: number,
  bytesPer: number,
  make: (b: ArrayBuffer, offset: number, length: number) => T,
): T {
  // Another backend copies what it is given, so a pooled region handed to it would never come back.
  if (!installed || n < MIN_POOLED || tf.getBackend() !== "cpu") {
    return make(new ArrayBuffer(n * bytesPer), 0, n);
  }
  stats.allocs++;
  const need = Math.ceil((n * bytesPer) / ALIGN) * ALIGN;
  let best: Region | undefined;
  for (const slab of slabs) {
    for (const r of slab.regions) {
      if (r.state === "free" && r.len >= need && (!best || r.len < best.len)) best = r;
    }
  }
  if (best) {
    stats.reused++;
    freeBytes -= need;
    if (best.len > need) {
      const rest: Region = { slab: best.slab, off: best.off + need, len: best.len - need, state: "free" };
      best.slab.regions.splice(best.slab.regions.indexOf(best) + 1, 0, rest);
      best.len = need;
    }
  } else {
    releaseIdleSlabs(need);
    const buf = new ArrayBuffer(need + ALIGN);
    const shift = alignShift(buf); // regions start at the first aligned address and stay aligned
    const slab: Slab = { buf, regions: [], pooled: true, escaped: 0 };
    best = { slab, off: shift, len: need + ALIGN - shift, state: "free" };
    slab.regions.push(best);
    slabs.push(slab);
    slabOf.set(slab.buf, slab);
  }
  best.state = "used";
  const view = make(best.slab.buf, best.off, n);
  regionOf.set(view, best);
  fresh.add(view);
  return view;
}

/** Give a used region back: merge it with free neighbours; detach its slab when nothing in it is live. */
function freeRegion(r: Region): void {
  const slab = r.slab;
  r.state = "free";
  if (!slab.pooled) return;
  stats.released++;
  freeBytes += r.len;
  const rs = slab.regions;
  let i = rs.indexOf(r);
  if (i + 1 < rs.length && rs[i + 1].state === "free") r.len += rs.splice(i + 1, 1)[0].len;
  if (i > 0 && rs[i - 1].state === "free") {
    rs[i - 1].len += r.len;
    rs.splice(i, 1);
    i--;
  }
  const live = rs.some((x) => x.state === "used");
  // Nothing live: a slab holding only read-out memory, or a free slab over the cap, goes to GC.
  if (!live && (slab.escaped > 0 || freeBytes > maxFreeBytes)) detach(slab);
}

/**
 * Before a new slab of `need` bytes is made: give wholly free slabs, up to `need` bytes, back to the
 * system at once (their memory is freed now, not when GC finds them). Free memory that no request fits
 * (a step's last large array, such as BERT's [30522, 768] embedding gradient, arrives when the freed
 * activations lie in many smaller slabs) would otherwise add a slab each time and stay resident.
 */
function releaseIdleSlabs(need: number): void {
  let released = 0;
  for (const slab of [...slabs].sort((a, b) => b.buf.byteLength - a.buf.byteLength)) {
    if (released >= need) break;
    if (slab.escaped > 0 || slab.regions.some((r) => r.state !== "free")) continue;
    released += slab.buf.byteLength;
    detach(slab);
    slab.buf.transfer(0); // no view of it is in use: every region is free and none was read out
  }
}

function detach(slab: Slab): void {
  if (!slab.pooled) return;
  slab.pooled = false;
  for (const r of slab.regions) if (r.state === "free") freeBytes -= r.len;
  slabs = slabs.filter((x) => x !== slab);
}

/** The region of a pooled array is never recycled again (it was read out, or another tensor shares it). */
function escapeRegion(r: Region): void {
  if (r.state !== "used") return;
  r.state = "escaped";
  r.slab.escaped++; // the slab goes to GC once nothing else in it is live (freeRegion)
}

/**
 * A Float32Array of `n` elements with ARBITRARY contents (recycled when the pool is installed, the cpu
 * backend is the active one and one is free). Write every element before storing it with `makeTensorInfo`.
 */
export function allocFloat32(n: number): Float32Array {
  return alloc(n, 4, (b, o, l) => new Float32Array(b, o, l));
}

/**
 * An Int32Array of `n` elements (e.g. the storage of 16-bit codes packed in pairs), on the same terms
 * as {@link allocFloat32}.
 */
export function allocInt32(n: number): Int32Array {
  return alloc(n, 4, (b, o, l) => new Int32Array(b, o, l));
}

/** Give back a scratch array from {@link allocFloat32} / {@link allocInt32} that was never stored in a tensor. */
export function releaseFloat32(a: Pooled): void {
  const r = regionOf.get(a);
  if (!installed || !r || !fresh.has(a)) return;
  fresh.delete(a);
  regionOf.delete(a);
  freeRegion(r);
}

/** Values handed out of the backend (read out, or given to an optimizer to update in place). */
function escape(values: unknown): void {
  if (!values || !ArrayBuffer.isView(values)) return;
  owned.delete(values);
  const r = regionOf.get(values);
  if (r) escapeRegion(r);
  else escapeOverlap(values);
}

/** Every used region of a pooled slab that `v` (an array not handed out here, e.g. a sub-array view) overlaps. */
function escapeOverlap(v: ArrayBufferView): void {
  const slab = slabOf.get(v.buffer as ArrayBuffer);
  if (!slab) return;
  const lo = v.byteOffset, hi = v.byteOffset + v.byteLength;
  for (const r of [...slab.regions]) if (r.off < hi && r.off + r.len > lo) escapeRegion(r);
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
      if (fresh.has(values)) {
        fresh.delete(values);
        owned.add(values);
      } else if (owned.has(values) || !regionOf.has(values)) {
        escape(values); // a second tensor on the same array, or a view into pooled memory
      }
    }
    return write(values, shape, dtype);
  };
  b.readSync = (dataId) => {
    if (!b.data.has(dataId)) return readSync(dataId);
    const v = b.data.get(dataId).values;
    const out = readSync(dataId);
    // Read out of pooled storage that this tensor alone holds: a copy, so the storage goes back to the
    // pool on dispose. Handing out the array itself would detach its whole slab until GC found it
    // (a 64-sentence embedding read out per encode batch kept one slab after another resident).
    if (out === v && ArrayBuffer.isView(v) && owned.has(v)) return (v as Float32Array | Int32Array).slice();
    escape(v);
    return out;
  };
  b.disposeData = (dataId, force) => {
    const entry = b.data.has(dataId) ? b.data.get(dataId) : undefined;
    const done = disposeData(dataId, force);
    if (entry && !b.data.has(dataId)) {
      const v = entry.values;
      if (ArrayBuffer.isView(v) && owned.has(v)) {
        owned.delete(v);
        const r = regionOf.get(v)!;
        regionOf.delete(v);
        if (r.state === "used") freeRegion(r);
      }
    }
    return done;
  };
  installed = true;
}

/** Empty the pool: every slab is detached (memory goes back to GC once its arrays are gone). */
export function drainCpuPool(): void {
  for (const slab of [...slabs]) detach(slab);
  freeBytes = 0;
}

/** Pool counters since the last reset, the free bytes, and the bytes of all pooled slabs (free or not). */
export function cpuPoolStats(
  reset = false,
): { allocs: number; reused: number; released: number; freeBytes: number; slabBytes: number } {
  const s = { ...stats, freeBytes, slabBytes: slabs.reduce((t, x) => t + x.buf.byteLength, 0) };
  if (reset) stats = { allocs: 0, reused: 0, released: 0 };
  return s;
}

/** Whether {@link installCpuPool} has run. */
export function cpuPoolInstalled(): boolean {
  return installed;
}
