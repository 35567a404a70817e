/**
 * The typed training configuration (SimCSE `train.py` flags, camel-cased) with the official
 * defaults (docs/SIMCSE.md §b.1, §e.1). Presets in `experiments/<name>/config.ts` spread `BASE_UNSUP`.
 *
 * @example
 * ```ts
 * import { BASE_UNSUP, type TrainConfig } from "./train_config.ts";
 * const cfg: TrainConfig = { ...BASE_UNSUP, modelDir: "data/models/bert-base-uncased",
 *   trainFile: "data/wiki/wiki1m_for_simcse.txt", outputDir: "runs/x" };
 * ```
 * @module
 */
import type { PoolerType } from "../pooling.ts";
import type { Precision } from "../model/precision.ts";
import { STS_TASKS } from "../eval/sts_eval.ts";

/** A freshly initialised BERT (no pretrained weights), for CPU presets and tests. */
export interface RandomInit {
  /** Folder with the tokenizer files (vocab.txt or tokenizer.json). */
  tokenizerDir: string;
  hiddenSize: number;
  numHiddenLayers: number;
  numAttentionHeads: number;
  intermediateSize: number;
  maxPositionEmbeddings: number;
}

export interface TrainConfig {
  /** Experiment name: run records go to `results/<experiment>/<runId>/`. */
  experiment: string;
  /** Preset name, recorded in the run record. */
  preset: string;
  /** HF checkpoint folder to start from (`--model_name_or_path`). */
  modelDir: string;
  /** Train from random weights instead of `modelDir` (CPU presets; no download needed). */
  randomInit?: RandomInit;
  /** `.txt` (one sentence per line) or `.csv` with 1-3 columns (`--train_file`). */
  trainFile: string;
  /** Read only the first N examples of the train file (CPU presets). */
  maxTrainExamples?: number;
  /** Where the best checkpoint (HF format) and the resume state go. */
  outputDir: string;
  /** STS / SICK data root (see `resolveDataDir`). */
  dataDir: string;
  learningRate: number;
  batchSize: number;
  maxSeqLength: number;
  numTrainEpochs: number;
  /** Stop after this many optimizer steps (overrides epochs when set). */
  maxSteps?: number;
  evalSteps: number;
  temp: number;
  poolerType: PoolerType;
  mlpOnlyTrain: boolean;
  hardNegativeWeight: number;
  doMlm: boolean;
  mlmWeight: number;
  mlmProbability: number;
  weightDecay: number;
  warmupSteps: number;
  /** Global L2-norm gradient clipping threshold; 0 switches clipping off (HF: only when > 0). */
  maxGradNorm: number;
  /** Dropout rate override (SimCSE-jittor `--dropout_rate`); undefined keeps the checkpoint's. */
  dropout?: number;
  seed: number;
  /** Metric for model selection: STS-B dev Spearman (English) or a Chinese valid split. */
  metricForBestModel: "stsb_spearman" | "lcqmc_spearman" | "pawsx_spearman";
  /** Run the final test evaluation on these tasks after training. */
  finalEvalTasks: readonly string[];
  /** Write a resume state every N steps (besides every evaluation). */
  saveSteps: number;
  /** Also score the model before training on `finalEvalTasks` (the "before" row of a table). */
  evalInitialModel: boolean;
  /** Free-form note recorded in the run record (e.g. which split stood in for a missing train split). */
  note?: string;
  /**
<<<<<<< HEAD
   * Matmul precision of the training steps (`--precision`; SimCSE-jittor's `--fp16` is `fp16`): in
   * fp16 and bf16 the encoder's Linear layers and attention matmuls run in that precision with fp32
   * master weights; fp16 adds dynamic loss scaling. Evaluation stays fp32. Default "fp32".
=======
   * The `--set key=value` overrides (and `--fp16`) applied to the preset, as given; recorded so that
   * result tables publish only runs of the unmodified preset (`lib/results/preset_runs.ts`).
   */
  overrides?: string[];
  /**
   * fp16 mixed precision (SimCSE-jittor `--fp16`): encoder Linear layers and attention matmuls run in
   * fp16 with fp32 master weights and dynamic loss scaling; evaluation stays fp32.
>>>>>>> c452788 (Results tables publish only completed runs of an unmodified preset: run.ts records --set overrides in config.json, lib/results/preset_runs.ts (legacy records compared with the preset), other runs listed apart with their overrides; committed RESULTS.md unchanged)
   */
  precision: Precision;
  /**
   * Activation checkpointing (HF `gradient_checkpointing`): each encoder layer's activations are
   * recomputed in the backward pass instead of kept. Cuts a BERT-base step's memory by GBs for about
   * one extra forward pass. fp32 only (ignored with fp16).
   */
  gradientCheckpointing: boolean;
}

/** Official unsupervised SimCSE-BERT defaults (run_unsup_example.sh; HF 4.2.1 Trainer defaults). */
export const BASE_UNSUP: Omit<TrainConfig, "modelDir" | "trainFile" | "outputDir"> = Object.freeze(
  {
    experiment: "reproduction",
    preset: "custom",
    dataDir: "data",
    learningRate: 3e-5,
    batchSize: 64,
    maxSeqLength: 32,
    numTrainEpochs: 1,
    evalSteps: 125,
    temp: 0.05,
    poolerType: "cls",
    mlpOnlyTrain: true,
    hardNegativeWeight: 0,
    doMlm: false,
    mlmWeight: 0.1,
    mlmProbability: 0.15,
    weightDecay: 0,
    warmupSteps: 0,
    maxGradNorm: 1.0,
    seed: 42,
    metricForBestModel: "stsb_spearman",
    finalEvalTasks: STS_TASKS,
    saveSteps: 125,
    evalInitialModel: false,
    precision: "fp32",
    gradientCheckpointing: false,
    // Optional knobs, listed so that `--set` knows them.
    maxSteps: undefined,
    maxTrainExamples: undefined,
    dropout: undefined,
    note: undefined,
  } as const,
);
