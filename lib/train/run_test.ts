import { deepStrictEqual, ok } from "node:assert/strict";
import { useBackend } from "../kernels/backend.ts";
import { TESTDATA } from "../../testing/fixtures.ts";
import { resolveDataDir } from "../eval/sts_data.ts";
import { BASE_UNSUP, type TrainConfig } from "./train_config.ts";
import { buildModel, train } from "./run.ts";
import { trainStep } from "./loop.ts";
import { skipBackend, TEST_BACKENDS } from "../../testing/backends.ts";
import { loadTrainFile } from "../data/train_corpus.ts";
import { batchIndices, collate, epochOrder, tokenizeExamples } from "../data/batches.ts";
import { SimcseModel } from "../simcse/simcse_model.ts";
import { MlpHead } from "../simcse/mlp_head.ts";
import { AdamW, linearSchedule } from "./adamw.ts";
import { LossScaler, type LossScalerState } from "./loss_scaler.ts";
import { loadTrainState, saveTrainState, type TrainerState } from "./train_state.ts";
import { seededDropout } from "../ops/dropout.ts";

const DATA = resolveDataDir(
  undefined,
  (k) =>
    Deno.env.get(k) ??
      (k === "SIMCSE_DATA_DIR" ? new URL("../../../shared/data", import.meta.url).pathname : undefined),
);
const haveData = await Deno.stat(`${DATA}/senteval/STS/STSBenchmark/sts-dev.csv`).then(
  () => true,
  () => false,
);
if (!haveData) console.warn(`trainer tests skipped: no STS-B dev data under ${DATA} (set SIMCSE_DATA_DIR)`);

async function tinyConfig(dir: string): Promise<TrainConfig> {
  const sentences = [
    "a man is playing a guitar .",
    "a woman is slicing an onion .",
    "two dogs play in the snow .",
    "the cat sat .",
    "hello",
    "a man is playing .",
    "a woman is playing a guitar .",
    "the dogs sat in the snow .",
    "two men play .",
    "an onion .",
    "the woman sat .",
    "hello man .",
  ];
  await Deno.writeTextFile(`${dir}/train.txt`, sentences.join("\n") + "\n");
  return {
    ...BASE_UNSUP,
    experiment: "test",
    preset: "tiny",
    modelDir: `${TESTDATA}bert/tiny-safetensors`,
    trainFile: `${dir}/train.txt`,
    outputDir: `${dir}/out`,
    dataDir: DATA,
    batchSize: 4,
    learningRate: 1e-3,
    numTrainEpochs: 2, // 6 steps, crossing an epoch boundary
    evalSteps: 3,
    saveSteps: 3,
    finalEvalTasks: [],
  };
}

function losses(runDir: string): { step: number; kind: string; loss?: number; STSBenchmark?: number }[] {
  return Deno.readTextFileSync(`${runDir}/metrics.jsonl`).trim().split("\n").map((l) => JSON.parse(l));
}

