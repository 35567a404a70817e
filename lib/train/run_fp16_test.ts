import { deepStrictEqual, ok, strictEqual } from "node:assert/strict";
import { useBackend } from "../kernels/backend.ts";
import { TESTDATA } from "../../testing/fixtures.ts";
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
if (!haveData) {
  console.warn(`fp16 trainer test skipped: no STS-B dev data under ${DATA} (set SIMCSE_DATA_DIR)`);
}

async function fp16Config(dir: string, out: string): Promise<TrainConfig> {
  const sentences = [
    "a man is playing a guitar .",
    "a woman is slicing an onion .",
    "two dogs play in the snow .",
    "the cat sat .",
    "hello man .",
    "a woman is playing a guitar .",
    "the dogs sat in the snow .",
    "two men play .",
  ];
  await Deno.writeTextFile(`${dir}/train.txt`, sentences.join("\n") + "\n");
  return {
    ...BASE_UNSUP,
    experiment: "test",
    preset: "tiny-fp16",
    modelDir: `${TESTDATA}bert/tiny-safetensors`,
    trainFile: `${dir}/train.txt`,
    outputDir: out,
    dataDir: DATA,
    batchSize: 4,
    learningRate: 1e-3,
    maxSteps: 4,
    evalSteps: 4,
    saveSteps: 2,
    finalEvalTasks: [],
    precision: "fp16",
  };
}

interface Entry {
  step: number;
  kind: string;
  loss?: number;
  lossScale?: number;
  skipped?: boolean;
  skippedSteps?: number;
  STSBenchmark?: number;
}

function entries(runDir: string): Entry[] {
  return Deno.readTextFileSync(`${runDir}/metrics.jsonl`).trim().split("\n").map((l) => JSON.parse(l));
}

Deno.test({
  name:
    "fp16 training logs the loss scale and skipped steps, records fp16, and resumes exactly (scaler state included)",
  ignore: !haveData,
  fn: async () => {
    await useBackend("wasm");
    const dir = await Deno.makeTempDir();
    const full = await train(await fp16Config(dir, `${dir}/a`), {
      backend: "wasm",
      resultsDir: `${dir}/results`,
      progress: false,
    });
    strictEqual(full.status, "completed");
    const log = entries(full.runDir).filter((e) => e.kind === "train");
    strictEqual(log.length, 4);
    strictEqual(log[0].lossScale, 65536, "GradScaler's initial scale");
    let skipped = 0;
    for (const [i, e] of log.entries()) {
      ok(typeof e.skipped === "boolean" && Number.isFinite(e.loss));
      if (e.skipped) skipped++;
      strictEqual(e.skippedSteps, skipped, `step ${e.step}: running count of skipped steps`);
      if (i > 0) strictEqual(e.lossScale, log[i - 1].lossScale! * (log[i - 1].skipped ? 0.5 : 1));
    }
    ok(skipped > 0, "the tiny model overflows at 2^16 in its first steps, so skipping is exercised");
    const summary = JSON.parse(Deno.readTextFileSync(`${full.runDir}/summary.json`));
    strictEqual(summary.fp16, true);
    strictEqual(summary.skippedSteps, skipped);
    strictEqual(JSON.parse(Deno.readTextFileSync(`${full.runDir}/config.json`)).config.precision, "fp16");

    const cfgB = await fp16Config(dir, `${dir}/b`);
    const first = await train(cfgB, {
      backend: "wasm",
      resultsDir: `${dir}/results-b`,
      progress: false,
      stopAfterStep: 2,
    });
    strictEqual(first.status, "interrupted");
    const resumed = await train(cfgB, {
      backend: "wasm",
      resultsDir: `${dir}/results-b`,
      progress: false,
      resume: true,
    });
    strictEqual(resumed.status, "completed");
    const pick = (es: Entry[]) =>
      es.map((e) => [e.step, e.kind, e.loss, e.lossScale, e.skippedSteps, e.STSBenchmark]);
    deepStrictEqual(pick(entries(resumed.runDir)), pick(entries(full.runDir)));
    await Deno.remove(dir, { recursive: true });
  },
});
