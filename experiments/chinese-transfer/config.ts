/**
 * Presets for SimCSE on Chinese (SimCSE-jittor's transfer experiment; docs/SIMCSE.md §d.3): unsupervised
 * training on the first column of a task's train split, model selection on the valid split's Spearman
 * (cosine vs the 0/1 label), the final score on test.
 *
 * - `seed`: bert-base-chinese, batch 64, lr 3e-5, max length 32, 1 epoch, dropout 0.1, evaluation every 5
 *   steps (LCQMC) or 125 (PAWS-X), pooler `cls` (+ MLP in training only) or `avg` — the seed's scripts.
 *   Launch: `deno task fetch bert-base-chinese senteval_cn && deno task chinese --preset seed`.
 *   Expected (seed, test Spearman × 100): LCQMC 63.55 (cls) / 61.75 (avg); PAWS-X 12.37 / 8.66.
 * - `cpu`: a small BERT (L2/H128) initialised at random with bert-base-chinese's vocabulary, minutes on 2
 *   cores. The train splits are not on these machines: when a train split is absent, it trains on the valid
 *   split's first column and the run record and the table say so.
 *
 * @module
 */
import { fetchedModelDir, generatedModelDir } from "../../lib/model/model_dirs.ts";
import { BASE_UNSUP, type TrainConfig } from "../../lib/train/train_config.ts";

export type ZhTask = "lcqmc" | "pawsx";
export type ZhPooler = "cls" | "avg";
export type ZhPreset = "seed" | "cpu";

const FILE: Record<ZhTask, string> = { lcqmc: "zh/lcqmc/LCQMC", pawsx: "zh/pawsx/PAWSX" };
const TASK: Record<ZhTask, "LCQMC" | "PAWSX"> = { lcqmc: "LCQMC", pawsx: "PAWSX" };

/** Path of a split of a task's `.data` files. */
export function splitFile(dataDir: string, task: ZhTask, split: "train" | "valid" | "test"): string {
  return `${dataDir}/${FILE[task]}.${split}.data`;
}

/** A preset for one task and pooler; `trainSplit` says which split the sentences come from. */
export function preset(
  name: ZhPreset,
  task: ZhTask,
  pooler: ZhPooler,
  dataDir: string,
  trainSplit: "train" | "valid",
): TrainConfig {
  const common = {
    ...BASE_UNSUP,
    experiment: "chinese-transfer",
    dataDir,
    trainFile: splitFile(dataDir, task, trainSplit),
    poolerType: pooler,
    mlpOnlyTrain: pooler === "cls",
    metricForBestModel: `${task}_spearman` as const,
    finalEvalTasks: [TASK[task]],
    evalInitialModel: true,
    dropout: 0.1,
    note: trainSplit === "valid"
      ? `the ${
        TASK[task]
      } train split is absent here: trained on the first column of the valid split (also used for selection)`
      : undefined,
  };
  switch (name) {
    case "seed":
      return {
        ...common,
        preset: `seed-${task}-${pooler}`,
        modelDir: fetchedModelDir(dataDir, "bert-base-chinese"),
        outputDir: `runs/chinese-${task}-${pooler}`,
        evalSteps: task === "lcqmc" ? 5 : 125,
        saveSteps: 125,
      };
    case "cpu":
      return {
        ...common,
        preset: `cpu-${task}-${pooler}`,
        modelDir: "",
        randomInit: {
          tokenizerDir: generatedModelDir("bert-base-chinese-vocab"),
          hiddenSize: 128,
          numHiddenLayers: 2,
          numAttentionHeads: 2,
          intermediateSize: 512,
          maxPositionEmbeddings: 512,
        },
        outputDir: `runs/chinese-cpu-${task}-${pooler}`,
        learningRate: 5e-4,
        evalSteps: 25,
        saveSteps: 25,
      };
    default: {
      const never: never = name;
      throw new Error(`unknown preset ${never}`);
    }
  }
}
