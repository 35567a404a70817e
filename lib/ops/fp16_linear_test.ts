import { ok, strictEqual } from "node:assert/strict";
import { tf } from "../runtime/tf.ts";
import { useBackend } from "../kernels/backend.ts";
import { assertClose } from "../../testing/fixtures.ts";
import { assertWithinHalfUlps, fp16Fixture } from "../../testing/fp16_assert.ts";
import { activation } from "../model/layers.ts";
import { f16Round, isF16Valued, roundF16 } from "./fp16.ts";
import { fp16Linear } from "./fp16_linear.ts";
import { linear } from "./linear.ts";
import { skipBackend, TEST_BACKENDS } from "../../testing/backends.ts";

const fx = fp16Fixture();
const t = (a: { shape: number[]; data: number[] }) => tf.tensor(a.data, a.shape, "float32");

for (const backend of TEST_BACKENDS) {
  for (const c of fx.linear) {
    Deno.test({
      name:
        `\`fp16Linear()\` (${c.activation}) on ${backend} matches the numpy fp16 reference: fp16 y and grad_x, fp32 grad_W and grad_b`,
      ignore: skipBackend(backend),
      fn: async () => {
        await useBackend(backend);
        const before = tf.memory().numTensors;
        const out = tf.tidy(() => {
          const [x, w, b, dy] = [t(c.x), t(c.w), t(c.b), t(c.dy)];
          const f = (xx: tf.Tensor, ww: tf.Tensor, bb: tf.Tensor) =>
            fp16Linear(xx as tf.Tensor2D, ww as tf.Tensor2D, bb as tf.Tensor1D, { activation: c.activation });
          return [f(x, w, b), ...tf.grads(f)([x, w, b], dy)];
        });
        // Read asynchronously (webgpu has no synchronous reads).
        const [y, dx, dw, db] = await Promise.all(out.map((o) => o.data() as Promise<Float32Array>));
        tf.dispose(out);
        const exactY = assertWithinHalfUlps(y, c.y.data, "y");
        const exactDx = assertWithinHalfUlps(dx, c.dx.data, "dx");
        ok(exactY > 0.9 && exactDx > 0.9, `mostly bit-equal (y ${exactY}, dx ${exactDx})`);
        // fp32 accumulations: only the summation order differs from float64.
        assertClose(dw, c.dw.data, 1e-5, "dW", 1e-3);
        assertClose(db, c.db.data, 1e-5, "db", 1e-3);
        // grad_b really is fp32: Jittor's fp16 bias gradient would have lost these bits.
        ok(Array.from(db).some((v) => f16Round(v) !== v), "db carries more than fp16 precision");
        strictEqual(tf.memory().numTensors, before, "no tensor leaks");
      },
    });
  }
}

/** Random normal tensor with a fixed seed. */
function rnd(shape: number[], seed: number, std = 1): tf.Tensor {
  return tf.randomNormal(shape, 0, std, "float32", seed);
}

for (const act of ["none", "gelu", "gelu_new", "relu"] as const) {
  Deno.test(`\`fp16Linear()\` (${act}) output and gradients agree with the fp32 ops within fp16 tolerance on random inputs`, async () => {
    await useBackend("wasm");
    tf.tidy(() => {
      const x = rnd([64, 48], 1), w = rnd([48, 40], 2, 0.15), b = rnd([40], 3, 0.1), dy = rnd([64, 40], 4);
      const f16 = (xx: tf.Tensor, ww: tf.Tensor, bb: tf.Tensor) =>
        fp16Linear(xx as tf.Tensor2D, ww as tf.Tensor2D, bb as tf.Tensor1D, { activation: act });
      const f32 = (xx: tf.Tensor, ww: tf.Tensor, bb: tf.Tensor) => {
        const z = linear(xx as tf.Tensor2D, ww as tf.Tensor2D, bb as tf.Tensor1D);
        return act === "none" ? z : activation(act, z);
      };
      assertClose(f16(x, w, b).dataSync(), f32(x, w, b).dataSync(), 4e-3, "y", 1);
      const g16 = tf.grads(f16)([x, w, b], dy), g32 = tf.grads(f32)([x, w, b], dy);
      // ReLU's kink: a pre-activation within fp16 rounding of 0 may switch its gradient on or off.
      const tol = act === "relu" ? 2e-2 : 4e-3;
      for (const [i, name] of ["dx", "dW", "db"].entries()) {
        assertClose(g16[i].dataSync(), g32[i].dataSync(), tol, name, 1);
      }
    });
  });
}

