import { ok } from "node:assert/strict";
import { tf } from "../runtime/tf.ts";
import { useBackend } from "../kernels/backend.ts";
import { loadBert } from "../model/bert_checkpoint.ts";
import { isLinearKernel } from "../model/bert.ts";
import {
  type ArrayFixture,
  assertClose,
  hashDropout,
  readFixture,
  TESTDATA,
} from "../../testing/fixtures.ts";
import { MlpHead } from "../simcse/mlp_head.ts";
import { MlmHead } from "../simcse/mlm_head.ts";
import { SimcseModel, type TrainBatch } from "../simcse/simcse_model.ts";
import { lossAndGrads, trainStep } from "./loop.ts";
import { AdamW, clipFactor, globalGradNorm } from "./adamw.ts";
import { skipBackend, TEST_BACKENDS } from "../../testing/backends.ts";

interface StepFixture {
  input_ids: ArrayFixture;
  attention_mask: ArrayFixture;
  token_type_ids: ArrayFixture;
  temp: number;
  mlp: Record<string, ArrayFixture>;
  loss: number;
  grads: Record<string, ArrayFixture>;
  hard_negative_weight?: number;
  mlm_input_ids?: ArrayFixture;
  mlm_labels?: ArrayFixture;
  mlm_weight?: number;
  lm_head?: Record<string, ArrayFixture>;
  clip?: { total_norm_before_clip: number };
  optimizer?: { lr: number; weight_decay: number };
  params_after_step?: Record<string, ArrayFixture>;
  reference_checks?: { mathematically_zero_grads?: string[] };
}

/** Our kernels are [in, out]; the fixture (HF) stores [out, in]. Read asynchronously (webgpu). */
async function asHf(name: string, t: tf.Tensor): Promise<Float32Array> {
  // BERT Linear weights, mlp.dense.weight and lm_head.transform.dense.weight are kernels; the MLM decoder is [V, H] as in HF.
  if (!(isLinearKernel(name) && name !== "lm_head.decoder.weight" && t.rank === 2)) {
    return await t.data() as Float32Array;
  }
  const tt = tf.transpose(t);
  const v = await tt.data() as Float32Array;
  tt.dispose();
  return v;
}

function hfToKernel(a: ArrayFixture): tf.Tensor {
  return tf.tidy(() => tf.transpose(tf.tensor2d(a.data, a.shape as [number, number])));
}

async function setup(fx: StepFixture, numSent: 2 | 3, checkpointLayers = false) {
  const { model } = await loadBert(`${TESTDATA}bert/tiny-safetensors`);
  const H = model.config.hiddenSize;
  const mlp = MlpHead.fromHf(
    new Float32Array(fx.mlp["mlp.dense.weight"].data),
    new Float32Array(fx.mlp["mlp.dense.bias"].data),
    H,
  );
  let mlm: MlmHead | undefined;
  if (fx.lm_head) {
    const params = new Map<string, tf.Variable>();
    for (const [n, a] of Object.entries(fx.lm_head)) {
      const t = n === "lm_head.transform.dense.weight" ? hfToKernel(a) : tf.tensor(a.data, a.shape);
      params.set(n, tf.variable(t));
      t.dispose();
    }
    mlm = new MlmHead(params, model.config.layerNormEps);
  }
  const sm = new SimcseModel(
    model,
    {
      poolerType: "cls",
      mlpOnlyTrain: true,
      temp: fx.temp,
      hardNegativeWeight: fx.hard_negative_weight ?? 0,
      mlmWeight: fx.mlm_weight ?? 0.1,
      checkpointLayers,
    },
    mlp,
    mlm,
  );
  const [R, L] = fx.input_ids.shape;
  const batch: TrainBatch = {
    inputIds: tf.tensor2d(fx.input_ids.data, [R, L], "int32"),
    attentionMask: tf.tensor2d(fx.attention_mask.data, [R, L], "int32"),
    tokenTypeIds: tf.tensor2d(fx.token_type_ids.data, [R, L], "int32"),
    numSent,
    mlmInputIds: fx.mlm_input_ids ? tf.tensor2d(fx.mlm_input_ids.data, [R, L], "int32") : undefined,
    mlmLabels: fx.mlm_labels ? tf.tensor1d(fx.mlm_labels.data, "int32") : undefined,
  };
  return { sm, batch, padId: model.config.padTokenId };
}

async function checkGrads(fx: StepFixture, grads: Map<string, tf.Tensor>) {
  const zero = new Set(fx.reference_checks?.mathematically_zero_grads ?? []);
  for (const [name, want] of Object.entries(fx.grads)) {
    const g = grads.get(name);
    if (!g) throw new Error(`no gradient for ${name}`);
    const got = await asHf(name, g);
    // Relative to the tensor's largest entry (the fixture's own float32-vs-float64 spread is 2.4e-6 of it).
    // Key-bias gradients are exactly 0 in theory (softmax ignores a per-row constant): absolute 1e-6.
    if (zero.has(name)) assertClose(got, new Float32Array(want.data.length), 1e-6, name, 0);
    else assertClose(got, want.data, 1e-4, `grad ${name}`, 1);
  }
}

const CASES: [string, string, 2 | 3][] = [
  ["unsupervised", "bert/train_step.json", 2],
  ["supervised with hard negatives (weight 0.5)", "bert/train_step_sup.json", 3],
  ["unsupervised + MLM auxiliary loss", "bert/train_step_mlm.json", 2],
];

