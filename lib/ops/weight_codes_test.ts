import { deepStrictEqual, ok, strictEqual } from "node:assert/strict";
import { tf } from "../runtime/tf.ts";
import { useBackend } from "../kernels/backend.ts";
import { exclusiveFloat32, gemmEngine } from "../kernels/mod.ts";
import { assertWithinBf16Ulps, bf16Fixture } from "../../testing/bf16_assert.ts";
import { BF16, bf16Linear, halfLinear } from "./bf16_ops.ts";
import { releaseWeightCodes, weightCodesBytes } from "./weight_codes.ts";

const fx = bf16Fixture();
const t = (a: { shape: number[]; data: number[] }) => tf.tensor(a.data, a.shape, "float32");
// The codes are kept where the bf16 matmuls take 16-bit operands as they are: oneDNN's bf16 kernel.
const kept = () => gemmEngine("bf16") === "onednn";

Deno.test("a bf16 Linear at evaluation keeps its weight's codes and gives PyTorch's values on every pass", async () => {
  await useBackend("cpu");
  releaseWeightCodes();
  for (const c of fx.linear) {
    const w = tf.variable(t(c.w));
    tf.tidy(() => {
      for (let pass = 0; pass < 2; pass++) {
        const y = bf16Linear(t(c.x) as tf.Tensor2D, w as tf.Tensor2D, t(c.b) as tf.Tensor1D, {
          activation: c.activation,
        });
        assertWithinBf16Ulps(y.dataSync(), c.y.data, `${c.activation} y, pass ${pass}`);
      }
    });
    if (kept()) strictEqual(weightCodesBytes(), Math.ceil(w.size / 2) * 4, "one weight's codes kept");
    w.dispose();
    releaseWeightCodes();
  }
});

Deno.test("kept weight codes follow an in-place write of the weight (an optimizer step): the next pass reads the new values", async () => {
  await useBackend("cpu");
  releaseWeightCodes();
  const c = fx.linear[0];
  const src = t(c.w);
  const w = tf.variable(src);
  src.dispose(); // the variable is its data's only holder, as a model's weights are
  const zero = tf.zeros([c.b.shape[0]]) as tf.Tensor1D;
  const x = t(c.x) as tf.Tensor2D;
  const y1 = bf16Linear(x, w as tf.Tensor2D, zero).dataSync().slice();
  const values = exclusiveFloat32(w)!; // what AdamW updates in place
  for (let i = 0; i < values.length; i++) values[i] = -values[i];
  // bf16 rounding is symmetric: x16·(−W16) rounds to exactly −bf16(x16·W16)
  const y2 = bf16Linear(x, w as tf.Tensor2D, zero).dataSync();
  ok(y1.some((v) => v !== 0), "a non-trivial output");
  deepStrictEqual(Array.from(y2), Array.from(y1, (v) => -v + 0));
  tf.dispose([w, zero, x]);
  releaseWeightCodes();
});

Deno.test("a recording gradient tape gives the kept weight codes back (a training step has no room for them)", async () => {
  await useBackend("cpu");
  releaseWeightCodes();
  const c = fx.linear[0];
  const w = tf.variable(t(c.w));
  const [x, b] = [t(c.x) as tf.Tensor2D, t(c.b) as tf.Tensor1D];
  bf16Linear(x, w as tf.Tensor2D, b).dispose();
  if (kept()) ok(weightCodesBytes() > 0, "codes kept at evaluation");
  const g = tf.grads((xx: tf.Tensor) => bf16Linear(xx as tf.Tensor2D, w as tf.Tensor2D, b))([x], t(c.dy));
  strictEqual(weightCodesBytes(), 0);
  tf.dispose([...g, w, x, b]);
});

Deno.test("a Linear on a block of columns reads the kept codes of the whole weight at that block's offset (GPT-2's q, k, v)", async () => {
  await useBackend("cpu");
  releaseWeightCodes();
  const c = fx.linear[0];
  const [I, O] = c.w.shape;
  tf.tidy(() => {
    const w = t(c.w);
    // The fixture's weight as block j of [I, 3·O]; the other blocks are other numbers.
    for (let j = 0; j < 3; j++) {
      const blocks = [0, 1, 2].map((k) => k === j ? w : tf.mul(w, k + 2));
      const full = tf.variable(tf.concat(blocks, 1) as tf.Tensor2D);
      const wj = tf.slice(full, [0, j * O], [I, O]) as tf.Tensor2D;
      const y = halfLinear(BF16, t(c.x) as tf.Tensor2D, wj, t(c.b) as tf.Tensor1D, {
        columnsOf: { full, col: j * O },
      });
      assertWithinBf16Ulps(y.dataSync(), c.y.data, `block ${j}`);
      full.dispose();
      releaseWeightCodes();
    }
  });
});
