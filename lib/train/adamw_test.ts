import assert from "node:assert/strict";
import { tf } from "../runtime/tf.ts";
import { useBackend } from "../kernels/backend.ts";
import { setNativeKernelsEnabled } from "../kernels/native_kernels.ts";
import { AdamW, clipFactor, globalGradNorm } from "./adamw.ts";
import { RowGradient } from "../ops/row_gradient.ts";
import { reportSkip, requireTool } from "../../testing/tools.ts";
import { skipBackend } from "../../testing/backends.ts";

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

Deno.test({
  name:
    "AdamW on webgpu: a WGSL kernel per parameter (no TF.js kernel) updates p, m, v in place; 3 steps (bias correction, clip factor, decay / no-decay) match float64 HF AdamW",
  ignore: skipBackend("webgpu"),
  fn: async () => {
    await useBackend("webgpu");
    const lr = 1e-2, wd = 0.01, b1 = 0.9, b2 = 0.999, eps = 1e-8;
    const p0 = { w: [1, -2, 0.5, 3e-3], "x.bias": [0.25, -0.75, 2, -1e-3] };
    const gs = [[0.5, -3, 1e-3, 2], [-0.25, 1, 4e-3, -1], [0.125, 0.5, -2e-3, 0.75]];
    const scales = [1, 0.37, 1]; // the second step is clipped
    const w0 = tf.tensor1d(p0.w), w = tf.variable(w0);
    w0.dispose(); // as the models make their variables: the variable's buffer is its own
    const init = tf.tensor1d(p0["x.bias"]);
    const bias = tf.variable(init); // shares its buffer with `init`: updated into a new buffer, not in place
    const params = new Map([["w", w], ["x.bias", bias]]);
    const wId = w.dataId;
    const opt = new AdamW({ weightDecay: wd });
    for (let s = 0; s < 3; s++) {
      const grads = new Map([["w", tf.tensor1d(gs[s])], ["x.bias", tf.tensor1d(gs[s].map((g) => -g))]]);
      const prof = await tf.profile(() => opt.stepOnDevice(params, grads, lr, scales[s]));
      assert.deepEqual(
        prof.kernelNames.filter((k) => k),
        [],
        "no TF.js kernel: the update is the WGSL kernel",
      );
      tf.dispose([...grads.values()]);
    }
    assert.equal(w.dataId, wId, "an exclusive parameter is updated in its own buffer");
    assert.deepEqual(
      Array.from(await init.data()),
      p0["x.bias"].map(Math.fround),
      "a shared buffer is not written",
    );
    // float64 HF AdamW: g' = fround(g·scale); m, v; p -= lr·√(1−β2^t)/(1−β1^t)·m/(√v + ε); p -= lr·wd·p
    const state = await opt.stateAsync();
    for (const [name, sign, decay] of [["w", 1, lr * wd], ["x.bias", -1, 0]] as const) {
      const p = [...p0[name]], m = [0, 0, 0, 0], v = [0, 0, 0, 0];
      for (let t = 1; t <= 3; t++) {
        const step = lr * Math.sqrt(1 - b2 ** t) / (1 - b1 ** t);
        for (let i = 0; i < 4; i++) {
          const g = Math.fround(Math.fround(sign * gs[t - 1][i]) * Math.fround(scales[t - 1]));
          m[i] = b1 * m[i] + (1 - b1) * g;
          v[i] = b2 * v[i] + (1 - b2) * g * g;
          p[i] -= step * m[i] / (Math.sqrt(v[i]) + eps);
          p[i] -= decay * p[i];
        }
      }
      const got = await params.get(name)!.data();
      for (let i = 0; i < 4; i++) {
        assert(
          Math.abs(got[i] - p[i]) <= 1e-7 * Math.max(1, Math.abs(p[i])),
          `${name}[${i}]: ${got[i]} vs ${p[i]}`,
        );
        assert(Math.abs(state.m[name][i] - m[i]) <= 1e-6 * Math.abs(m[i]) + 1e-12, `m ${name}[${i}]`);
        assert(Math.abs(state.v[name][i] - v[i]) <= 1e-6 * Math.abs(v[i]) + 1e-15, `v ${name}[${i}]`);
      }
    }
    assert.equal(state.step, 3);
    opt.dispose();
    tf.dispose([w, bias, init]);
  },
});

for (const native of hasC ? [true, false] : [false]) {
  Deno.test(`AdamW.step with the gradient as rows: the dense update bit for bit over 3 steps, rows absent, first, last and in runs (${native ? "C kernel" : "JS runs"})`, async () => {
    await useBackend("cpu");
    setNativeKernelsEnabled(native);
    try {
      for (const [V, H] of [[37, 24], [300, 64]]) {
        const ids = Int32Array.from([0, 1, 2, 9, 17, 18, V - 1]);
        const start = Float32Array.from({ length: V * H }, (_, i) => Math.sin(i) * 0.1);
        const dense = tf.variable(tf.tensor2d(start, [V, H])),
          sparse = tf.variable(tf.tensor2d(start, [V, H]));
        const optD = new AdamW({ weightDecay: 0.01 }), optS = new AdamW({ weightDecay: 0.01 });
        for (let s = 0; s < 3; s++) {
          const rows = Float32Array.from(
            { length: ids.length * H },
            (_, i) => Math.cos(i * (s + 1)) * 10 ** (s - 2),
          );
          const g = new RowGradient(
            [V, H],
            s === 1 ? ids.subarray(2, 5) : ids,
            s === 1 ? rows.subarray(0, 3 * H) : rows,
          );
          const gd = tf.tensor2d(g.toDense(), [V, H]);
          // The same double sum of squares; the C loop's vector lanes group it alike when rows start
          // at multiples of its lane count (H = 64), else it may differ in the last bits.
          const [ns, nd] = [globalGradNorm([g]), globalGradNorm([gd])];
          if (H % 64 === 0 || !native) assert.equal(ns, nd, `norm, step ${s}`);
          else assert(Math.abs(ns - nd) <= 1e-15 * nd, `norm, step ${s}: ${ns} vs ${nd}`);
          const scale = [1, 0.3, 0.7][s];
          optD.step(new Map([["w", dense]]), new Map([["w", gd]]), 1e-2, scale);
          optS.step(new Map([["w", sparse]]), new Map([["w", g]]), 1e-2, scale);
          gd.dispose();
        }
        assert.deepEqual(sparse.dataSync(), dense.dataSync(), `[${V}, ${H}]: parameters`);
        const sd = optD.state(), ss = optS.state();
        assert.deepEqual(ss.m.w, sd.m.w, "m");
        assert.deepEqual(ss.v.w, sd.v.w, "v");
        tf.dispose([dense, sparse]);
      }
    } finally {
      setNativeKernelsEnabled(true);
    }
  });
}
