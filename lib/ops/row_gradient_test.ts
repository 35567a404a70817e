import assert from "node:assert/strict";
import { tf } from "../runtime/tf.ts";
import { useBackend } from "../kernels/backend.ts";
import { captureRowGradient, embeddingLookup, RowGradient } from "./row_gradient.ts";
import {
  loadNativeKernels,
  nativeKernelsUnavailableReason,
  setNativeKernelsEnabled,
} from "../kernels/native_kernels.ts";

/** dy = C for loss = Σ lookup ⊙ C: row id's gradient is Σ C[r] over the tokens r with that id, in token order. */
function byHand(ids: number[], c: Float32Array, H: number): Map<number, Float32Array> {
  const out = new Map<number, Float32Array>();
  ids.forEach((id, r) => {
    const row = out.get(id) ?? new Float32Array(H);
    for (let j = 0; j < H; j++) row[j] = Math.fround(row[j] + c[r * H + j]);
    out.set(id, row);
  });
  return out;
}

for (const backend of ["cpu", "wasm"] as const) {
  Deno.test(`embeddingLookup in a capture: the gathered rows, and the table's gradient as rows summed by hand (${backend})`, async () => {
    await useBackend(backend);
    const V = 11, H = 5, ids = [3, 1, 3, 7, 1, 3, 10, 0];
    const table = tf.variable(tf.randomNormal([V, H], 0, 1, "float32", 3));
    const c = Float32Array.from({ length: ids.length * H }, (_, i) => Math.fround(Math.sin(i + 1) * 1e3));
    const cT = tf.tensor2d(c, [ids.length, H]), idsT = tf.tensor1d(ids, "int32");
    const before = tf.memory().numTensors;
    const capture = captureRowGradient(table);
    const { value, grads } = tf.variableGrads(() => {
      const rows = embeddingLookup(table, idsT);
      const gathered = tf.gather(table, idsT);
      assert.deepEqual(rows.dataSync(), gathered.dataSync(), "the lookup's values");
      gathered.dispose();
      return tf.sum(tf.mul(rows, cT)) as tf.Scalar;
    }, [capture.probe]);
    const g = capture.end();
    assert.deepEqual(Array.from(g.ids), [0, 1, 3, 7, 10], "distinct ids, ascending");
    assert.deepEqual(g.shape, [V, H]);
    const expect = byHand(ids, c, H);
    g.ids.forEach((id, k) =>
      assert.deepEqual(g.rows.subarray(k * H, (k + 1) * H), expect.get(id), `row ${id}`)
    );
    const dense = g.toDense();
    assert.deepEqual(dense.subarray(2 * H, 3 * H), new Float32Array(H), "an absent row is zero");
    g.zeroRow(3);
    g.zeroRow(4); // absent: nothing to do
    assert.deepEqual(g.toDense().subarray(3 * H, 4 * H), new Float32Array(H), "zeroRow");
    assert.deepEqual(g.toDense().subarray(7 * H, 8 * H), expect.get(7), "other rows kept");
    assert.equal(Object.values(grads)[0].dataSync()[0], 0, "the probe's own gradient is zero");
    tf.dispose([value, ...Object.values(grads)]);
    g.dispose();
    assert.equal(tf.memory().numTensors, before, "the probe and the op's tensors are gone");
    tf.dispose([table, cT, idsT]);
  });
}

