import { ok, strictEqual, throws } from "node:assert/strict";
import { tf } from "../runtime/tf.ts";
import { useBackend } from "../kernels/backend.ts";
import { InputError } from "../runtime/errors.ts";
import {
  type ArrayFixture,
  assertClose,
  hashDropout,
  readFixture,
  TESTDATA,
} from "../../testing/fixtures.ts";
import { checkPrecision, parsePrecision, PRECISIONS } from "./precision.ts";
import { loadGpt2 } from "../model/gpt2_checkpoint.ts";

Deno.test("`parsePrecision()` accepts fp32, fp16 and bf16 in any case and names the valid ones otherwise", () => {
  strictEqual(parsePrecision("fp32"), "fp32");
  strictEqual(parsePrecision("FP16"), "fp16");
  strictEqual(parsePrecision("bf16"), "bf16");
  throws(() => parsePrecision("fp8"), (e) => e instanceof InputError && /fp32, fp16, bf16/.test(e.message));
});

Deno.test("`checkPrecision()` refuses a precision the encoder does not list, with one line", () => {
  checkPrecision("fp16", PRECISIONS, "bert");
  throws(
    () => checkPrecision("bf16", ["fp32"], "toy"),
    (e) =>
      e instanceof InputError &&
      e.message === "precision 'bf16' is not implemented for 'toy' encoders; use fp32",
  );
});

interface Gpt2Fixture {
  input_ids: ArrayFixture;
  attention_mask: ArrayFixture;
  expected: { last_hidden_state: ArrayFixture };
}

// wasm runs the fp16 tf-ops emulation; cpu runs the 16-bit gemm kernels (with oneDNN or OpenBLAS),
// whose q, k and v Linears save c_attn's weight instead of their column blocks. Tolerances scale with
// the format's unit roundoff (bf16's is 8× fp16's).
const GPT2_HALF_CASES = [
  { backend: "wasm", precision: "fp16", out: 3e-2, loss: 2e-2, grad: 5e-2 },
  { backend: "cpu", precision: "fp16", out: 3e-2, loss: 2e-2, grad: 5e-2 },
  { backend: "cpu", precision: "bf16", out: 4e-2, loss: 1e-1, grad: 8e-2 },
] as const;

for (const c of GPT2_HALF_CASES) {
  Deno.test(`GPT-2 in ${c.precision} on ${c.backend} stays within its error of PyTorch's fp32 GPT2Model, and its gradients within its error of fp32's`, async () => {
    await useBackend(c.backend);
    const fx = readFixture<Gpt2Fixture>("gpt2/forward.json", "simcse-gpt2-fixture");
    const { model } = await loadGpt2(`${TESTDATA}gpt2/tiny-safetensors`);
    const [B, L] = fx.input_ids.shape;
    const x = () => ({
      inputIds: tf.tensor2d(fx.input_ids.data, [B, L], "int32"),
      attentionMask: tf.tensor2d(fx.attention_mask.data, [B, L], "int32"),
    });
    tf.tidy(() => {
      const out = model.forward(x(), { precision: c.precision });
      const err = assertClose(
        out.lastHiddenState.dataSync(),
        fx.expected.last_hidden_state.data,
        c.out,
        c.precision,
        1,
      );
      ok(err > 1e-5, `${c.precision} rounding is really applied (max rel diff ${err})`);
    });
    const vars = [...model.trainableParams().values()];
    const grads = (precision: "fp32" | "fp16" | "bf16") =>
      tf.tidy(() => {
        const inputs = x();
        const { value, grads } = tf.variableGrads(() => {
          const out = model.forward(inputs, { training: true, dropout: hashDropout(), precision });
          const w = tf.randomNormal(out.lastHiddenState.shape, 0, 1, "float32", 7);
          return tf.sum(tf.mul(out.lastHiddenState, w)) as tf.Scalar;
        }, vars);
        return [value, ...vars.map((v) => grads[v.name])];
      });
    const g32 = grads("fp32"), g16 = grads(c.precision);
    assertClose(g16[0].dataSync(), g32[0].dataSync(), c.loss, "loss");
    g32.slice(1).forEach((g, i) => {
      const name = [...model.trainableParams().keys()][i];
      // c_attn's key block is mathematically ineffective on the bias (softmax ignores a per-row constant).
      if (name.endsWith("c_attn.bias")) return;
      assertClose(g16[i + 1].dataSync(), g.dataSync(), c.grad, name, 1);
    });
    tf.dispose([...g32, ...g16]);
    model.dispose();
  });
}