Deno.test({
  name: "a run stopped at step 4 and resumed reaches exactly the metrics of an uninterrupted run",
  ignore: !haveData,
  fn: async () => {
    await useBackend("wasm");
    const a = await Deno.makeTempDir(), b = await Deno.makeTempDir();
    const full = await train(await tinyConfig(a), {
      backend: "wasm",
      resultsDir: `${a}/results`,
      progress: false,
    });
    deepStrictEqual(full.status, "completed");
    const cfgB = await tinyConfig(b);
    cfgB.trainFile = `${a}/train.txt`; // identical config text apart from output paths
    const cfgA = await tinyConfig(a);
    cfgB.outputDir = `${b}/out`;
    const first = await train({ ...cfgA, outputDir: cfgB.outputDir }, {
      backend: "wasm",
      resultsDir: `${b}/results`,
      progress: false,
      stopAfterStep: 4,
    });
    deepStrictEqual(first.status, "interrupted");
    const resumed = await train({ ...cfgA, outputDir: cfgB.outputDir }, {
      backend: "wasm",
      resultsDir: `${b}/results`,
      progress: false,
      resume: true,
    });
    deepStrictEqual(resumed.status, "completed");
    deepStrictEqual(resumed.runDir.split("/").pop(), first.runDir.split("/").pop());
    const want = losses(full.runDir), got = losses(resumed.runDir);
    deepStrictEqual(
      got.map((e) => [e.step, e.kind, e.loss, e.STSBenchmark]),
      want.map((e) => [e.step, e.kind, e.loss, e.STSBenchmark]),
    );
    deepStrictEqual(resumed.bestMetric, full.bestMetric);
    ok(want.filter((e) => e.kind === "eval").length === 3, "evaluations at steps 0, 3, 6");
    // Every dev evaluation logs SimCSE's Figure 2 coordinates: ℓ_align in [0, 4] (squared distance of
    // unit vectors), ℓ_uniform in [-8, 0] (log of a mean of exp(-2·d²) with d² in [0, 4]).
    for (
      const e of want.filter((e) => e.kind === "eval") as unknown as { align: number; uniform: number }[]
    ) {
      ok(e.align >= 0 && e.align <= 4, `align ${e.align}`);
      ok(e.uniform >= -8 && e.uniform <= 0, `uniform ${e.uniform}`);
    }
    deepStrictEqual(
      got.map((e) => (e as unknown as { align?: number }).align),
      want.map((e) => (e as unknown as { align?: number }).align),
      "align resumes exactly too",
    );
    await Deno.remove(a, { recursive: true });
    await Deno.remove(b, { recursive: true });
  },
});

/**
 * The resume path at the level of training steps, on every backend (cheap enough for webgpu on lavapipe,
 * where the STS-B dev evaluations of the full run above would take minutes): 6 steps straight vs 4 steps,
 * `saveTrainState`, a fresh model and optimizer loaded with `loadTrainState`, 2 more steps. Losses,
 * gradient norms and final parameters must agree bit for bit, with the fp16 loss scaler's state as well.
 */
