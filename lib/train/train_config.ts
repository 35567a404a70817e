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
import type { PoolerType } from "../simcse/pooling.ts";
import { parsePrecision, type Precision } from "../ops/precision.ts";
import { STS_TASKS } from "../eval/sts_eval.ts";
import { InputError } from "../runtime/errors.ts";

/** A freshly initialised BERT (no pretrained weights), for CPU presets and tests. */
export interface RandomInit {
  /** Folder with the tokenizer files (vocab.txt or tokenizer.json). */
  tokenizerDir: string;
  /** Width H of the hidden states (BERT `hidden_size`). */
  hiddenSize: number;
  /** Number of transformer layers (`num_hidden_layers`). */
  numHiddenLayers: number;
  /** Attention heads per layer (`num_attention_heads`; must divide `hiddenSize`). */
  numAttentionHeads: number;
  /** Width of each layer's feed-forward block (`intermediate_size`). */
  intermediateSize: number;
  /** Longest input in tokens (`max_position_embeddings`). */
  maxPositionEmbeddings: number;
}

/** Everything a training run needs: the official `train.py` flags, camel-cased, plus this toolkit's own. */
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
  /** Peak learning rate of AdamW, reached after warm-up and decayed linearly to 0 (`--learning_rate`). */
  learningRate: number;
  /** Sentences per optimizer step, each encoded twice (`--per_device_train_batch_size`). */
  batchSize: number;
  /** Truncate each training sentence to this many tokens, special tokens included (`--max_seq_length`). */
  maxSeqLength: number;
  /** Passes over the train file (`--num_train_epochs`). */
  numTrainEpochs: number;
  /** Stop after this many optimizer steps (overrides epochs when set). */
  maxSteps?: number;
  /** Optimizer steps between two dev evaluations (`--eval_steps`). */
  evalSteps: number;
  /** Temperature τ that divides the cosine similarities of the contrastive loss (`--temp`). */
  temp: number;
  /** Pooler used in training (`--pooler_type`); `cls` adds the MLP head. */
  poolerType: PoolerType;
  /** Use the MLP head only in training and drop it at evaluation (`--mlp_only_train`). */
  mlpOnlyTrain: boolean;
  /** Added to the logits of the hard negatives (third column of a `.csv` train file; `--hard_negative_weight`). */
  hardNegativeWeight: number;
  /** Add the masked-language-model auxiliary loss (`--do_mlm`). */
  doMlm: boolean;
  /** Weight λ of the MLM loss in the total loss (`--mlm_weight`). */
  mlmWeight: number;
  /** Fraction of tokens masked for the MLM loss (`--mlm_probability`). */
  mlmProbability: number;
  /** AdamW decoupled weight decay (`--weight_decay`). */
  weightDecay: number;
  /** Steps of linear learning-rate warm-up from 0 (`--warmup_steps`). */
  warmupSteps: number;
  /** Global L2-norm gradient clipping threshold; 0 switches clipping off (HF: only when > 0). */
  maxGradNorm: number;
  /** Dropout rate override (SimCSE-jittor `--dropout_rate`); undefined keeps the checkpoint's. */
  dropout?: number;
  /** Seed of the weight initialisation, the data order and the dropout masks (`--seed`). */
  seed: number;
  /** Metric for model selection: STS-B dev Spearman (English) or a Chinese valid split. */
  metricForBestModel: "stsb_spearman" | "lcqmc_spearman" | "pawsx_spearman";
  /** Run the final test evaluation on these tasks after training. */
  finalEvalTasks: readonly string[];
  /** Write a resume state every N steps (besides every evaluation). */
  saveSteps: number;
  /** Also score the model before training on `finalEvalTasks` (the "before" row of a table). */
  evalInitialModel: boolean;
  /**
   * Log ℓ_align and ℓ_uniform (Wang & Isola 2020; SimCSE's Figure 2) on STS-B dev at every
   * evaluation (`align`, `uniform` in `metrics.jsonl`); English selection only. Default true.
   */
  alignUniform: boolean;
  /** Free-form note recorded in the run record (e.g. which split stood in for a missing train split). */
  note?: string;
  /**
   * The `--set key=value` overrides (and `--precision` / `--fp16`) applied to the preset, as given;
   * recorded so that result tables publish only runs of the unmodified preset (`lib/results/preset_runs.ts`).
   */
  overrides?: string[];
  /**
   * Matmul precision of the training steps (`--precision`; SimCSE-jittor's `--fp16` is `fp16`): in
   * fp16 and bf16 the encoder's Linear layers and attention matmuls run in that precision with fp32
   * master weights; fp16 adds dynamic loss scaling. Evaluation stays fp32. Default "fp32".
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
    alignUniform: true,
    precision: "fp32",
    gradientCheckpointing: false,
    // Optional knobs, listed so that `--set` knows them.
    maxSteps: undefined,
    maxTrainExamples: undefined,
    dropout: undefined,
    note: undefined,
  } as const,
);

/**
 * Check every numeric field of a training config (after `--set` overrides): counts are positive
 * integers, rates and weights finite and in range. A bad value is an {@link InputError} naming the key,
 * before any model or data is loaded.
 */
export function checkTrainConfig(cfg: TrainConfig): void {
  const fail = (key: string, want: string): never => {
    throw new InputError(
      `config key '${key}' must be ${want}, got ${(cfg as unknown as Record<string, unknown>)[key]}`,
    );
  };
  const rules: [keyof TrainConfig, (x: number) => boolean, string, boolean?][] = [
    ["batchSize", (x) => Number.isSafeInteger(x) && x >= 1, "a positive integer"],
    ["maxSeqLength", (x) => Number.isSafeInteger(x) && x >= 2, "an integer >= 2"],
    ["evalSteps", (x) => Number.isSafeInteger(x) && x >= 1, "a positive integer"],
    ["saveSteps", (x) => Number.isSafeInteger(x) && x >= 1, "a positive integer"],
    ["maxSteps", (x) => Number.isSafeInteger(x) && x >= 1, "a positive integer", true],
    ["maxTrainExamples", (x) => Number.isSafeInteger(x) && x >= 1, "a positive integer", true],
    ["warmupSteps", (x) => Number.isSafeInteger(x) && x >= 0, "a non-negative integer"],
    ["seed", (x) => Number.isSafeInteger(x) && x >= 0, "a non-negative integer"],
    ["numTrainEpochs", (x) => Number.isFinite(x) && x > 0, "a positive number"],
    ["learningRate", (x) => Number.isFinite(x) && x >= 0, "a number >= 0"],
    ["temp", (x) => Number.isFinite(x) && x > 0, "a positive number"],
    ["weightDecay", (x) => Number.isFinite(x) && x >= 0, "a number >= 0"],
    ["maxGradNorm", (x) => Number.isFinite(x) && x >= 0, "a number >= 0 (0: no clipping)"],
    ["hardNegativeWeight", (x) => Number.isFinite(x), "a finite number"],
    ["mlmWeight", (x) => Number.isFinite(x) && x >= 0, "a number >= 0"],
    ["mlmProbability", (x) => x > 0 && x <= 1, "in (0, 1]"],
    ["dropout", (x) => x >= 0 && x < 1, "in [0, 1)", true],
  ];
  for (const [key, ok, want, optional] of rules) {
    const v = cfg[key];
    if (v === undefined && optional) continue;
    if (typeof v !== "number" || !ok(v)) fail(key, want);
  }
  parsePrecision(cfg.precision);
}
