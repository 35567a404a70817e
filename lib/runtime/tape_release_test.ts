import assert from "node:assert/strict";
import { tf } from "./tf.ts";
import { setTapeRelease, tapeReleaseEnabled } from "./tape_release.ts";

await tf.setBackend("cpu");

type CustomGradFn = Parameters<typeof tf.customGrad>[0];

/** An identity op whose gradient calls `probe()` (it runs when the backward pass reaches it). */
function probeOp(probe: () => void) {
  return tf.customGrad(
    ((x: tf.Tensor) => ({
      value: tf.clone(x),
      gradFunc: (dy: tf.Tensor) => {
        probe();
        return [tf.clone(dy)];
      },
    })) as unknown as CustomGradFn,
  );
}

/**
 * Bytes held by tensors when the backward pass reaches the first op of a chain of `n` exp-and-quarter
 * steps on a [N] vector, over what they were when it started (the saved tensors are the tape's until
 * the end, in both cases).
 */
function backwardBytes(on: boolean, n: number, N: number): { extra: number; grad: Float32Array } {
  setTapeRelease(on);
  try {
    const x = tf.variable(tf.fill([N], 0.01));
    let atStart = 0, atProbe = 0;
    const probe = probeOp(() => atProbe = tf.memory().numBytes);
    const start = probeOp(() => atStart = tf.memory().numBytes);
    const { grads, value } = tf.variableGrads(() => {
      let y = probe(x) as tf.Tensor;
      for (let i = 0; i < n; i++) y = tf.mul(tf.exp(y), 0.25);
      return tf.sum(start(y)) as tf.Scalar;
    }, [x]);
    const grad = grads[x.name].dataSync() as Float32Array;
    tf.dispose([value, grads[x.name], x]);
    return { extra: atProbe - atStart, grad };
  } finally {
    setTapeRelease(true);
  }
}

Deno.test("tape release: a chain's backward pass holds a bounded number of gradients (TF.js's own holds all)", () => {
  const n = 12, N = 100_000, one = 4 * N;
  const freed = backwardBytes(true, n, N), kept = backwardBytes(false, n, N);
  // Each exp and mul step makes one [N] gradient per op (24 ops); TF.js keeps all of them to the end.
  assert.ok(kept.extra >= 2 * n * one, `without release: ${kept.extra / one} gradients alive`);
  assert.ok(freed.extra <= 4 * one, `with release: ${freed.extra / one} gradients alive`);
  // d/dx of y_n with y_{i+1} = exp(y_i)/4, hand-computed by the chain rule in double precision.
  let y = 0.01, d = 1;
  for (let i = 0; i < n; i++) {
    y = Math.exp(y) / 4;
    d *= y;
  }
  assert.ok(Math.abs(freed.grad[0] - d) <= 1e-6 * Math.abs(d), `${freed.grad[0]} vs ${d}`);
  assert.deepEqual(freed.grad, kept.grad);
  assert.equal(tapeReleaseEnabled(), true);
});

Deno.test("tape release: shared and passed-through gradients stay valid; results and the caller's dy survive", () => {
  const before = tf.memory().numTensors;
  // A gradient function handing the same dy on to both inputs, each with other consumers too.
  const both = tf.customGrad(
    ((a: tf.Tensor, b: tf.Tensor) => ({
      value: tf.add(a, b),
      gradFunc: (dy: tf.Tensor) => [dy, dy],
    })) as unknown as CustomGradFn,
  );
  const a = tf.tensor1d([1, 2, 3]), b = tf.tensor1d([0.5, -1, 2]);
  // f = Σ c ⊙ (both(a², b) + a·b + b), so df/da = c ⊙ (2a + b), df/db = c ⊙ (1 + a + 1).
  const c = tf.tensor1d([1, 10, 100]);
  const dy = tf.scalar(2); // the caller's upstream gradient: every gradient doubles
  const f = (x: tf.Tensor, z: tf.Tensor) =>
    tf.sum(tf.mul(c, tf.add(tf.add(both(tf.square(x), z), tf.mul(x, z)), z)));
  const [ga, gb] = tf.grads(f)([a, b], dy);
  assert.deepEqual([...ga.dataSync()], [2 * 2.5, 20 * 3, 200 * 8]);
  assert.deepEqual([...gb.dataSync()], [2 * 3, 20 * 4, 200 * 5]);
  assert.equal(dy.isDisposed, false);
  assert.deepEqual([...dy.dataSync()], [2]);
  // Gradients with respect to two plain tensors (not variables), one computed from the other.
  const [gx, gh] = tf.tidy(() => {
    const x = tf.tensor1d([1, 2]);
    return tf.grads((p: tf.Tensor, q: tf.Tensor) => tf.sum(tf.mul(tf.add(p, q), q)))([x, tf.mul(x, 3)]);
  });
  assert.deepEqual([...gx.dataSync()], [3, 6]); // d/dp (p+q)·q = q = 3x
  assert.deepEqual([...gh.dataSync()], [7, 14]); // d/dq = p + 2q = 7x
  tf.dispose([a, b, c, dy, ga, gb, gx, gh]);
  assert.equal(tf.memory().numTensors, before);
});
