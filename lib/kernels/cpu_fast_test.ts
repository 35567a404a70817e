import assert, { ok } from "node:assert/strict";
import { tf } from "../runtime/tf.ts";
import { registerFastCpuKernels, unregisterFastCpuKernels } from "./cpu_fast.ts";
import { installCpuPool } from "./cpu_pool.ts";
import { loadNativeKernels, setNativeKernelsEnabled } from "./native_kernels.ts";
import { assertClose } from "../../testing/fixtures.ts";
import { reportSkip, requireTool } from "../../testing/tools.ts";

await tf.setBackend("cpu");
installCpuPool();

/** Run `f` with the fast kernels, then with the stock ones; outputs must agree. */
function againstStock(what: string, f: () => tf.Tensor[], tol = 1e-6): void {
  registerFastCpuKernels();
  const fast = tf.tidy(f).map((t) => {
    const v = t.dataSync().slice();
    const s = t.shape;
    t.dispose();
    return { v, s };
  });
  unregisterFastCpuKernels();
  const stock = tf.tidy(f).map((t) => {
    const v = t.dataSync().slice();
    const s = t.shape;
    t.dispose();
    return { v, s };
  });
  assert.equal(fast.length, stock.length);
  for (let i = 0; i < fast.length; i++) {
    assert.deepEqual(fast[i].s, stock[i].s, `${what}[${i}] shape`);
    assertClose(fast[i].v, stock[i].v, tol, `${what}[${i}]`);
  }
}

/** Forward value and the gradient of sum(op(...xs) * w) with respect to every input. */
function valueAndGrads(op: (...xs: tf.Tensor[]) => tf.Tensor, xs: tf.Tensor[]): tf.Tensor[] {
  const y = op(...xs);
  const w = tf.randomNormal(y.shape, 0, 1, "float32", 7);
  const g = tf.grads((...ins: tf.Tensor[]) => tf.sum(tf.mul(op(...ins), w)))(xs);
  return [y, ...g];
}

const rnd = (shape: number[], seed: number) => tf.randomNormal(shape, 0, 1, "float32", seed);

Deno.test("fast binary kernels match stock tfjs (values and gradients) under broadcasting", () => {
  const shapes: [number[], number[]][] = [
    [[6, 5], [6, 5]],
    [[6, 5], [6, 1]],
    [[6, 5], [5]],
    [[4, 3, 2, 5], [4, 1, 1, 5]],
    [[3, 1, 5], [1, 4, 1]],
    [[2, 3], []],
    [[], [2, 3]],
    [[1, 7], [3, 1]],
  ];
  const ops: [string, (a: tf.Tensor, b: tf.Tensor) => tf.Tensor][] = [
    ["add", tf.add],
    ["sub", tf.sub],
    ["mul", tf.mul],
    ["div", (a, b) => tf.div(a, tf.add(tf.abs(b), 0.5))],
    ["squaredDifference", tf.squaredDifference],
    ["maximum", tf.maximum],
    ["minimum", tf.minimum],
  ];
  for (const [as, bs] of shapes) {
    for (const [name, op] of ops) {
      // tfjs's own SquaredDifference/Maximum/Minimum gradients do not reduce broadcast dims: forward only there.
      const fwdOnly = ["squaredDifference", "maximum", "minimum"].includes(name) && String(as) !== String(bs);
      againstStock(
        `${name} [${as}] [${bs}]`,
        () => fwdOnly ? [op(rnd(as, 1), rnd(bs, 2))] : valueAndGrads(op, [rnd(as, 1), rnd(bs, 2)]),
      );
    }
  }
});

Deno.test("fast unary kernels match stock tfjs, values and gradients", () => {
  const ops: [string, (x: tf.Tensor) => tf.Tensor][] = [
    ["neg", tf.neg],
    ["exp", tf.exp],
    // erf is not compared with stock tfjs: stock uses A&S 7.1.26 (relative error up to 6e-6 near 0);
    // the fast kernel is the toolkit's one erf (erf.ts), checked against math.erf values below.
    ["sqrt", (x) => tf.sqrt(tf.add(tf.abs(x), 0.1))],
    ["rsqrt", (x) => tf.rsqrt(tf.add(tf.abs(x), 0.1))],
    ["square", tf.square],
    ["floor", (x) => tf.floor(tf.mul(x, 3))],
    ["tanh", tf.tanh],
    ["log", (x) => tf.log(tf.add(tf.abs(x), 0.1))],
    ["reciprocal", (x) => tf.reciprocal(tf.add(tf.abs(x), 0.1))],
  ];
  for (const [name, op] of ops) againstStock(name, () => valueAndGrads(op, [rnd([37, 11], 3)]));
});

