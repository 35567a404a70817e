/**
 * The fused residual branch (`add_norm.ts`) against the three ops it replaces, run in turn (dropout,
 * the saveless add, `fusedLayerNorm`; each checked against references of its own elsewhere): the same
 * bits for y and every gradient. And against TF.js primitive ops with the dropout mask drawn by the JS
 * hash: y within float32 rounding, the gradients within the format's rounding of x̂.
 */
import { deepStrictEqual, ok } from "node:assert/strict";
import { tf } from "../runtime/tf.ts";
import { useBackend } from "../kernels/backend.ts";
import { dropoutHash } from "../kernels/cpu_fused.ts";
import { loadNativeKernels } from "../kernels/native_kernels.ts";
import { assertClose } from "../../testing/fixtures.ts";
import { reportSkip, requireTool } from "../../testing/tools.ts";
import { type BranchDropout, fusedAddNorm, fusedAddNormAvailable } from "./add_norm.ts";
import { fusedDropout, fusedLayerNorm, layerNormSource } from "./fused.ts";
import { addSameShape } from "./saveless_add.ts";
import { halfOps } from "./precision.ts";

const ccSkip = await requireTool("cc");
reportSkip("the fused add-norm tests", ccSkip);
await useBackend("cpu");
const kernels = ccSkip === null ? loadNativeKernels() : null;

const rnd = (shape: number[], seed: number) => tf.randomNormal(shape, 0, 1, "float32", seed);
const EPS = 1e-12;

/** y and the gradients of sum(y·w) for dense, residual, γ, β, through `f`. */
function run(
  f: (d: tf.Tensor, r: tf.Tensor, g: tf.Tensor, b: tf.Tensor) => tf.Tensor,
  xs: tf.Tensor[],
): Float32Array[] {
  return tf.tidy(() => {
    const y = f(xs[0], xs[1], xs[2], xs[3]);
    const w = rnd(y.shape, 99);
    const grads = tf.grads((d, r, g, b) => tf.sum(tf.mul(f(d, r, g, b), w)))(xs);
    return [y, ...grads].map((t) => t.dataSync() as Float32Array).map((a) => a.slice());
  });
}

const cases: Array<[string, BranchDropout | null]> = [
  ["dropout 0.1", { rate: 0.1, seed: 12345 }],
  ["no dropout", null],
];

for (const type of ["bf16", "fp16"] as const) {
  for (const [label, drop] of cases) {
    Deno.test({
      name:
        `fusedAddNorm (${type}, ${label}): the bits of dropout, add and LayerNorm in turn, y and every gradient`,
      ignore: kernels === null,
      fn() {
        ok(fusedAddNormAvailable());
        const store = halfOps(type).store;
        const xs = [rnd([70, 48], 1), rnd([70, 48], 2), rnd([48], 3), rnd([48], 4)];
        const fused = run((d, r, g, b) => fusedAddNorm(d, r, g, b, EPS, store, drop), xs);
        const apart = run((d, r, g, b) => {
          const dd = drop ? fusedDropout(d, drop.rate, drop.seed)! : d;
          return fusedLayerNorm(addSameShape(dd, r), g, b, EPS, store);
        }, xs);
        for (let i = 0; i < fused.length; i++) deepStrictEqual(fused[i], apart[i], `output ${i}`);
        // at evaluation too (no x̂ written)
        const y = tf.tidy(() => fusedAddNorm(xs[0], xs[1], xs[2], xs[3], EPS, store, drop).dataSync());
        deepStrictEqual(y, fused[0]);
        xs.forEach((t) => t.dispose());
      },
    });
  }
}

Deno.test({
  name:
    "fusedAddNorm against TF.js primitive ops (mask by the JS hash): y within float32 rounding, gradients within bf16's rounding of x̂; its output is a LayerNorm source",
  ignore: kernels === null,
  fn() {
    const drop = { rate: 0.25, seed: 777 };
    const [N, H] = [33, 40];
    const keep = new Float32Array(N * H).map((_, i) =>
      dropoutHash(drop.seed, i) >= Math.floor(drop.rate * 2 ** 32) ? 1 / (1 - drop.rate) : 0
    );
    ok(keep.some((v) => v === 0) && keep.some((v) => v !== 0));
    const mask = tf.tensor2d(keep, [N, H]);
    const ref = (d: tf.Tensor, r: tf.Tensor, g: tf.Tensor, b: tf.Tensor) => {
      const x = tf.add(tf.mul(d, mask), r);
      const { mean, variance } = tf.moments(x, -1, true);
      return tf.add(tf.mul(tf.div(tf.sub(x, mean), tf.sqrt(tf.add(variance, EPS))), g), b);
    };
    const xs = [rnd([N, H], 5), rnd([N, H], 6), rnd([H], 7), rnd([H], 8)];
    const store = halfOps("bf16").store;
    const got = run((d, r, g, b) => fusedAddNorm(d, r, g, b, EPS, store, drop), xs);
    const want = run(ref, xs);
    assertClose(got[0], want[0], 1e-5, "y");
    // (each element relative to a quarter of the largest: dγ sums rows of dy·x̂ with x̂ at 16 bits)
    for (let i = 1; i < got.length; i++) assertClose(got[i], want[i], 3e-2, `gradient ${i - 1}`, 0.25);
    tf.tidy(() => {
      tf.grad((d: tf.Tensor) => {
        const y = fusedAddNorm(d, xs[1], xs[2], xs[3], EPS, store, drop);
        ok(layerNormSource(y)?.type === "bf16", "the output's x̂ codes are registered");
        return tf.sum(y);
      })(xs[0]);
    });
    mask.dispose();
    xs.forEach((t) => t.dispose());
  },
});
