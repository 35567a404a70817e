import { ok, strictEqual } from "node:assert/strict";
import { tf } from "../tf.ts";
import { useBackend } from "../backend.ts";
import { assertClose, hashDropout, readFixture, TESTDATA } from "../testing/fixtures.ts";
import type { ArrayFixture } from "../testing/fixtures.ts";
import { assertWithinHalfUlps } from "../testing/fp16_assert.ts";
import { gemmEngine } from "../kernels/onednn.ts";
import { loadBert } from "./bert_checkpoint.ts";
import { isF16Valued } from "./fp16.ts";
import { fp16KernelPath, fp16Linear, setFp16KernelPath } from "./fp16_linear.ts";
import { fp16AttentionContext, fp16AttentionScores } from "./fp16_matmul.ts";

/** Run `f` on the kernel path and on the tf-ops emulation; returns both results' values. */
function bothPaths(f: () => tf.Tensor[]): [Float32Array[], Float32Array[]] {
  const run = (on: boolean) => {
    setFp16KernelPath(on);
    try {
      return tf.tidy(() => f().map((t) => t.dataSync() as Float32Array));
    } finally {
      setFp16KernelPath(true);
    }
  };
  return [run(true), run(false)];
}

function rnd(shape: number[], seed: number, std = 1): tf.Tensor {
  return tf.randomNormal(shape, 0, std, "float32", seed);
}

Deno.test("on the cpu backend the fp16 ops take the gemm-kernel path, and it agrees with the tf-ops emulation within one fp16 ulp (mostly bit-equal)", async () => {
  await useBackend("cpu");
  strictEqual(fp16KernelPath(), gemmEngine("f16") !== "js");
  if (!fp16KernelPath()) return;
  const x = rnd([96, 64], 1), w = rnd([64, 80], 2, 0.15), b = rnd([80], 3, 0.1), dy = rnd([96, 80], 4);
  for (const act of ["none", "gelu", "gelu_new", "relu"] as const) {
    const f = (xx: tf.Tensor, ww: tf.Tensor, bb: tf.Tensor) =>
      fp16Linear(xx as tf.Tensor2D, ww as tf.Tensor2D, bb as tf.Tensor1D, { activation: act });
    const [kern, emul] = bothPaths(() => {
      const y = f(x, w, b);
      ok(isF16Valued(y), "marked fp16-valued");
      return [y, ...tf.grads(f)([x, w, b], dy)];
    });
    const eqY = assertWithinHalfUlps(kern[0], emul[0], `${act} y`);
    const eqDx = assertWithinHalfUlps(kern[1], emul[1], `${act} dx`);
    ok(eqY > 0.95 && eqDx > 0.95, `${act}: y ${eqY}, dx ${eqDx} bit-equal`);
    assertClose(kern[2], emul[2], 1e-5, `${act} dW`, 1e-3);
    assertClose(kern[3], emul[3], 1e-5, `${act} db`, 1e-3);
  }
  const shape = { batch: 3, seqLen: 7, heads: 4 }, H = 32;
  const q = rnd([21, H], 5), k = rnd([21, H], 6), v = rnd([21, H], 7);
  const probs = tf.softmax(rnd([3, 4, 7, 7], 8, 2), -1);
  const s = (a: tf.Tensor, c: tf.Tensor) =>
    fp16AttentionScores(a as tf.Tensor2D, c as tf.Tensor2D, shape, 1 / Math.sqrt(8));
  const c = (p: tf.Tensor, vv: tf.Tensor) => fp16AttentionContext(p as tf.Tensor4D, vv as tf.Tensor2D, shape);
  const [kern, emul] = bothPaths(() => [
    s(q, k),
    ...tf.grads(s)([q, k], rnd([3, 4, 7, 7], 9)),
    c(probs, v),
    ...tf.grads(c)([probs, v], rnd([21, H], 10)),
  ]);
  ["scores", "dq", "dk", "context", "dprobs", "dv"].forEach((name, i) => {
    const eq = assertWithinHalfUlps(kern[i], emul[i], name);
    ok(eq > 0.95, `${name}: ${eq} bit-equal`);
  });
  tf.dispose([x, w, b, dy, q, k, v, probs]);
});

Deno.test("fp16 BERT on the cpu backend: kernel path and tf-ops emulation give the same forward and gradients within fp16 tolerance", async () => {
  await useBackend("cpu");
  if (!fp16KernelPath()) return;
  const fx = readFixture<
    { input_ids: ArrayFixture; attention_mask: ArrayFixture; token_type_ids: ArrayFixture }
  >(
    "bert/forward.json",
  );
  const [B, L] = fx.input_ids.shape;
  const { model } = await loadBert(`${TESTDATA}bert/tiny-safetensors`);
  model.precision = "fp16";
  const vars = [...model.trainableParams().values()];
  const [kern, emul] = bothPaths(() => {
    const inputs = {
      inputIds: tf.tensor2d(fx.input_ids.data, [B, L], "int32"),
      attentionMask: tf.tensor2d(fx.attention_mask.data, [B, L], "int32"),
      tokenTypeIds: tf.tensor2d(fx.token_type_ids.data, [B, L], "int32"),
    };
    const { value, grads } = tf.variableGrads(() => {
      const out = model.forward(inputs, { training: true, dropout: hashDropout() });
      const w = tf.randomNormal(out.lastHiddenState.shape, 0, 1, "float32", 7);
      return tf.sum(tf.mul(out.lastHiddenState, w)) as tf.Scalar;
    }, vars);
    return [value, ...vars.map((v) => grads[v.name])];
  });
  assertClose(kern[0], emul[0], 1e-3, "loss");
  for (let i = 1; i < kern.length; i++) assertClose(kern[i], emul[i], 2e-2, `grad ${vars[i - 1].name}`, 1);
  model.dispose();
});
