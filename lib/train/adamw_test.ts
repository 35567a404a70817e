import assert from "node:assert/strict";
import { tf } from "../runtime/tf.ts";
import { useBackend } from "../kernels/backend.ts";
import { setNativeKernelsEnabled } from "../kernels/native_kernels.ts";
import { AdamW, clipFactor, globalGradNorm } from "./adamw.ts";
import { reportSkip, requireTool } from "../../testing/tools.ts";

const cSkip = await requireTool("cc");
const hasC = cSkip === null;
reportSkip("AdamW's C loop", cSkip);

Deno.test("clipFactor is torch's max/(norm+1e-6) below 1, else 1; max_grad_norm 0 switches clipping off", () => {
  assert.equal(clipFactor(4, 1), 1 / (4 + 1e-6));
  assert.equal(clipFactor(0.5, 1), 1);
  assert.equal(clipFactor(1e9, 0), 1, "HF clips only when max_grad_norm > 0");
  assert.equal(clipFactor(NaN, 1), 1, "NaN gradients are not scaled");
});

for (const backend of ["cpu", "wasm"] as const) {
  for (const native of backend === "cpu" && hasC ? [true, false] : [false]) {
    const how = `${backend}${backend === "cpu" ? (native ? ", C kernels" : ", JS loops") : ""}`;
    Deno.test(`global gradient norm and one AdamW step with a clip factor, by hand (${how})`, async () => {
      await useBackend(backend);
      setNativeKernelsEnabled(native);
      try {
        // ‖[3, 4, 0, 12]‖ = 13, spread over two tensors; 5000 elements of 0 make the C loop vectorise.
        const a = tf.tensor1d([3, 4]), b = tf.concat([tf.tensor1d([0, 12]), tf.zeros([5000])]);
        assert.equal(globalGradNorm([a, b]), 13);
        // One HF AdamW step from m = v = 0 at t = 1 with g' = fround(g * scale):
        // m = 0.1 g', v = 0.001 g'², p -= lr·sqrt(0.001)/0.1 · m/(sqrt(v) + eps), then p -= lr·wd·p.
        const p0 = [1, -2, 0.5], g = [0.5, -3, 1e-3], scale = clipFactor(13, 1), lr = 1e-2, wd = 0.01;
        const p = tf.variable(tf.tensor1d(p0));
        const opt = new AdamW({ weightDecay: wd });
        opt.step(new Map([["w", p]]), new Map([["w", tf.tensor1d(g)]]), lr, scale);
        const got = p.dataSync();
        for (let i = 0; i < 3; i++) {
          const gs = Math.fround(Math.fround(g[i]) * Math.fround(scale));
          const m = 0.1 * gs, v = 0.001 * gs * gs;
          const pi = p0[i] - lr * Math.sqrt(0.001) / 0.1 * m / (Math.sqrt(v) + 1e-8);
          const want = pi - lr * wd * pi;
          assert(Math.abs(got[i] - want) <= 1e-7, `param ${i}: ${got[i]} vs ${want}`);
        }
        tf.dispose([a, b, p]);
      } finally {
        setNativeKernelsEnabled(true);
      }
    });
  }
}

Deno.test("AdamW and the gradient norm read cpu gradients in place: the buffers go back to the pool", async () => {
  await useBackend("cpu");
  const { cpuPoolInstalled, cpuPoolStats } = await import("../kernels/cpu_pool.ts");
  assert(cpuPoolInstalled(), "the cpu backend installs the buffer pool");
  const n = 1 << 16;
  const p = tf.variable(tf.zeros([n]));
  const opt = new AdamW();
  const g = tf.tidy(() => tf.mul(tf.ones([n]), 0.5)); // a kernel output in a pooled buffer
  cpuPoolStats(true);
  globalGradNorm([g]);
  opt.step(new Map([["w", p]]), new Map([["w", g]]), 1e-3);
  g.dispose();
  assert.equal(cpuPoolStats().released, 1, "the gradient's buffer was recycled, not read out");
  p.dispose();
});
