import assert from "node:assert/strict";
import { tf } from "../runtime/tf.ts";
import { registerFastCpuKernels } from "./cpu_fast.ts";
import { cpuPoolStats, installCpuPool } from "./cpu_pool.ts";

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
  // dataSync hands out the backend's own array: it must keep its values after dispose.
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

Deno.test("dropout masks come from the pool and are fully rewritten (C and JS loops)", async () => {
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
      // dx of sum(dropout(x)) is keep/(1-p): after mask A is recycled, mask B must not inherit A's ones.
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
