/**
 * Presets for reproducing unsupervised SimCSE-BERT (Gao et al. 2021, Table 5: 76.25 STS Avg).
 *
 * - `paper`: the official `run_unsup_example.sh` (bert-base-uncased, wiki1m, lr 3e-5, batch 64,
 *   max length 32, 1 epoch = 15,625 steps, STS-B dev every 125 steps, cls + mlp_only_train).
 *   Launch: `deno task fetch bert-base-uncased wiki1m senteval && deno task reproduce --preset paper`.
 *   Expected: STS-B dev ≈ 82.5, test Avg ≈ 76.25 (paper); hours on a GPU, days on a CPU.
 * - `cpu`: runs end to end on a 2-core CPU in minutes with the data in `../shared/data`: a small BERT
 *   (L2/H128) initialised at random (no pretrained weights can be downloaded on such machines) with
 *   bert-base-uncased's vocabulary, trained on the 11,914-sentence wiki1m sample for one epoch
 *   (187 steps). It shows the method working (loss down, STS-B dev well above the untrained model), not
 *   the paper's numbers.
 *
 * @module
 */
import { BASE_UNSUP, type TrainConfig } from "../../lib/train/train_config.ts";

export type PresetName = "paper" | "cpu";

/** Build a preset for a data folder (`--data-dir` / `SIMCSE_DATA_DIR` / `data`). */
export function preset(name: PresetName, dataDir: string): TrainConfig {
  switch (name) {
    case "paper":
      return {
        ...BASE_UNSUP,
        preset: "paper",
        dataDir,
        modelDir: "data/models/bert-base-uncased",
        trainFile: `${dataDir}/wiki/wiki1m_for_simcse.txt`,
        outputDir: "runs/reproduction-paper",
      };
    case "cpu":
      return {
        ...BASE_UNSUP,
        preset: "cpu",
        dataDir,
        modelDir: "",
        randomInit: {
          tokenizerDir: "data/models/bert-base-uncased-vocab",
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
