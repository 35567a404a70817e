/**
 * Codes widened once for several readers (`widened_codes.ts`): hand-checked values and lifetimes, and
 * three binary16 Linears reading one LayerNorm's output or one plain input (Q, K and V) against each
 * Linear on a tape of its own (one reader: its product widens the codes itself), bit for bit.
 */
import { deepStrictEqual, ok, strictEqual } from "node:assert/strict";
import { tf } from "../runtime/tf.ts";
import { useBackend } from "../kernels/backend.ts";
import { gemmWidensOperands } from "../kernels/mod.ts";
import { doneWidened, expectWidening, widenedFor } from "./widened_codes.ts";
import { fusedLayerNorm } from "./fused.ts";
import { fp16Linear } from "./fp16_linear.ts";
import { halfOps } from "./precision.ts";

await useBackend("cpu");

Deno.test("widenedFor: the codes' values once for two or more readers, given back after the last", () => {
  // binary16 1, -2, 0.5 and 65504 (0x3c00, 0xc000, 0x3800, 0x7bff), two codes per int32 word
  const codes = tf.tensor1d([0xc0003c00 | 0, 0x7bff3800], "int32");
  strictEqual(widenedFor("f16", codes, 4), undefined, "no reader counted");
  expectWidening(codes);
  strictEqual(widenedFor("f16", codes, 4), undefined, "one reader widens its own");
  expectWidening(codes);
  expectWidening(codes);
  const a = widenedFor("f16", codes, 4)!;
  deepStrictEqual(Array.from(a), [1, -2, 0.5, 65504]);
  strictEqual(widenedFor("f16", codes, 4), a, "the same copy for the second reader");
  doneWidened(codes);
  doneWidened(codes);
  strictEqual(widenedFor("f16", codes, 4), a, "still there for the third");
  doneWidened(codes);
  strictEqual(widenedFor("f16", codes, 4), undefined, "given back, and the count with it");
  codes.dispose();
});

Deno.test("widenedFor: a copy whose readers never all came goes once a third is made", () => {
  const make = () => tf.tensor1d(new Int32Array(4096).fill(0x3c003c00), "int32");
  const ts = [make(), make(), make()];
  for (const t of ts) {
    expectWidening(t);
    expectWidening(t);
  }
  const first = widenedFor("f16", ts[0], 8192)!;
  widenedFor("f16", ts[1], 8192);
  widenedFor("f16", ts[2], 8192); // the first one's second reader never came
  ok(widenedFor("f16", ts[0], 8192) !== first, "widened again: the old copy went back");
  for (const t of ts) {
    doneWidened(t);
    doneWidened(t);
    t.dispose();
  }
});

for (const source of ["a LayerNorm's output (x̂'s codes)", "a plain input (its packed copy)"]) {
  Deno.test({
    name:
      `binary16 Q, K and V on ${source} share the codes widened once: the bits of each Linear on a tape of its own`,
    ignore: !gemmWidensOperands("f16"),
    fn() {
      const store = halfOps("fp16").store;
      const N = 96, H = 40;
      const x = tf.randomNormal([N, H], 0, 1, "float32", 1);
      const g = tf.randomNormal([H], 1, 0.1, "float32", 2), b = tf.randomNormal([H], 0, 0.1, "float32", 3);
      const ws = [4, 5, 6].map((s) => tf.randomNormal([H, H], 0, 0.2, "float32", s) as tf.Tensor2D);
      const bs = [7, 8, 9].map((s) => tf.randomNormal([H], 0, 0.1, "float32", s) as tf.Tensor1D);
      const wy = tf.randomNormal([N, H], 0, 1, "float32", 10);
      const ln = source.startsWith("a LayerNorm");
      const grads = (which: number[]) =>
        tf.tidy(() =>
          tf.grads((...w: tf.Tensor[]) => {
            const y = (ln ? fusedLayerNorm(x, g, b, 1e-12, store) : tf.mul(x, 1)) as tf.Tensor2D;
            let loss = tf.scalar(0);
            which.forEach((i, k) =>
              loss = tf.add(loss, tf.sum(tf.mul(fp16Linear(y, w[k] as tf.Tensor2D, bs[i]), wy)))
            );
            return loss;
          })(which.map((i) => ws[i])).map((t) => t.dataSync().slice())
        );
      const together = grads([0, 1, 2]);
      for (let i = 0; i < 3; i++) deepStrictEqual(together[i], grads([i])[0], `dW of Linear ${i}`);
    },
  });
}