Deno.test("`fp16Linear()` gives the same forward value with and without a gradient tape, and packs nothing without one", async () => {
  await useBackend("wasm");
  tf.tidy(() => {
    const x = rnd([8, 6], 5) as tf.Tensor2D,
      w = rnd([6, 4], 6) as tf.Tensor2D,
      b = rnd([4], 7) as tf.Tensor1D;
    const before = tf.memory().numTensors;
    const plain = fp16Linear(x, w, b, { activation: "gelu" });
    strictEqual(tf.memory().numTensors, before + 1, "only the output is new");
    let taped: Float32Array | undefined;
    tf.grad((xx: tf.Tensor) => {
      const y = fp16Linear(xx as tf.Tensor2D, w, b, { activation: "gelu" });
      taped = y.dataSync() as Float32Array;
      return tf.sum(y);
    })(x);
    strictEqual(Array.from(taped!).join(), Array.from(plain.dataSync()).join());
  });
});

Deno.test("`fp16Linear()` treats an input marked fp16-valued (an fp16 op's output) exactly like its unmarked copy", async () => {
  await useBackend("wasm");
  tf.tidy(() => {
    const x = rnd([8, 6], 8) as tf.Tensor2D,
      w = rnd([6, 4], 9) as tf.Tensor2D,
      b = rnd([4], 10) as tf.Tensor1D;
    const marked = roundF16(x), plain = tf.tensor(Array.from(marked.dataSync()), x.shape) as tf.Tensor2D;
    ok(isF16Valued(marked) && !isF16Valued(plain));
    const f = (xx: tf.Tensor, ww: tf.Tensor) =>
      fp16Linear(xx as tf.Tensor2D, ww as tf.Tensor2D, b, { activation: "gelu_new" });
    const dy = rnd([8, 4], 11);
    const viaMarked = [f(marked, w), ...tf.grads(f)([marked, w], dy)];
    const viaPlain = [f(plain, w), ...tf.grads(f)([plain, w], dy)];
    viaMarked.forEach((t, i) =>
      strictEqual(t.dataSync().join(), viaPlain[i].dataSync().join(), `output ${i}`)
    );
    ok(isF16Valued(viaMarked[0]) && isF16Valued(viaMarked[1]), "outputs and grad_x are marked fp16-valued");
  });
});

Deno.test("`fp16Linear()` overflows to Inf in grad_x like real fp16 when the upstream gradient is too large", async () => {
  await useBackend("cpu");
  tf.tidy(() => {
    const x = tf.ones([2, 3]) as tf.Tensor2D,
      w = tf.fill([3, 2], 2) as tf.Tensor2D,
      b = tf.zeros([2]) as tf.Tensor1D;
    const [dx, dw] = tf.grads((xx: tf.Tensor, ww: tf.Tensor) =>
      fp16Linear(xx as tf.Tensor2D, ww as tf.Tensor2D, b)
    )(
      [x, w],
      tf.fill([2, 2], 40000),
    );
    ok(Array.from(dx.dataSync()).every((v) => v === Infinity), "2 * 2 * 40000 > 65504 in fp16");
    ok(Array.from(dw.dataSync()).every((v) => v === 80000), "grad_W is accumulated in fp32");
  });
});

Deno.test("`fp16Linear()` rejects shapes that do not chain", async () => {
  await useBackend("cpu");
  tf.tidy(() => {
    let msg = "";
    try {
      fp16Linear(
        tf.ones([2, 3]) as tf.Tensor2D,
        tf.ones([4, 2]) as tf.Tensor2D,
        tf.zeros([2]) as tf.Tensor1D,
      );
    } catch (e) {
      msg = String(e);
    }
    ok(msg.includes("do not chain"), msg);
  });
});
