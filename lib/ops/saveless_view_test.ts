/**
 * `savelessReshape` and `firstPosition` against TF.js's own `reshape` and `slice`: values and gradients
 * bit for bit, and (the point of them) a training tape keeps no input: once the caller lets the input
 * go, its memory is free while the backward pass is still to come, where TF.js's stock ops keep it.
 */
import { strictEqual } from "node:assert/strict";
import { tf } from "../runtime/tf.ts";
import { useBackend } from "../kernels/backend.ts";
import { firstPosition, savelessReshape } from "./saveless_view.ts";

const bits = (t: tf.Tensor) => Array.from(t.dataSync()).join();

Deno.test("`savelessReshape` and `firstPosition` give tf.reshape's and tf.slice's values and gradients bit for bit", async () => {
  await useBackend("cpu");
  tf.tidy(() => {
    const [B, L, H] = [3, 5, 4];
    const h = tf.randomNormal([B * L, H], 0, 1, "float32", 3);
    const w = tf.randomNormal([B, H], 0, 1, "float32", 4);
    const ours = (x: tf.Tensor) =>
      tf.sum(tf.mul(firstPosition(savelessReshape<tf.Tensor3D>(x, [B, L, H])), w));
    const stock = (x: tf.Tensor) =>
      tf.sum(tf.mul(tf.reshape(tf.slice(tf.reshape(x, [B, L, H]), [0, 0, 0], [B, 1, H]), [B, H]), w));
    strictEqual(bits(ours(h)), bits(stock(h)), "values");
    strictEqual(bits(tf.grad(ours)(h)), bits(tf.grad(stock)(h)), "gradients");
    strictEqual(savelessReshape(h, [B, L, H]).shape.join(), [B, L, H].join());
  });
});

Deno.test("on a training tape, `savelessReshape` and `firstPosition` keep no input alive: TF.js's reshape and slice do", async () => {
  await useBackend("cpu");
  const [B, L, H] = [4, 8, 16];
  const x = tf.variable(tf.randomNormal([B * L, H], 0, 1, "float32", 5));
  const backend = tf.backend() as unknown as { data: { has(id: object): boolean } };
  /** Whether the output's data is still held once the caller has disposed every handle on it. */
  const held = (saveless: boolean) => {
    let alive = true;
    const { value, grads } = tf.variableGrads(() => {
      const h = tf.mul(x, 2); // an encoder output: a fresh [B·L, H] tensor
      const h3 = saveless
        ? savelessReshape<tf.Tensor3D>(h, [B, L, H])
        : tf.reshape(h, [B, L, H]) as tf.Tensor3D;
      const first = saveless ? firstPosition(h3) : tf.reshape(tf.slice(h3, [0, 0, 0], [B, 1, H]), [B, H]);
      tf.dispose([h, h3]); // the caller is done with the output
      alive = backend.data.has(h.dataId);
      return tf.sum(first) as tf.Scalar;
    }, [x]);
    tf.dispose([value, ...Object.values(grads)]);
    return alive;
  };
  strictEqual(held(true), false, "saveless: the output's data is freed at once");
  strictEqual(held(false), true, "TF.js's reshape and slice keep it for the backward pass");
  x.dispose();
});
