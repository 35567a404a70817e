import assert from "node:assert/strict";
import { tf } from "../runtime/tf.ts";
import { releaseIncoming, releasing } from "./grad_release.ts";

await tf.setBackend("cpu");

// y = x² with a releasing gradient; a chain of three gives x⁸, d/dx = 8x⁷.
const square = tf.customGrad(
  ((x: tf.Tensor, save: tf.GradSaveFunc) => {
    save([x]);
    return { value: tf.square(x), gradFunc: releasing((dy, [xs]) => [tf.mul(dy, tf.mul(2, xs))]) };
  }) as unknown as Parameters<typeof tf.customGrad>[0],
);
const chain = (x: tf.Tensor) => square(square(square(x) as tf.Tensor) as tf.Tensor) as tf.Tensor;

Deno.test("releasing gradients: same values as plain autodiff, caller's dy untouched, nothing leaked", () => {
  const x = tf.tensor1d([0.5, -1.25, 2]);
  const dy = tf.tensor1d([1, 2, -3]);
  const before = tf.memory().numTensors;
  const [g] = tf.grads(chain)([x], dy);
  assert.equal(dy.isDisposed, false, "the dy passed to tf.grads is the caller's");
  const want = [0.5, -1.25, 2].map((v, i) => [1, 2, -3][i] * 8 * v ** 7);
  const got = g.dataSync();
  for (let i = 0; i < 3; i++) assert.ok(Math.abs(got[i] - want[i]) <= 1e-5 * Math.abs(want[i]), `grad ${i}`);
  g.dispose();
  assert.equal(tf.memory().numTensors, before, "no tensor left behind");
});

Deno.test("releasing gradients free saved tensors during the backward pass, not after it", () => {
  // Peak tensor bytes of the backward pass: with releasing, each x^(2^k) saved for the gradient is
  // disposed once its node has run, so the peak stays below keeping all of them.
  const x = tf.randomNormal([1 << 16]);
  const prof = (f: (t: tf.Tensor) => tf.Tensor) => {
    const start = tf.memory().numBytes;
    let peak = 0;
    const probe = releasing((dy) => {
      peak = Math.max(peak, tf.memory().numBytes - start);
      return [dy];
    });
    const tap = tf.customGrad(
      ((t: tf.Tensor, _save: tf.GradSaveFunc) => ({
        value: tf.clone(t),
        gradFunc: probe,
      })) as unknown as Parameters<typeof tf.customGrad>[0],
    );
    const [g] = tf.grads((t: tf.Tensor) => f(tap(t) as tf.Tensor))([x]);
    g.dispose();
    return peak;
  };
  // the probe runs last (it is the first op): by then every square's saved input is gone
  const releasingPeak = prof((t) => chain(t));
  // The same op with a gradient that does not release (the tape frees the intermediate gradients in
  // both cases, runtime/tape_release.ts): only the saved inputs differ.
  const keeping = tf.customGrad(
    ((t: tf.Tensor, save: tf.GradSaveFunc) => {
      save([t]);
      return {
        value: tf.square(t),
        gradFunc: (dy: tf.Tensor, [ts]: tf.Tensor[]) => [tf.mul(dy, tf.mul(2, ts))],
      };
    }) as unknown as Parameters<typeof tf.customGrad>[0],
  );
  const plain = (t: tf.Tensor) => keeping(keeping(keeping(t) as tf.Tensor) as tf.Tensor) as tf.Tensor;
  const plainPeak = prof(plain);
  assert.ok(releasingPeak < plainPeak, `releasing peak ${releasingPeak} B, keeping ${plainPeak} B`);
});

Deno.test("releaseIncoming: a releasing gradient drops a dy it owns when it says so; the caller's dy stays", () => {
  // y = 3x in two ops: the inner one records whether its dy was alive when it ran; the outer one's dy is
  // the caller's (left alone), the inner one's was made by the outer gradient (owned, dropped early).
  const seen: boolean[] = [];
  const triple = tf.customGrad(
    ((x: tf.Tensor) => ({
      value: tf.mul(x, 3),
      gradFunc: releasing((dy) => {
        const g = tf.mul(dy, 3);
        releaseIncoming(dy);
        seen.push(dy.isDisposed);
        return [g];
      }),
    })) as unknown as Parameters<typeof tf.customGrad>[0],
  );
  const x = tf.tensor1d([1, -2]), dy = tf.tensor1d([0.5, 4]);
  const before = tf.memory().numTensors;
  const [g] = tf.grads((t: tf.Tensor) => triple(triple(t) as tf.Tensor) as tf.Tensor)([x], dy);
  assert.deepEqual(Array.from(g.dataSync()), [4.5, 36]);
  assert.deepEqual(seen, [false, true], "outer: the caller's dy kept; inner: its dy disposed at once");
  assert.equal(dy.isDisposed, false);
  g.dispose();
  assert.equal(tf.memory().numTensors, before, "no tensor left behind");
});
