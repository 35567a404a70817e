import { deepStrictEqual, ok, strictEqual, throws } from "node:assert/strict";
import { tf } from "../runtime/tf.ts";
import { useBackend } from "../kernels/backend.ts";
import { setNativeKernelsEnabled } from "../kernels/native_kernels.ts";
import { loadBert } from "../model/bert_checkpoint.ts";
import {
  type ArrayFixture,
  assertClose,
  hashDropout,
  readFixture,
  TESTDATA,
} from "../../testing/fixtures.ts";
import { AdamW } from "./adamw.ts";
import { allFinite, LossScaler } from "./loss_scaler.ts";
import { SimcseModel } from "../simcse/simcse_model.ts";
import { lossAndGrads, trainStep } from "./loop.ts";

Deno.test("`LossScaler` follows GradScaler: 2^16 at first, x2 after 2000 clean steps, x0.5 and a skipped step on overflow", () => {
  const s = new LossScaler();
  strictEqual(s.scale, 65536);
  for (let i = 0; i < 1999; i++) s.update(true);
  strictEqual(s.scale, 65536, "not yet: 1999 clean steps");
  s.update(true);
  strictEqual(s.scale, 131072, "grown after the 2000th");
  strictEqual(s.growthTracker, 0);
  for (let i = 0; i < 1500; i++) s.update(true);
  s.update(false);
  deepStrictEqual(
    s.state(),
    { scale: 65536, growthTracker: 0, skippedSteps: 1 },
    "back-off resets the tracker",
  );
  for (let i = 0; i < 1999; i++) s.update(true);
  strictEqual(s.scale, 65536, "the count restarted at the overflow");
  s.update(false);
  s.update(false);
  deepStrictEqual(s.state(), { scale: 16384, growthTracker: 0, skippedSteps: 3 });
  const r = new LossScaler();
  r.load(s.state());
  deepStrictEqual(r.state(), s.state());
  throws(() => new LossScaler({ backoffFactor: 2 }));
  throws(() => r.load({ scale: 0, growthTracker: 0, skippedSteps: 0 }));
});

Deno.test("`LossScaler.unscale()` divides by the scale, disposes its input and flags Inf and NaN", async () => {
  await useBackend("cpu");
  const s = new LossScaler({ initScale: 1024 });
  const before = tf.memory().numTensors;
  const ok1 = s.unscale(new Map([["a", tf.tensor1d([1024, -2048, 0.5])]]));
  deepStrictEqual(Array.from(ok1.grads.get("a")!.dataSync()), [1, -2, 0.5 / 1024]);
  ok(ok1.finite);
  const bad = s.unscale(new Map([["a", tf.tensor1d([1, 2])], ["b", tf.tensor1d([NaN])]]));
  ok(!bad.finite);
  const inf = s.unscale(new Map([["c", tf.tensor1d([-Infinity])]]));
  ok(!inf.finite);
  const fin = tf.tensor1d([0, 1e38]), nonFin = tf.tensor1d([Infinity]);
  ok(allFinite([fin]) && !allFinite([fin, nonFin]));
  tf.dispose([...ok1.grads.values(), ...bad.grads.values(), ...inf.grads.values(), fin, nonFin]);
  strictEqual(tf.memory().numTensors, before, "inputs disposed by unscale, outputs by the caller");
});

Deno.test("`LossScaler.unscale()` on cpu divides sole-holder gradients in place (C kernel and JS loop) and leaves shared ones alone", async () => {
  await useBackend("cpu");
  for (const native of [true, false]) {
    setNativeKernelsEnabled(native);
    try {
      // scale 2^-1 (after backoffs): dividing doubles, so 3e38 overflows to Inf only after unscaling.
      const s = new LossScaler({ initScale: 0.5 });
      const n = 100_003; // several of the C kernel's parallel blocks, and a tail
      const src = Float32Array.from({ length: n }, (_, i) => Math.fround(Math.sin(i) * 1e-3 * (1 + (i % 7))));
      const want = src.map((v) => Math.fround(v * 2)); // float32 products, computed here
      const big = tf.tensor1d(src), base = tf.tensor1d([1, 2, 3, 4]), view = base.reshape([2, 2]);
      const before = tf.memory().numTensors;
      const r = s.unscale(new Map<string, tf.Tensor>([["big", big], ["view", view], ["again", big]]));
      ok(r.finite, "all finite");
      deepStrictEqual(r.grads.get("big"), big, "the sole holder is divided in place and returned");
      const firstDiff = (t: tf.Tensor) => t.dataSync().findIndex((v, i) => !Object.is(v, want[i]));
      strictEqual(firstDiff(big), -1, "divided (first wrong element)");
      strictEqual(firstDiff(r.grads.get("again")!), -1, "divided once under two names (first wrong element)");
      deepStrictEqual(Array.from(r.grads.get("view")!.dataSync()), [2, 4, 6, 8]);
      deepStrictEqual(
        Array.from(base.dataSync()),
        [1, 2, 3, 4],
        "data shared with another tensor is untouched",
      );
      const over = s.unscale(new Map([["o", tf.tensor1d([1, 3e38, 2])]]));
      ok(!over.finite, "Inf after unscaling");
      deepStrictEqual(Array.from(over.grads.get("o")!.dataSync()), [2, Infinity, 4]);
      tf.dispose([...r.grads.values(), ...over.grads.values(), base]);
      strictEqual(tf.memory().numTensors, before - 3, "inputs taken over by unscale, outputs disposed here");
    } finally {
      setNativeKernelsEnabled(true);
    }
  }
});