for (const backend of TEST_BACKENDS) {
  for (const precision of ["fp32", "fp16", "bf16"] as const) {
    const fp16 = precision === "fp16";
    Deno.test({
      name: `${
        precision === "fp32" ? "" : `${precision} `
      }training steps on ${backend}: 4 + save/load + 2 equals 6 straight, bit for bit`,
      // fp16 on cpu/wasm: run_fp16_test.ts; the bf16 ops read their inputs synchronously (cpu and wasm only).
      ignore: skipBackend(backend) || (fp16 && backend !== "webgpu") ||
        (precision === "bf16" && backend === "webgpu"),
      fn: async () => {
        await useBackend(backend);
        const dir = await Deno.makeTempDir();
        const cfg = await tinyConfig(dir);
        const examples = await loadTrainFile(cfg.trainFile);
        const steps = 6, perEpoch = Math.ceil(examples.rows.length / cfg.batchSize);
        const run = async (from: number, to: number, resumeFrom?: string) => {
          const { encoder: bert, tokenizer } = await buildModel(cfg);
          const data = tokenizeExamples(examples, tokenizer, cfg.maxSeqLength);
          const sm = new SimcseModel(bert, {
            poolerType: "cls",
            mlpOnlyTrain: true,
            temp: cfg.temp,
            hardNegativeWeight: 0,
            mlmWeight: 0,
            checkpointLayers: false,
            precision,
          }, MlpHead.init(bert.config.hiddenSize, bert.config.initializerRange, cfg.seed + 1));
          const vars = sm.namedVariables();
          const opt = new AdamW({ weightDecay: 0.01 });
          const scaler = fp16 ? new LossScaler({ initScale: 2 ** 20 }) : undefined; // high: a step may overflow and be skipped
          if (resumeFrom) {
            const st = await loadTrainState(resumeFrom, vars, opt) as TrainerState & {
              lossScaler?: LossScalerState;
            };
            if (scaler && st.lossScaler) scaler.load(st.lossScaler);
          }
          const log: number[] = [];
          for (let s = from; s < to; s++) {
            const order = epochOrder(examples.rows.length, cfg.seed, Math.floor(s / perEpoch));
            const batch = collate(
              data,
              batchIndices(order, s % perEpoch, cfg.batchSize),
              tokenizer.info.padId,
            );
            const r = await trainStep(sm, vars, opt, batch, undefined, {
              lr: 1e-3 * linearSchedule(s, steps, 0),
              maxGradNorm: 1,
              dropoutAt: (off) => seededDropout(cfg.seed, s, off),
              padId: bert.paddingIdx,
              scaler,
              skipNonFinite: precision === "bf16",
            });
            log.push(r.lossValue, r.norm, r.skipped ? 1 : 0);
          }
          const state: TrainerState & { lossScaler?: LossScalerState } = {
            step: to,
            bestMetric: null,
            bestStep: null,
            runId: "x",
            configHash: "x",
            ...(scaler ? { lossScaler: scaler.state() } : {}),
          };
          await saveTrainState(`${dir}/${from}-${to}`, vars, opt, state);
          const params = await Promise.all([...vars.values()].map((v) => v.data()));
          sm.dispose();
          return { log, params, resume: `${dir}/${from}-${to}/resume` };
        };
        const full = await run(0, steps);
        const first = await run(0, 4);
        const second = await run(4, steps, first.resume);
        deepStrictEqual([...first.log, ...second.log], full.log);
        deepStrictEqual(second.params, full.params);
        ok(full.log.every((x) => !Number.isNaN(x) || fp16), "finite losses and norms");
        await Deno.remove(dir, { recursive: true });
      },
    });
  }
}

Deno.test({
  name:
    "fp16 training step on webgpu: the gradient norm is that of the unscaled gradients (loss scale 1 vs 2^8)",
  ignore: skipBackend("webgpu"),
  fn: async () => {
    await useBackend("webgpu");
    const dir = await Deno.makeTempDir();
    const cfg = await tinyConfig(dir);
    const examples = await loadTrainFile(cfg.trainFile);
    const norms: number[] = [];
    for (const initScale of [1, 2 ** 8]) {
      const { encoder: bert, tokenizer } = await buildModel(cfg);
      const data = tokenizeExamples(examples, tokenizer, cfg.maxSeqLength);
      const sm = new SimcseModel(bert, {
        poolerType: "cls",
        mlpOnlyTrain: true,
        temp: cfg.temp,
        hardNegativeWeight: 0,
        mlmWeight: 0,
        checkpointLayers: false,
        precision: "fp16",
      }, MlpHead.init(bert.config.hiddenSize, bert.config.initializerRange, cfg.seed + 1));
      const batch = collate(
        data,
        batchIndices(epochOrder(examples.rows.length, 1, 0), 0, 4),
        tokenizer.info.padId,
      );
      const r = await trainStep(sm, sm.namedVariables(), new AdamW(), batch, undefined, {
        lr: 1e-3,
        maxGradNorm: 1,
        dropoutAt: (off) => seededDropout(1, 0, off),
        padId: bert.paddingIdx,
        scaler: new LossScaler({ initScale }),
      });
      ok(!r.skipped && Number.isFinite(r.norm), `scale ${initScale}: step taken (${JSON.stringify(r)})`);
      norms.push(r.norm);
      sm.dispose();
    }
    // Scaling by a power of two is exact in binary16 away from overflow and subnormals: same norm.
    ok(Math.abs(norms[0] - norms[1]) <= 1e-3 * norms[0], `norms ${norms[0]} vs ${norms[1]}`);
    await Deno.remove(dir, { recursive: true });
  },
});