for (const backend of TEST_BACKENDS) {
  for (const [what, file, numSent] of CASES) {
    for (const checkpoint of [false, true]) {
      const how = checkpoint ? " with activation checkpointing" : "";
      Deno.test({
        name: `SimCSE ${what} on ${backend}${how}: loss and every gradient match PyTorch within 1e-4`,
        ignore: skipBackend(backend),
        fn: async () => {
          await useBackend(backend);
          const fx = readFixture<StepFixture>(file);
          const { sm, batch, padId } = await setup(fx, numSent, checkpoint);
          const vars = sm.namedVariables();
          const { loss, grads } = lossAndGrads(sm, vars, batch, () => hashDropout(), padId);
          assertClose([(await loss.data())[0]], [fx.loss], 1e-5, "loss");
          await checkGrads(fx, grads);
          tf.dispose([loss, ...grads.values()]);
          sm.dispose();
        },
      });
    }
  }
}

for (const backend of TEST_BACKENDS) {
  Deno.test({
    name: `gradient clipping to 1.0 and one HF AdamW step match PyTorch on ${backend}`,
    ignore: skipBackend(backend),
    fn: async () => {
      await useBackend(backend);
      const fx = readFixture<StepFixture>("bert/train_step.json");
      const { sm, batch, padId } = await setup(fx, 2);
      const vars = sm.namedVariables();
      const { loss, grads } = lossAndGrads(sm, vars, batch, () => hashDropout(), padId);
      // cpu reads the gradients in place; other backends through one asynchronous read, as trainStep does.
      const norm = backend === "cpu" ? globalGradNorm(grads.values()) : globalGradNorm(
        await Promise.all([...grads.values()].map((g) => g.data() as Promise<Float32Array>)),
      );
      assertClose([norm], [fx.clip!.total_norm_before_clip], 1e-5, "total grad norm");
      const scale = clipFactor(norm, 1.0);
      if (!(scale < 1)) throw new Error(`the fixture's gradients should need clipping (norm ${norm})`);
      const opt = new AdamW({ weightDecay: fx.optimizer!.weight_decay });
      // As trainStep: cpu in place, webgpu on the device (one WGSL dispatch per parameter), wasm from
      // one asynchronous read of gradients and parameters.
      if (backend === "cpu") opt.step(vars, grads, fx.optimizer!.lr, scale);
      else if (backend === "webgpu") opt.stepOnDevice(vars, grads, fx.optimizer!.lr, scale);
      else {
        const names = [...grads.keys()];
        const read = await Promise.all(
          names.flatMap((n) => [grads.get(n)!.data(), vars.get(n)!.data()]),
        ) as Float32Array[];
        const gv = new Map(names.map((n, i) => [n, read[2 * i]]));
        const pv = new Map(names.map((n, i) => [n, read[2 * i + 1]]));
        opt.stepValues(vars, gv, pv, fx.optimizer!.lr, scale);
      }
      for (const [name, want] of Object.entries(fx.params_after_step!)) {
        const got = await asHf(name, vars.get(name)!);
        // Absolute 1e-5 (floor = 1 / max|param|): the fixture's float32-vs-float64 spread is 4.4e-6.
        // Key biases have pure-noise gradients, which AdamW's normalisation amplifies: 1e-4 of the max there (3.6e-6 absolute in the fixture's own f32-vs-f64 run).
        assertClose(
          got,
          want.data,
          name.includes("attention.self.key.bias") ? 1e-4 : 1e-5,
          `param after step ${name}`,
          1 / Math.max(1e-12, ...Array.from(want.data, Math.abs)), // error / 1: absolute
        );
      }
      tf.dispose([loss, ...grads.values()]);
      sm.dispose();
    },
  });
}

Deno.test({
  name:
    "trainStep on cpu, the word embeddings' gradient as rows: the loss, the norm and one clipped HF AdamW step match PyTorch",
  ignore: skipBackend("cpu"),
  fn: async () => {
    await useBackend("cpu");
    const fx = readFixture<StepFixture>("bert/train_step.json");
    const { sm, batch, padId } = await setup(fx, 2);
    const vars = sm.namedVariables();
    const [rows, seqLen] = fx.input_ids.shape;
    const r = await trainStep(
      sm,
      vars,
      new AdamW({ weightDecay: fx.optimizer!.weight_decay }),
      {
        inputIds: Int32Array.from(fx.input_ids.data),
        attentionMask: Int32Array.from(fx.attention_mask.data),
        tokenTypeIds: Int32Array.from(fx.token_type_ids.data),
        rows,
        seqLen,
        numSent: 2,
        batchSize: rows / 2,
      },
      undefined,
      { lr: fx.optimizer!.lr, maxGradNorm: 1, dropoutAt: () => hashDropout(), padId },
    );
    assertClose([r.lossValue], [fx.loss], 1e-5, "loss");
    assertClose([r.norm], [fx.clip!.total_norm_before_clip], 1e-5, "total grad norm");
    ok(fx.params_after_step!["embeddings.word_embeddings.weight"], "the word embeddings are checked");
    for (const [name, want] of Object.entries(fx.params_after_step!)) {
      assertClose(
        await asHf(name, vars.get(name)!),
        want.data,
        name.includes("attention.self.key.bias") ? 1e-4 : 1e-5,
        `param after step ${name}`,
        1 / Math.max(1e-12, ...Array.from(want.data, Math.abs)),
      );
    }
    tf.dispose([batch.inputIds, batch.attentionMask, batch.tokenTypeIds]);
    sm.dispose();
  },
});