interface StepFixture {
  input_ids: ArrayFixture;
  attention_mask: ArrayFixture;
  token_type_ids: ArrayFixture;
}

/** The tiny BERT in fp16 with SimCSE `avg` pooling, and one collated batch from the step fixture. */
async function setup() {
  const fx = readFixture<StepFixture>("bert/train_step.json");
  const { model } = await loadBert(`${TESTDATA}bert/tiny-safetensors`);
  const sm = new SimcseModel(model, { poolerType: "avg", mlpOnlyTrain: false, temp: 0.05 });
  const [rows, seqLen] = fx.input_ids.shape;
  const batch = {
    inputIds: Int32Array.from(fx.input_ids.data),
    attentionMask: Int32Array.from(fx.attention_mask.data),
    tokenTypeIds: Int32Array.from(fx.token_type_ids.data),
    rows,
    seqLen,
    numSent: 2 as const,
    batchSize: rows / 2,
  };
  return { model, sm, vars: sm.namedVariables(), batch };
}

function snapshot(vars: Map<string, tf.Variable>): Map<string, Float32Array> {
  return new Map([...vars].map(([n, v]) => [n, Float32Array.from(v.dataSync() as Float32Array)]));
}

Deno.test("an fp16 step whose gradients overflow is skipped: weights and AdamW untouched, scale halved, skip counted", async () => {
  await useBackend("wasm");
  const { model, vars, batch } = await setup();
  const sm = new SimcseModel(model, {
    poolerType: "avg",
    mlpOnlyTrain: false,
    temp: 0.05,
    precision: "fp16",
  });
  const before = snapshot(vars);
  const opt = new AdamW();
  // Forced overflow: with the loss scaled by 2^40 the upstream gradients exceed 65504 in the fp16 ops.
  const scaler = new LossScaler({ initScale: 2 ** 40 });
  const r = await trainStep(sm, vars, opt, batch, undefined, {
    lr: 1e-3,
    maxGradNorm: 1,
    dropoutAt: (off) => hashDropout(off),
    padId: 0,
    scaler,
  });
  ok(Number.isFinite(r.lossValue), "the loss itself is finite");
  ok(r.skipped && Number.isNaN(r.norm), "step skipped");
  strictEqual(scaler.scale, 2 ** 39);
  strictEqual(scaler.skippedSteps, 1);
  strictEqual(opt.stepCount, 0, "AdamW took no step");
  for (const [n, v] of vars) deepStrictEqual(v.dataSync(), before.get(n), `${n} unchanged`);

  // A sane scale goes through: not skipped, the weights move, the scale keeps (1 clean step of 2000).
  const ok2 = new LossScaler({ initScale: 2 ** 12 });
  const r2 = await trainStep(sm, vars, opt, batch, undefined, {
    lr: 1e-3,
    maxGradNorm: 1,
    dropoutAt: (off) => hashDropout(off),
    padId: 0,
    scaler: ok2,
  });
  ok(!r2.skipped && Number.isFinite(r2.norm));
  deepStrictEqual(ok2.state(), { scale: 4096, growthTracker: 1, skippedSteps: 0 });
  strictEqual(opt.stepCount, 1);
  ok([...vars].some(([n, v]) => v.dataSync()[0] !== before.get(n)![0]), "weights moved");
  sm.dispose();
});

Deno.test("scaled fp16 gradients, unscaled, match the fp32 gradients of the same batch within fp16 tolerance", async () => {
  await useBackend("wasm");
  const { model, sm, vars, batch } = await setup();
  const tb = () => ({
    inputIds: tf.tensor2d(batch.inputIds, [batch.rows, batch.seqLen], "int32"),
    attentionMask: tf.tensor2d(batch.attentionMask, [batch.rows, batch.seqLen], "int32"),
    tokenTypeIds: tf.tensor2d(batch.tokenTypeIds, [batch.rows, batch.seqLen], "int32"),
    numSent: 2 as const,
  });
  const b32 = tb(), b16 = tb();
  const f32 = lossAndGrads(sm, vars, b32, (off) => hashDropout(off), 0);
  const sm16 = new SimcseModel(model, { ...sm.opts, precision: "fp16" });
  const scaler = new LossScaler({ initScale: 2 ** 10 });
  const f16 = lossAndGrads(sm16, vars, b16, (off) => hashDropout(off), 0, scaler.scale);
  assertClose(f16.loss.dataSync(), f32.loss.dataSync(), 1e-2, "loss (returned unscaled)");
  const { grads, finite } = scaler.unscale(f16.grads);
  ok(finite);
  for (const [n, g] of f32.grads) {
    if (n.endsWith("attention.self.key.bias")) continue; // mathematically zero; fp16 noise only
    assertClose(grads.get(n)!.dataSync(), g.dataSync(), 5e-2, n, 1);
  }
  tf.dispose([f32.loss, f16.loss, ...f32.grads.values(), ...grads.values(), b32.inputIds, b32.attentionMask]);
  tf.dispose([b32.tokenTypeIds, b16.inputIds, b16.attentionMask, b16.tokenTypeIds]);
  sm.dispose();
});
