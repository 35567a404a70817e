import { ok, strictEqual } from "node:assert/strict";
import { tf } from "../runtime/tf.ts";
import { useBackend } from "../kernels/backend.ts";
import { assertClose } from "../../testing/fixtures.ts";
import { assertWithinHalfUlps, fp16Fixture } from "../../testing/fp16_assert.ts";
import { fp16AttentionContext, fp16AttentionScores, fp16MatMul } from "./fp16_matmul.ts";
import { skipBackend, TEST_BACKENDS } from "../../testing/backends.ts";

const fx = fp16Fixture();
const t = (a: { shape: number[]; data: number[] }) => tf.tensor(a.data, a.shape, "float32");

/** Values of `ts` read asynchronously (webgpu has no synchronous reads); disposes them. */
async function readAll(ts: tf.Tensor[]): Promise<Float32Array[]> {
  const v = await Promise.all(ts.map((x) => x.data() as Promise<Float32Array>));
  tf.dispose(ts);
  return v;
}

for (const backend of TEST_BACKENDS) {
  for (const c of fx.matmul) {
    Deno.test({
      name:
        `\`fp16MatMul()\` (transposeA ${c.transposeA}, transposeB ${c.transposeB}) on ${backend} matches the numpy fp16 reference`,
      ignore: skipBackend(backend),
      fn: async () => {
        await useBackend(backend);
        const before = tf.memory().numTensors;
        const out = tf.tidy(() => {
          const f = (a: tf.Tensor, b: tf.Tensor) => fp16MatMul(a, b, c.transposeA, c.transposeB);
          const [a, b, dy] = [t(c.a), t(c.b), t(c.dy)];
          return [f(a, b), ...tf.grads(f)([a, b], dy)];
        });
        const [y, da, db] = await readAll(out);
        assertWithinHalfUlps(y, c.y.data, "y");
        assertWithinHalfUlps(da, c.da.data, "da");
        assertWithinHalfUlps(db, c.db.data, "db");
        strictEqual(tf.memory().numTensors, before, "no tensor leaks");
      },
    });
  }

  Deno.test({
    name:
      `\`fp16AttentionScores()\` and \`fp16AttentionContext()\` on ${backend} match the numpy fp16 reference (heads split inside)`,
    ignore: skipBackend(backend),
    fn: async () => {
      await useBackend(backend);
      const c = fx.attention;
      const shape = { batch: c.batch, seqLen: c.seqLen, heads: c.heads };
      const before = tf.memory().numTensors;
      const out = tf.tidy(() => {
        const scores = (q: tf.Tensor, k: tf.Tensor) =>
          fp16AttentionScores(q as tf.Tensor2D, k as tf.Tensor2D, shape, c.scale);
        const [q, k] = [t(c.q), t(c.k)];
        const context = (p: tf.Tensor, v: tf.Tensor) =>
          fp16AttentionContext(p as tf.Tensor4D, v as tf.Tensor2D, shape);
        const [p, v] = [t(c.probs), t(c.v)];
        return [
          scores(q, k),
          ...tf.grads(scores)([q, k], t(c.dyScores)),
          context(p, v),
          ...tf.grads(context)([p, v], t(c.dyContext)),
        ];
      });
      const [s, dq, dk, ctx, dp, dv] = await readAll(out);
      assertWithinHalfUlps(s, c.scores.data, "scores");
      assertWithinHalfUlps(dq, c.dq.data, "dq");
      assertWithinHalfUlps(dk, c.dk.data, "dk");
      assertWithinHalfUlps(ctx, c.context.data, "context");
      assertWithinHalfUlps(dp, c.dprobs.data, "dprobs");
      assertWithinHalfUlps(dv, c.dv.data, "dv");
      strictEqual(tf.memory().numTensors, before, "no tensor leaks");
    },
  });
}

Deno.test("fp16 attention ops agree with the fp32 attention (matMul, scale, heads) within fp16 tolerance on random inputs", async () => {
  await useBackend("wasm");
  tf.tidy(() => {
    const B = 3, L = 7, nh = 4, dh = 8, H = nh * dh, shape = { batch: B, seqLen: L, heads: nh };
    const scale = 1 / Math.sqrt(dh);
    const heads = (x: tf.Tensor) => tf.transpose(tf.reshape(x, [B, L, nh, dh]), [0, 2, 1, 3]);
    const q = tf.randomNormal([B * L, H], 0, 1, "float32", 1);
    const k = tf.randomNormal([B * L, H], 0, 1, "float32", 2);
    const v = tf.randomNormal([B * L, H], 0, 1, "float32", 3);
    const gS = tf.randomNormal([B, nh, L, L], 0, 1, "float32", 4);
    const gC = tf.randomNormal([B * L, H], 0, 1, "float32", 5);
    const s16 = (a: tf.Tensor, b: tf.Tensor) =>
      fp16AttentionScores(a as tf.Tensor2D, b as tf.Tensor2D, shape, scale);
    const s32 = (a: tf.Tensor, b: tf.Tensor) => tf.mul(tf.matMul(heads(a), heads(b), false, true), scale);
    assertClose(s16(q, k).dataSync(), s32(q, k).dataSync(), 4e-3, "scores", 1);
    const [dq16, dk16] = tf.grads(s16)([q, k], gS), [dq32, dk32] = tf.grads(s32)([q, k], gS);
    assertClose(dq16.dataSync(), dq32.dataSync(), 4e-3, "dq", 1);
    assertClose(dk16.dataSync(), dk32.dataSync(), 4e-3, "dk", 1);

    const probs = tf.softmax(tf.randomNormal([B, nh, L, L], 0, 2, "float32", 6), -1);
    const c16 = (p: tf.Tensor, vv: tf.Tensor) =>
      fp16AttentionContext(p as tf.Tensor4D, vv as tf.Tensor2D, shape);
    const c32 = (p: tf.Tensor, vv: tf.Tensor) =>
      tf.reshape(tf.transpose(tf.matMul(p, heads(vv)), [0, 2, 1, 3]), [B * L, H]);
    assertClose(c16(probs, v).dataSync(), c32(probs, v).dataSync(), 4e-3, "context", 1);
    const [dp16, dv16] = tf.grads(c16)([probs, v], gC), [dp32, dv32] = tf.grads(c32)([probs, v], gC);
    assertClose(dp16.dataSync(), dp32.dataSync(), 4e-3, "dprobs", 1);
    assertClose(dv16.dataSync(), dv32.dataSync(), 4e-3, "dv", 1);
  });
});

Deno.test("`fp16MatMul()` rejects mismatched batch axes and inner dimensions", async () => {
  await useBackend("cpu");
  tf.tidy(() => {
    const errs: string[] = [];
    for (const [a, b] of [[[2, 3, 4], [3, 4, 5]], [[2, 3, 4], [2, 5, 4]]]) {
      try {
        fp16MatMul(tf.ones(a), tf.ones(b));
      } catch (e) {
        errs.push(String(e));
      }
    }
    ok(errs[0]?.includes("batch axes") && errs[1]?.includes("inner dimensions"), errs.join(" | "));
  });
});