Deno.test("embeddingLookup outside a capture (or of another table) is tf.gather; a capture checks how the table was used", async () => {
  await useBackend("cpu");
  const table = tf.variable(tf.randomNormal([6, 3], 0, 1, "float32", 5));
  const other = tf.variable(tf.randomNormal([6, 3], 0, 1, "float32", 6));
  const ids = tf.tensor1d([5, 0, 5], "int32");
  const gradOf = (t: tf.Variable) =>
    tf.variableGrads(() => tf.sum(tf.square(embeddingLookup(t, ids))) as tf.Scalar, [t]).grads[t.name];
  const plain = gradOf(table);
  const viaGather =
    tf.variableGrads(() => tf.sum(tf.square(tf.gather(table, ids))) as tf.Scalar, [table]).grads[table.name];
  assert.deepEqual(plain.dataSync(), viaGather.dataSync(), "no capture: the dense gradient of tf.gather");
  const capture = captureRowGradient(table);
  assert.throws(() => captureRowGradient(other), /already active/);
  const g2 = gradOf(other); // another table: dense, as before
  assert.equal(g2.shape[0], 6);
  assert.throws(() => {
    embeddingLookup(table, ids);
    embeddingLookup(table, ids);
  }, /looked up twice/);
  capture.end().dispose();
  const unused = captureRowGradient(table);
  assert.throws(() => unused.end(), /was not looked up through embeddingLookup/);
  const bad = captureRowGradient(table);
  assert.throws(
    () =>
      tf.variableGrads(() => tf.sum(embeddingLookup(table, tf.tensor1d([6], "int32"))) as tf.Scalar, [
        bad.probe,
      ]),
  );
  bad.cancel(); // after a failed pass: closed, nothing checked
  assert.ok(bad.probe.isDisposed);
  const again = captureRowGradient(table); // possible: the failed one was closed
  assert.throws(() => again.end(), /not looked up/);
  assert.ok(new RowGradient([2, 2], new Int32Array(0), new Float32Array(0)).toDense().every((x) => x === 0));
  tf.dispose([table, other, ids, plain, viaGather, g2]);
});

Deno.test("embeddingLookup's row gradient over many tokens and columns: the by-hand sums bit for bit, with and without the C kernels", async () => {
  await useBackend("cpu");
  const k = loadNativeKernels();
  if (!k) {
    console.warn(`row gradient: the C half of this test needs gcc: ${nativeKernelsUnavailableReason()}`);
  }
  const V = 97, H = 200, N = 600; // 120000 elements, 4 column ranges: split across threads in C
  const ids = Array.from({ length: N }, (_, r) => (r * r * 7 + 3) % V);
  const c = Float32Array.from(
    { length: N * H },
    (_, i) => Math.fround(Math.sin(i * 0.37 + 1) * 10 ** (i % 7)),
  );
  const expect = byHand(ids, c, H);
  const table = tf.variable(tf.zeros([V, H]));
  const cT = tf.tensor2d(c, [N, H]), idsT = tf.tensor1d(ids, "int32");
  for (const on of k ? [true, false] : [false]) {
    setNativeKernelsEnabled(on);
    try {
      const capture = captureRowGradient(table);
      const { value, grads } = tf.variableGrads(
        () => tf.sum(tf.mul(embeddingLookup(table, idsT), cT)) as tf.Scalar,
        [capture.probe],
      );
      const g = capture.end();
      g.ids.forEach((id, j) =>
        assert.deepEqual(g.rows.subarray(j * H, (j + 1) * H), expect.get(id), `kernels ${on}: row ${id}`)
      );
      tf.dispose([value, ...Object.values(grads)]);
      g.dispose();
    } finally {
      setNativeKernelsEnabled(true);
    }
  }
  tf.dispose([table, cT, idsT]);
});

Deno.test("embeddingLookup's row gradient refuses an id outside the table in one line", async () => {
  await useBackend("cpu");
  const table = tf.variable(tf.zeros([4, 3]));
  for (const bad of [4, -1]) {
    const idsT = tf.tensor1d([1, bad], "int32");
    const capture = captureRowGradient(table);
    assert.throws(
      () => tf.variableGrads(() => tf.sum(embeddingLookup(table, idsT)) as tf.Scalar, [capture.probe]),
      /index value (4|-1) is not in \[0, 3\]|ids must lie in \[0, 4\)/,
    );
    capture.cancel();
    idsT.dispose();
  }
  table.dispose();
});
