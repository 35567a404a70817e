import assert from "node:assert/strict";
import { tf } from "../runtime/tf.ts";
import { addSameShape } from "./saveless_add.ts";

await tf.setBackend("cpu");

Deno.test("addSameShape: tf.add's values; each operand gets the upstream gradient; nothing leaked", () => {
  const a = tf.tensor2d([[1.5, -2], [0.25, 3]]), b = tf.tensor2d([[0.5, 1], [-4, 0.125]]);
  const w = tf.tensor2d([[1, 2], [3, 4]]);
  const before = tf.memory().numTensors;
  // loss = Σ w ⊙ (a² + 3b): d/da = 2a ⊙ w, d/db = 3w (hand-computed).
  const f = (x: tf.Tensor, y: tf.Tensor) => tf.sum(tf.mul(w, addSameShape(tf.square(x), tf.mul(y, 3))));
  const [ga, gb] = tf.grads(f)([a, b]);
  assert.deepEqual([...ga.dataSync()], [3, -8, 1.5, 24]);
  assert.deepEqual([...gb.dataSync()], [3, 6, 9, 12]);
  const s = addSameShape(a, b);
  assert.deepEqual([...s.dataSync()], [2, -1, -3.75, 3.125]);
  tf.dispose([ga, gb, s]);
  assert.equal(tf.memory().numTensors, before);
});

Deno.test("addSameShape keeps neither operand for the backward pass (tf.add keeps both)", () => {
  const x = tf.variable(tf.randomNormal([256, 64]));
  // Data buffers still alive after the forward pass once the operands' own handles are dropped
  // (tf.memory().numBytes counts tensors, so a saved clone would not show there).
  const held = (add: (p: tf.Tensor, q: tf.Tensor) => tf.Tensor) => {
    let kept = 0;
    const { value, grads } = tf.variableGrads(() => {
      const p = tf.mul(x, 2), q = tf.mul(x, 3); // each Mul saves x and its scalar, not its output
      const s = add(p, q);
      const before = tf.memory().numDataBuffers;
      p.dispose();
      q.dispose();
      kept = 2 - (before - tf.memory().numDataBuffers);
      return tf.sum(s) as tf.Scalar;
    }, [x]);
    assert.deepEqual([...grads[x.name].dataSync()].slice(0, 3), [5, 5, 5]);
    tf.dispose([value, ...Object.values(grads)]);
    return kept;
  };
  assert.equal(held((p, q) => tf.add(p, q)), 2, "tf.add saves both operands");
  assert.equal(held(addSameShape), 0);
  x.dispose();
});

Deno.test("addSameShape: one-line errors for broadcasting and non-float operands", () => {
  assert.throws(() => addSameShape(tf.ones([2, 3]), tf.ones([3])), /shapes \[2,3\] and \[3\] differ/);
  assert.throws(() => addSameShape(tf.ones([2], "int32"), tf.ones([2], "int32")), /float32 operands/);
});
