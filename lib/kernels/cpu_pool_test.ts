import assert from "node:assert/strict";
import { tf } from "../runtime/tf.ts";
import { registerFastCpuKernels } from "./cpu_fast.ts";
import { allocFloat32, cpuPoolStats, drainCpuPool, installCpuPool, releaseFloat32 } from "./cpu_pool.ts";

await tf.setBackend("cpu");
installCpuPool();
registerFastCpuKernels();

Deno.test("the cpu buffer pool recycles disposed outputs of the fast kernels", () => {
  const x = tf.ones([64, 128]);
  cpuPoolStats(true);
  for (let i = 0; i < 5; i++) tf.tidy(() => void tf.add(tf.mul(x, 2), 1));
  const s = cpuPoolStats();
  assert.ok(s.reused >= 8, `reused ${s.reused} of ${s.allocs}`);
  x.dispose();
});

Deno.test("the cpu buffer pool never recycles an array that was read out or is aliased by a view", () => {
  const x = tf.ones([64, 128]);
  // What dataSync hands out must keep its values after dispose, whatever reuses the storage.
  const y = tf.mul(x, 3);
  const vals = y.dataSync();
  y.dispose();
  for (let i = 0; i < 5; i++) tf.tidy(() => void tf.mul(x, 7));
  assert.equal(vals[0], 3);
  assert.equal(vals[vals.length - 1], 3);
  // The stock Reshape shares the data; slicing a contiguous block may return a view: both survive.
  const z = tf.mul(x, 5);
  const r = tf.reshape(z, [128, 64]);
  z.dispose();
  for (let i = 0; i < 5; i++) tf.tidy(() => void tf.mul(x, 11));
  assert.equal(r.dataSync()[100], 5);
  r.dispose();
  x.dispose();
});

Deno.test("dropout outputs and gradients come from the pool and are fully rewritten (C and JS loops)", async () => {
  const { registerFusedCpuKernels, dropoutHash } = await import("./cpu_fused.ts");
  const { fusedDropout } = await import("../ops/fused.ts");
  const { loadNativeKernels, setNativeKernelsEnabled } = await import("./native_kernels.ts");
  registerFusedCpuKernels();
  loadNativeKernels();
  const n = 8192, rate = 0.5, threshold = Math.floor(rate * 2 ** 32);
  const x = tf.ones([n]);
  for (const native of [true, false]) {
    setNativeKernelsEnabled(native);
    try {
      // dx of sum(dropout(x)) is keep/(1-p): after the arrays of seed 1 are recycled, seed 2's zeros must be written.
      const grad = (seed: number) =>
        tf.tidy(() => tf.grad((t: tf.Tensor) => tf.sum(fusedDropout(t, rate, seed)!))(x));
      grad(1).dispose();
      cpuPoolStats(true);
      const g = grad(2);
      assert.ok(cpuPoolStats().reused >= 1, "a recycled buffer was used");
      const v = g.dataSync();
      for (let i = 0; i < n; i++) {
        assert.equal(v[i], dropoutHash(2, i) >= threshold ? 2 : 0, `${native ? "C" : "JS"} element ${i}`);
      }
      g.dispose();
    } finally {
      setNativeKernelsEnabled(true);
    }
  }
  x.dispose();
});

/** The address of a typed array's first element. */
function address(a: ArrayBufferView): bigint {
  return BigInt(Deno.UnsafePointer.value(Deno.UnsafePointer.of(a as Uint8Array)));
}

Deno.test("the pool cuts freed memory to size and merges it back: one float32 array's memory serves two 16-bit-code arrays, then the float32 array again", async () => {
  const { allocFloat32, allocInt32, drainCpuPool, releaseFloat32 } = await import("./cpu_pool.ts");
  drainCpuPool();
  const n = 1 << 16;
  const f = allocFloat32(n); // n·4 bytes
  releaseFloat32(f);
  cpuPoolStats(true);
  const a = allocInt32(n / 2), b = allocInt32(n / 2); // two arrays of n·2 bytes (n 16-bit codes each)
  assert.equal(cpuPoolStats().reused, 2, "both taken from the freed float32 array's memory");
  assert.equal(a.buffer, f.buffer);
  assert.equal(b.buffer, f.buffer);
  const s = f.byteOffset; // where the slab's aligned memory starts
  assert.deepEqual([a.byteOffset, b.byteOffset].sort((x, y) => x - y), [s, s + 2 * n]);
  assert.equal(a.length, n / 2);
  // Writing one does not touch the other.
  a.fill(1);
  b.fill(2);
  assert.equal(a[a.length - 1], 1);
  assert.equal(b[0], 2);
  releaseFloat32(a);
  releaseFloat32(b);
  const g = allocFloat32(n);
  assert.equal(g.buffer, f.buffer, "the two halves merged back into one free region");
  assert.equal(g.byteOffset, s);
  releaseFloat32(g);
  // Addresses, not only offsets, are 64-byte aligned: the memory of an ArrayBuffer of 1 MB or more is
  // 16 bytes past a page boundary. For odd sizes too, and for arrays cut from a freed one.
  drainCpuPool();
  const big = [allocFloat32((1 << 18) + 1), allocInt32(1 << 18), allocFloat32(300_001)];
  releaseFloat32(big[1]);
  const cut = [allocInt32((1 << 17) + 3), allocFloat32(4097), allocFloat32(5000)];
  for (const o of [...big, ...cut]) assert.equal(address(o) % 64n, 0n);
  [big[0], big[2], ...cut].forEach(releaseFloat32);
});

Deno.test("reading a pooled tensor out gives a copy: the storage goes back to the pool, the copy keeps its values", async () => {
  drainCpuPool();
  const n = 1 << 16;
  const store = allocFloat32(n).fill(4);
  const y = tf.tensor(store, [n]); // pooled storage owned by y
  const kept = y.dataSync();
  assert.notEqual(kept.buffer, store.buffer, "a copy, not the pooled array");
  assert.equal((await y.data())[n - 1], 4);
  const before = cpuPoolStats();
  y.dispose();
  const after = cpuPoolStats();
  assert.ok(after.freeBytes - before.freeBytes >= n * 4, "y's storage is free again, not detached");
  assert.equal(after.slabBytes, before.slabBytes, "its slab stays in the pool");
  const z = allocFloat32(n);
  assert.equal(z.buffer, store.buffer, "and is handed out again");
  z.fill(7);
  assert.equal(kept[0], 4);
  assert.equal(kept[n - 1], 4);
  releaseFloat32(z);
});

Deno.test("a request that no free region fits first gives wholly free slabs back to the system, at once", () => {
  drainCpuPool();
  const MiB = 2 ** 20, slab = (mib: number) => mib * MiB + 64; // a slab has 64 bytes of alignment slack
  const floats = (mib: number) => (mib * MiB) / 4;
  const small = [0, 1, 2, 3].map(() => allocFloat32(floats(4))); // four slabs of 4 MiB
  const live = allocFloat32(floats(4)); // a fifth, still in use
  small.forEach(releaseFloat32);
  assert.equal(cpuPoolStats().slabBytes, 5 * slab(4));
  // 20 MiB fits no free region: the four free slabs (16 MiB) go first, the live one stays.
  const big = allocFloat32(floats(20));
  assert.equal(cpuPoolStats().slabBytes, slab(4) + slab(20), "only the live slab and the new one");
  for (const a of small) assert.equal(a.length, 0, "a released slab's memory is detached, not left to GC");
  live[0] = 1;
  assert.equal(live[0], 1, "the live slab is untouched");
  releaseFloat32(live);
  releaseFloat32(big);
  drainCpuPool();
});
