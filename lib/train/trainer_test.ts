import { deepStrictEqual, ok } from "node:assert/strict";
import { useBackend } from "../backend.ts";
import { TESTDATA } from "../testing/fixtures.ts";
import { resolveDataDir } from "../eval/sts_data.ts";
import { BASE_UNSUP, type TrainConfig } from "./train_config.ts";
import { train } from "./run.ts";

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
