import assert from "node:assert/strict";
import { tf } from "../../runtime/tf.ts";
import { useBackend } from "../backend.ts";
import { skipBackend } from "../../../testing/backends.ts";
import { registerWebgpuSegmentSum, unregisterWebgpuSegmentSum } from "./segment_sum.ts";

// The reference is written here, independent of the kernel: for each segment, its rows' values added
// in row order from zero in float32 (Math.fround after every addition), ids outside [0, V) dropped.

function reference(x: Float32Array, ids: number[], V: number, cols: number): Float32Array {
  const out = new Float32Array(V * cols);
  for (let r = 0; r < ids.length; r++) {
    const id = ids[r];
    if (id < 0 || id >= V) continue;
    for (let c = 0; c < cols; c++) out[id * cols + c] = Math.fround(out[id * cols + c] + x[r * cols + c]);
  }
  return out;
}

/** Values with many significant bits, so that a different order of additions shows in float32. */
function rand(n: number, seed: number): Float32Array {
  return Float32Array.from({ length: n }, (_, i) => {
    const v = Math.sin((i + 1) * 12.9898 + seed * 78.233) * 43758.5453;
    return (v - Math.floor(v) - 0.5) * 10 ** ((i % 7) - 3);
  });
}

async function kernelsOf(f: () => tf.Tensor): Promise<string[]> {
  const p = await tf.profile(() => f());
  return p.kernels.map((k) => k.name);
}

Deno.test({
  name:
    "webgpu UnsortedSegmentSum: bit-exact to in-order float32 sums, with every row in one segment, ids out of range, inner axes",
  ignore: skipBackend("webgpu"),
  fn: async () => {
    await useBackend("webgpu");
    const cases: [string, number[], number, number[]][] = [
      // name, ids, V, inner shape
      ["hand-sized", [2, 0, 2, 3], 4, [2]],
      ["all rows in segment 0 (BERT's token types)", new Array(300).fill(0), 2, [24]],
      ["positions of 9 sequences of 33", Array.from({ length: 297 }, (_, i) => i % 33), 40, [16]],
      ["word ids with repeats, unused rows", Array.from({ length: 200 }, (_, i) => (i * 37) % 151), 160, [
        3,
        5,
      ]],
      ["ids out of range are dropped", [1, -1, 5, 1, 0, 7, 2], 5, [4]],
      ["no rows", [], 3, [4]],
    ];
    for (const [name, ids, V, inner] of cases) {
      const cols = inner.reduce((a, b) => a * b, 1);
      const xv = rand(ids.length * cols, ids.length + V);
      const x = tf.tensor(xv, [ids.length, ...inner]);
      const seg = tf.tensor1d(ids, "int32");
      assert.deepEqual(await kernelsOf(() => tf.unsortedSegmentSum(x, seg, V)), ["UnsortedSegmentSum"]);
      const out = tf.unsortedSegmentSum(x, seg, V);
      assert.deepEqual(out.shape, [V, ...inner], name);
      const got = await out.data() as Float32Array;
      assert.deepEqual(Array.from(got), Array.from(reference(xv, ids, V, cols)), name);
      tf.dispose([x, seg, out]);
    }
    // hand-computed: row 0 gets [2, 0.5]; row 2 gets [1,-1]+[3,3]; row 3 gets [-4,1]; row 1 none
    const g = tf.unsortedSegmentSum(
      tf.tensor2d([[1, -1], [2, 0.5], [3, 3], [-4, 1]]),
      tf.tensor1d([2, 0, 2, 3], "int32"),
      4,
    );
    assert.deepEqual(await g.array(), [[2, 0.5], [0, 0], [4, 2], [-4, 1]]);
    // int32 sums are exact (TF.js 4.22's own kernel returns their float bits)
    const gi = tf.unsortedSegmentSum(tf.tensor1d([5, 6, 7], "int32"), tf.tensor1d([1, 1, 0], "int32"), 2);
    assert.deepEqual(await gi.array(), [7, 11]);
    tf.dispose([g, gi]);
  },
});

Deno.test({
  name:
    "webgpu: tf.profile times the toolkit's WGSL dispatches by name (links, zeros, sums of UnsortedSegmentSum)",
  ignore: skipBackend("webgpu"),
  fn: async () => {
    await useBackend("webgpu");
    const x = tf.tensor2d(rand(64 * 8, 3), [64, 8]),
      seg = tf.tensor1d(Array.from({ length: 64 }, (_, i) => i % 5), "int32");
    const p = await tf.profile(() => tf.unsortedSegmentSum(x, seg, 5));
    const info = String(p.kernels[0].extraInfo);
    for (const name of ["simcse_segment_zeros", "simcse_segment_links", "simcse_segment_sums"]) {
      assert.match(info, new RegExp(`${name}: \\d`), `${name} in "${info}"`);
    }
    tf.dispose([x, seg, p.result as tf.Tensor]);
  },
});

Deno.test({
  name: "webgpu UnsortedSegmentSum: the gather gradient of an embedding table agrees with TF.js's own kernel",
  ignore: skipBackend("webgpu"),
  fn: async () => {
    await useBackend("webgpu");
    const V = 50, H = 32, ids = Array.from({ length: 128 }, (_, i) => (i * 13) % 17 + (i % 3 === 0 ? 0 : 20));
    const table = tf.variable(tf.tensor2d(rand(V * H, 1), [V, H]));
    const w = tf.tensor2d(rand(ids.length * H, 2), [ids.length, H]);
    const idx = tf.tensor1d(ids, "int32");
    const grad = async () => {
      const { value, grads } = tf.variableGrads(() => tf.sum(tf.mul(tf.gather(table, idx), w)), [table]);
      const g = await grads[table.name].data() as Float32Array;
      tf.dispose([value, grads[table.name]]);
      return g;
    };
    const ours = await grad();
    unregisterWebgpuSegmentSum();
    try {
      const stock = await grad();
      for (let i = 0; i < ours.length; i++) {
        assert.ok(
          Math.abs(ours[i] - stock[i]) <= 1e-5 * (1 + Math.abs(stock[i])),
          `element ${i}: ${ours[i]} vs ${stock[i]}`,
        );
      }
    } finally {
      registerWebgpuSegmentSum();
    }
    tf.dispose([table, w, idx]);
  },
});
