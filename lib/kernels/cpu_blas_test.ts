import assert from "node:assert/strict";
import { tf } from "../runtime/tf.ts";
import { blasBatchMatMul, registerBlasKernels, sgemm, unregisterBlasKernels } from "./cpu_blas.ts";
import { assertClose } from "../../testing/fixtures.ts";
import { reportSkip, requireTool } from "../../testing/tools.ts";
import { loadNativeKernels, setNativeKernelsEnabled } from "./native_kernels.ts";

await tf.setBackend("cpu");
const blasSkip = await requireTool("openblas");
const noBlas = blasSkip !== null;
reportSkip("the sgemm tests", blasSkip);
// Batched small products run on the C kernels' small-matrix kernel where it builds, else an sgemm each: both.
const ccSkip = await requireTool("cc");
reportSkip("the batched products on the C kernels", ccSkip);
const kernelPaths: [string, boolean][] = ccSkip === null && loadNativeKernels()
  ? [["C small-matrix kernel", true], ["sgemm per matrix", false]]
  : [["sgemm per matrix", false]];

/** Outputs of `f` with the sgemm kernels, then with the stock ones. */
function againstStock(what: string, f: () => tf.Tensor[], tol = 1e-5): void {
  const run = () => tf.tidy(f).map((t) => ({ v: t.dataSync().slice(), s: t.shape }));
  registerBlasKernels();
  const blas = run();
  unregisterBlasKernels();
  const stock = run();
  for (let i = 0; i < blas.length; i++) {
    assert.deepEqual(blas[i].s, stock[i].s, `${what}[${i}] shape`);
    assertClose(blas[i].v, stock[i].v, tol, `${what}[${i}]`);
  }
}

const rnd = (shape: number[], seed: number) => tf.randomNormal(shape, 0, 1, "float32", seed);

/** matMul value and the gradients of sum(matMul * w) for both inputs. */
function valueAndGrads(a: tf.Tensor, b: tf.Tensor, ta: boolean, tb: boolean): tf.Tensor[] {
  const y = tf.matMul(a, b, ta, tb);
  const w = rnd(y.shape, 9);
  const [ga, gb] = tf.grads((p: tf.Tensor, q: tf.Tensor) => tf.sum(tf.mul(tf.matMul(p, q, ta, tb), w)))([
    a,
    b,
  ]);
  return [y, ga, gb];
}

Deno.test({
  name: "`cblas_sgemm` through FFI gives hand-computed products, transposed and on sub-array views",
  ignore: noBlas,
  fn: () => {
    const gemm = sgemm();
    // [[1,2,3],[4,5,6]] @ [[1,0],[0,1],[1,1]] = [[4,5],[10,11]]
    const a = new Float32Array([1, 2, 3, 4, 5, 6]), b = new Float32Array([1, 0, 0, 1, 1, 1]);
    const c = new Float32Array(4).fill(NaN); // beta = 0 must not read C
    gemm(false, false, 2, 2, 3, 1, a, 3, b, 2, 0, c, 2);
    assert.deepEqual([...c], [4, 5, 10, 11]);
    // Aᵀ with A stored [3,2] = [[1,4],[2,5],[3,6]]; B given as a view at offset 2
    const at = new Float32Array([9, 9, 1, 4, 2, 5, 3, 6]).subarray(2);
    gemm(true, false, 2, 2, 3, 1, at, 2, b, 2, 0, c, 2);
    assert.deepEqual([...c], [4, 5, 10, 11]);
    const r = blasBatchMatMul(gemm, a, [1, 2, 3], b, [3, 2], false, false);
    assert.deepEqual(r.shape, [1, 2, 2]);
    assert.deepEqual([...r.values], [4, 5, 10, 11]);
  },
});

Deno.test({
  name: "sgemm `BatchMatMul` matches stock tfjs for 2-D, batched and broadcast matmuls, values and gradients",
  ignore: noBlas,
  fn: () => {
    for (const ta of [false, true]) {
      for (const tb of [false, true]) {
        const a = (s: number) => rnd(ta ? [13, 7] : [7, 13], s),
          b = (s: number) => rnd(tb ? [5, 13] : [13, 5], s);
        againstStock(`2-D ${ta} ${tb}`, () => valueAndGrads(a(1), b(2), ta, tb));
        for (const [path, c] of kernelPaths) {
          setNativeKernelsEnabled(c);
          try {
            againstStock(
              `4-D ${ta} ${tb} (${path})`,
              () =>
                valueAndGrads(
                  rnd([2, 3, ...(ta ? [13, 7] : [7, 13])], 3),
                  rnd([2, 3, ...(tb ? [5, 13] : [13, 5])], 4),
                  ta,
                  tb,
                ),
            );
          } finally {
            setNativeKernelsEnabled(true);
          }
        }
      }
    }
    againstStock("broadcast batch", () => [tf.matMul(rnd([4, 6, 8], 5), rnd([8, 3], 6))]);
    againstStock("broadcast batch b", () => [tf.matMul(rnd([6, 8], 5), rnd([4, 8, 3], 6))]);
    againstStock("empty inner", () => [tf.matMul(tf.zeros([3, 0]), tf.zeros([0, 4]))]);
  },
});

Deno.test({
  name: "sgemm `_FusedMatMul` matches stock tfjs with bias and activations",
  ignore: noBlas,
  fn: () => {
    for (const activation of ["linear", "relu", "sigmoid", "elu"] as const) {
      againstStock(
        `fused ${activation}`,
        () => [tf.fused.matMul({ a: rnd([9, 6], 1), b: rnd([6, 4], 2), bias: rnd([4], 3), activation })],
      );
    }
    againstStock(
      "fused 2-D bias",
      () => [tf.fused.matMul({ a: rnd([9, 6], 1), b: rnd([6, 4], 2), bias: rnd([9, 4], 3) })],
    );
    againstStock("fused transposed", () => [
      tf.fused.matMul({
        a: rnd([6, 9], 1),
        b: rnd([4, 6], 2),
        transposeA: true,
        transposeB: true,
        bias: rnd([4], 3),
      }),
    ]);
    // int32 inputs go to the stock kernel
    registerBlasKernels();
    assert.deepEqual(
      tf.matMul(tf.tensor2d([[1, 2]], [1, 2], "int32"), tf.tensor2d([[3], [4]], [2, 1], "int32")).arraySync(),
      [[11]],
    );
    unregisterBlasKernels();
  },
});
