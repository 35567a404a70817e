import assert from "node:assert/strict";
import { tf } from "../runtime/tf.ts";
import { registerHeadMatMulKernel, unregisterHeadMatMulKernel } from "./cpu_head_matmul.ts";
import { attentionContext, attentionScores } from "../ops/fused.ts";
import { assertClose } from "../../testing/fixtures.ts";
import { reportSkip, requireTool } from "../../testing/tools.ts";
import { loadNativeKernels, setNativeKernelsEnabled } from "./native_kernels.ts";

// Reference: the head split by reshape + transpose and tf.matMul with TF.js autodiff on the stock
// cpu kernels (what the model did before), for values and both input gradients.
await tf.setBackend("cpu");
const blasSkip = await requireTool("openblas");
reportSkip("the head-strided sgemm test", blasSkip);
const hasBlas = registerHeadMatMulKernel();
unregisterHeadMatMulKernel();
// The products run on the C kernels' small-matrix kernel where it builds, else an sgemm per head: both.
const ccSkip = await requireTool("cc");
reportSkip("the head products on the C kernels", ccSkip);
const paths: [string, boolean][] = ccSkip === null && loadNativeKernels()
  ? [["C small-matrix kernel", true], ["sgemm per head", false]]
  : [["sgemm per head", false]];

const rnd = (shape: number[], seed: number) => tf.randomNormal(shape, 0, 1, "float32", seed);
const d = { batch: 3, seqLen: 5, heads: 4 };
const H = 8 * d.heads;
const split = (x: tf.Tensor) =>
  tf.transpose(tf.reshape(x, [d.batch, d.seqLen, d.heads, H / d.heads]), [0, 2, 1, 3]);
const refScores = (q: tf.Tensor, k: tf.Tensor) => tf.matMul(split(q), split(k), false, true);
const refContext = (p: tf.Tensor, v: tf.Tensor) =>
  tf.reshape(tf.transpose(tf.matMul(p, split(v)), [0, 2, 1, 3]), [d.batch * d.seqLen, H]);

function valueAndGrads(op: (a: tf.Tensor, b: tf.Tensor) => tf.Tensor, xs: tf.Tensor[]) {
  return tf.tidy(() => {
    const y = op(xs[0], xs[1]);
    const w = rnd(y.shape, 77);
    const g = tf.grads((a: tf.Tensor, b: tf.Tensor) => tf.sum(tf.mul(op(a, b), w)))(xs);
    return [y, ...g].map((t) => ({ v: t.dataSync().slice(), s: t.shape }));
  });
}

Deno.test({
  name: "head-strided sgemm attention matmuls match reshape+transpose+matMul autodiff (values and grads)" +
    (hasBlas ? "" : ` [skipped: ${blasSkip}]`),
  ignore: !hasBlas,
  fn() {
    const q = rnd([d.batch * d.seqLen, H], 1), k = rnd([d.batch * d.seqLen, H], 2);
    const p = tf.softmax(rnd([d.batch, d.heads, d.seqLen, d.seqLen], 3)), v = rnd([d.batch * d.seqLen, H], 4);
    const cases: [
      string,
      (a: tf.Tensor, b: tf.Tensor) => tf.Tensor,
      (a: tf.Tensor, b: tf.Tensor) => tf.Tensor,
      tf.Tensor[],
    ][] = [
      ["scores", (a, b) => attentionScores(a as tf.Tensor2D, b as tf.Tensor2D, d), refScores, [q, k]],
      ["context", (a, b) => attentionContext(a as tf.Tensor4D, b as tf.Tensor2D, d), refContext, [p, v]],
    ];
    for (const [what, fused, ref, xs] of cases) {
      const want = valueAndGrads(ref, xs);
      for (const [path, c] of paths) {
        setNativeKernelsEnabled(c);
        assert.ok(registerHeadMatMulKernel());
        try {
          const got = valueAndGrads(fused, xs);
          for (let i = 0; i < want.length; i++) {
            assert.deepEqual(got[i].s, want[i].s, `${what} ${i} shape (${path})`);
            assertClose(got[i].v, want[i].v, 1e-5, `${what} output ${i} (${path})`);
          }
        } finally {
          unregisterHeadMatMulKernel();
          setNativeKernelsEnabled(true);
        }
      }
    }
  },
});

Deno.test("without the kernel, attentionScores/attentionContext are the plain TF.js ops", () => {
  unregisterHeadMatMulKernel();
  const q = rnd([d.batch * d.seqLen, H], 5), k = rnd([d.batch * d.seqLen, H], 6);
  assertClose(
    attentionScores(q as tf.Tensor2D, k as tf.Tensor2D, d).dataSync(),
    refScores(q, k).dataSync(),
    0,
    "scores",
  );
});