Deno.test("fast reductions, softmax, transpose, gather, slice and pad match stock tfjs", () => {
  const x = () => rnd([3, 4, 5, 6], 4);
  for (const axis of [0, 1, 3, -1, [1, 2], [0, 1], [2, 3], [0, 2]]) {
    for (const keepDims of [false, true]) {
      // float sums: the stock kernels round in a different order
      againstStock(
        `sum ${axis} ${keepDims}`,
        () => valueAndGrads((t) => tf.sum(t, axis, keepDims), [x()]),
        1e-5,
      );
      againstStock(
        `mean ${axis} ${keepDims}`,
        () => valueAndGrads((t) => tf.mean(t, axis, keepDims), [x()]),
        1e-5,
      );
      againstStock(`max ${axis} ${keepDims}`, () => valueAndGrads((t) => tf.max(t, axis, keepDims), [x()]));
    }
  }
  againstStock("sum all", () => valueAndGrads((t) => tf.sum(t), [x()]), 1e-5);
  againstStock("softmax", () => valueAndGrads((t) => tf.softmax(t), [x()]), 1e-5);
  for (const perm of [[0, 1, 2, 3], [0, 2, 1, 3], [1, 0, 2, 3], [3, 2, 1, 0], [0, 1, 3, 2], [2, 0, 3, 1]]) {
    againstStock(`transpose ${perm}`, () => valueAndGrads((t) => tf.transpose(t, perm), [x()]));
  }
  againstStock("transpose 2-D", () => valueAndGrads((t) => tf.transpose(t), [rnd([70, 45], 5)]));
  const ids = () => tf.tensor1d([3, 0, 3, 7, 1], "int32");
  againstStock("gather axis 0", () => valueAndGrads((t) => tf.gather(t, ids()), [rnd([8, 6], 6)]));
  againstStock("gather axis 1", () => valueAndGrads((t) => tf.gather(t, ids(), 1), [rnd([2, 8, 3], 6)]));

  againstStock("slice", () => valueAndGrads((t) => tf.slice(t, [1, 0, 2, 1], [2, 4, 3, -1]), [x()]));
  againstStock("pad", () => valueAndGrads((t) => tf.pad(t, [[1, 0], [0, 2], [1, 1], [0, 0]], 0.5), [x()]));
  againstStock(
    "unsortedSegmentSum",
    () => [tf.unsortedSegmentSum(rnd([6, 4], 8), tf.tensor1d([2, 0, 2, 5, 9, -1], "int32"), 6)],
  );
});

const ccSkip = await requireTool("cc");
reportSkip("the C gather kernel's test", ccSkip);

Deno.test("fast gather of rows (16 floats or more: one copy per row) and its gradient match stock tfjs, C and JS", () => {
  // 300 ids, each row taken six times
  const many = () => tf.tensor1d(Array.from({ length: 300 }, (_, i) => (i * 37) % 50), "int32");
  for (const c of ccSkip === null ? [true, false] : [false]) {
    if (c) ok(loadNativeKernels(), "the C kernels load");
    setNativeKernelsEnabled(c);
    const impl = c ? "C" : "JS";
    // (the gradients sum six rows per id, in another order than the stock kernel's)
    againstStock(
      `gather rows axis 0 (${impl})`,
      () => valueAndGrads((t) => tf.gather(t, many()), [rnd([50, 20], 6)]),
      1e-5,
    );
    againstStock(
      `gather rows axis 1 (${impl})`,
      () => valueAndGrads((t) => tf.gather(t, many(), 1), [rnd([3, 50, 17], 6)]),
      1e-5,
    );
    againstStock(
      `unsortedSegmentSum rows (${impl})`,
      () => [tf.unsortedSegmentSum(rnd([300, 20], 8), many(), 50)],
      1e-5,
    );
  }
  // C and JS: the same additions in row order, the same bits
  const sums = (c: boolean) => {
    setNativeKernelsEnabled(c);
    return tf.tidy(() => tf.unsortedSegmentSum(rnd([300, 20], 8), many(), 50).dataSync().slice());
  };
  if (ccSkip === null) assert.deepEqual(sums(true), sums(false));
  setNativeKernelsEnabled(true);
});

Deno.test("fast Erf and Softmax agree with hand-computed values", () => {
  registerFastCpuKernels();
  // Python's math.erf at these points; relative tolerance 1e-6 everywhere, small arguments included
  // (stock tfjs's A&S 7.1.26 misses 0.0091522 by 5e-6 relative).
  const xs = [0.5, -1, 0, 0.0091522, -0.3, 1.7, 2.9, -3.5, 4.5];
  const want = [
    0.5204998778130465,
    -0.8427007929497149,
    0,
    0.01032686347674088,
    -0.3286267594591274,
    0.9837904585907745,
    0.9999589021219005,
    -0.9999992569016276,
    0.9999999998033839,
  ];
  const got = tf.erf(tf.tensor1d(xs)).dataSync();
  want.forEach((w, i) =>
    assert.ok(Math.abs(got[i] - w) <= 1e-6 * Math.abs(w), `erf(${xs[i]}) = ${got[i]}, want ${w}`)
  );
  const e = [Math.exp(1), Math.exp(2), Math.exp(3)], s = e[0] + e[1] + e[2];
  assertClose(tf.softmax(tf.tensor1d([1, 2, 3])).dataSync(), e.map((v) => v / s), 1e-6, "softmax", 0);
  unregisterFastCpuKernels();
});
