import { deepStrictEqual, ok, strictEqual } from "node:assert/strict";
import { pool, poolerProblem, POOLERS, type PoolerType } from "./pooling.ts";
import { tf } from "../runtime/tf.ts";
import { InputError } from "../runtime/errors.ts";

Deno.test("`poolerProblem()` refuses cls without a pooler layer and suggests a pooler valid for the architecture", () => {
  const bertNoPooler = poolerProblem("cls", { kind: "bert", hasPooler: false }, "m");
  ok(bertNoPooler instanceof InputError);
  ok(bertNoPooler.message.startsWith("m: pooler 'cls' needs pooler.dense weights"), bertNoPooler.message);
  ok(bertNoPooler.message.includes("--pooler cls_before_pooler"), bertNoPooler.message);
  const gpt2 = poolerProblem("cls", { kind: "gpt2", hasPooler: false }, "g");
  ok(gpt2 instanceof InputError);
  ok(gpt2.message.includes("--pooler wavg") && !gpt2.message.includes("cls_before_pooler"), gpt2.message);
  for (const p of POOLERS) strictEqual(poolerProblem(p, { kind: "bert", hasPooler: true }, "b"), null, p);
  for (const p of POOLERS.filter((p) => p !== "cls")) {
    strictEqual(poolerProblem(p, { kind: "gpt2", hasPooler: false }, "g"), null, p);
  }
});

/** The weighted mean written with stock TF.js ops, for TF.js's own gradients of it. */
function stockWeightedMean(h: tf.Tensor3D, w: tf.Tensor2D): tf.Tensor2D {
  return tf.div(tf.sum(tf.mul(h, tf.expandDims(w, 2)), 1), tf.sum(w, 1, true)) as tf.Tensor2D;
}

Deno.test("mean poolers: values and the gradient for the hidden states equal, bit for bit, TF.js's own gradients of the formula", () => {
  const [B, L, H] = [3, 5, 4];
  const h = tf.randomNormal([B, L, H], 0, 1, "float32", 7) as tf.Tensor3D;
  const h2 = tf.randomNormal([B, L, H], 0, 1, "float32", 8) as tf.Tensor3D;
  const mask = tf.tensor2d([[1, 1, 1, 1, 1], [1, 1, 0, 0, 0], [1, 1, 1, 0, 0]]);
  const dy = tf.randomNormal([B, H], 0, 1, "float32", 9) as tf.Tensor2D;
  const out = { lastHiddenState: h, hiddenStates: [h2, h2, h], attentionMask: mask };
  const weights: Record<string, tf.Tensor2D> = {
    avg: mask,
    wavg: tf.mul(tf.cumsum(mask, 1), mask) as tf.Tensor2D,
    wavg_jittor: tf.cumsum(mask, 1) as tf.Tensor2D,
  };
  for (const [mode, w] of Object.entries(weights)) {
    const [ours, dOurs] = tf.tidy(() => {
      const f = (x: tf.Tensor) => pool(mode as PoolerType, { ...out, lastHiddenState: x as tf.Tensor3D });
      return [f(h), tf.grad(f)(h, dy)];
    });
    const [want, dWant] = tf.tidy(() => {
      const f = (x: tf.Tensor) => stockWeightedMean(x as tf.Tensor3D, w);
      return [f(h), tf.grad(f)(h, dy)];
    });
    deepStrictEqual(ours.dataSync(), want.dataSync(), `${mode}: values`);
    deepStrictEqual(dOurs.dataSync(), dWant.dataSync(), `${mode}: gradient`);
  }
  // avg_top2 averages two layers first: its gradient reaches both.
  const [g1, g2] = tf.grads((a: tf.Tensor, b: tf.Tensor) =>
    pool("avg_top2", {
      ...out,
      lastHiddenState: a as tf.Tensor3D,
      hiddenStates: [h2, b as tf.Tensor3D, a as tf.Tensor3D],
    })
  )([h, h2], dy);
  const [w1, w2] = tf.grads((a: tf.Tensor, b: tf.Tensor) =>
    stockWeightedMean(tf.div(tf.add(a, b), 2) as tf.Tensor3D, mask)
  )([h, h2], dy);
  deepStrictEqual(g1.dataSync(), w1.dataSync(), "avg_top2: gradient (last layer)");
  deepStrictEqual(g2.dataSync(), w2.dataSync(), "avg_top2: gradient (second-to-last layer)");
});

Deno.test("avg pooler: a hand-computed gradient (pads get none)", () => {
  const h = tf.tensor3d([[[1, 1], [3, 3], [9, 9]]]);
  const mask = tf.tensor2d([[1, 1, 0]]);
  const f = (x: tf.Tensor) =>
    pool("avg", { lastHiddenState: x as tf.Tensor3D, hiddenStates: [h, h], attentionMask: mask });
  deepStrictEqual([...f(h).dataSync()], [2, 2]);
  deepStrictEqual([...tf.grad(f)(h, tf.tensor2d([[1, 4]])).dataSync()], [0.5, 2, 0.5, 2, 0, 0]);
});
