import { ok, strictEqual } from "node:assert/strict";
import { tf } from "../runtime/tf.ts";
import { useBackend } from "../kernels/backend.ts";
import { assertClose, hashDropout, readFixture, TESTDATA } from "../../testing/fixtures.ts";
import type { ArrayFixture } from "../../testing/fixtures.ts";
import { assertWithinHalfUlps } from "../../testing/fp16_assert.ts";
import { gemmEngine } from "../kernels/onednn.ts";
import { loadBert } from "../model/bert_checkpoint.ts";
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
    // GELU runs as compiled C on the kernel path and as tf ops in the emulation: two erf/tanh
    // approximations, which differ by more than an fp16 ulp in the far tail (|y| ~ 1e-5). Both match
    // the float64 reference within an ulp on the fixtures (fp16_linear_test.ts).
    const smooth = act === "gelu" || act === "gelu_new";
    const within = (a: Float32Array, e: Float32Array, what: string) =>
      smooth
        ? (assertClose(a, e, 2 ** -10, what, 1), a.filter((v, i) => v === e[i]).length / a.length)
        : assertWithinHalfUlps(a, e, what);
    const eqY = within(kern[0], emul[0], `${act} y`);
    const eqDx = within(kern[1], emul[1], `${act} dx`);
    ok(eqY > 0.9 && eqDx > 0.9, `${act}: y ${eqY}, dx ${eqDx} bit-equal`);
    // f32 sums of the same fp16 g; with GELU a g entry may round the other way (see above).
    assertClose(kern[2], emul[2], smooth ? 2 ** -9 : 1e-5, `${act} dW`, smooth ? 1 : 1e-3);
    assertClose(kern[3], emul[3], smooth ? 2 ** -9 : 1e-5, `${act} db`, smooth ? 1 : 1e-3);
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

Deno.test("fp16 BERT on the cpu backend (kernel path): gradients agree with fp32 BERT gradients within fp16 tolerance, as on the emulation path", async () => {
  await useBackend("cpu");
  if (!fp16KernelPath()) return;
  const fx = readFixture<
    { input_ids: ArrayFixture; attention_mask: ArrayFixture; token_type_ids: ArrayFixture }
  >(
    "bert/forward.json",
  );
  const [B, L] = fx.input_ids.shape;
  const { model } = await loadBert(`${TESTDATA}bert/tiny-safetensors`);
  const vars = [...model.trainableParams().entries()];
  const grads = (precision: "fp32" | "fp16") => {
    return tf.tidy(() => {
      const inputs = {
        inputIds: tf.tensor2d(fx.input_ids.data, [B, L], "int32"),
        attentionMask: tf.tensor2d(fx.attention_mask.data, [B, L], "int32"),
        tokenTypeIds: tf.tensor2d(fx.token_type_ids.data, [B, L], "int32"),
      };
      const { value, grads } = tf.variableGrads(() => {
        const out = model.forward(inputs, { training: true, dropout: hashDropout(), precision });
        const w = tf.randomNormal(out.lastHiddenState.shape, 0, 1, "float32", 7);
        return tf.sum(tf.mul(out.lastHiddenState, w)) as tf.Scalar;
      }, vars.map(([, v]) => v));
      return [value, ...vars.map(([, v]) => grads[v.name])].map((t) => t.dataSync() as Float32Array);
    });
  };
  const g32 = grads("fp32"), g16 = grads("fp16");
  assertClose(g16[0], g32[0], 2e-2, "loss");
  const maxAbs = (a: Float32Array) => a.reduce((m, v) => Math.max(m, Math.abs(v)), 0);
  vars.forEach(([name], i) => {
    if (name.endsWith("attention.self.key.bias")) { // mathematically zero: fp16 noise only
      const q = vars.findIndex(([n]) => n === name.replace(".key.", ".query."));
      ok(maxAbs(g16[i + 1]) / maxAbs(g32[q + 1]) < 0.05, name);
      return;
    }
    assertClose(g16[i + 1], g32[i + 1], 3e-2, name, 1);
  });
  model.dispose();
});
