/**
 * `BertConfig`: the fields of a Hugging Face `config.json` that the BERT forward pass needs, read
 * with validation (a bad or missing field names the file and the key).
 *
 * @example
 * ```ts
 * import { bertConfigFromJson } from "./bert_config.ts";
 * const cfg = bertConfigFromJson({ model_type: "bert", vocab_size: 100, hidden_size: 32,
 *   num_hidden_layers: 2, num_attention_heads: 4, intermediate_size: 64 }, "config.json");
 * console.log(cfg.layerNormEps); // 1e-12 (HF default)
 * ```
 * @module
 */
import { inputError } from "../runtime/printable.ts";

export interface BertConfig {
  /** Word-piece vocabulary size (bert-base-uncased: 30522). */
  vocabSize: number;
  /** Width H (base: 768). */
  hiddenSize: number;
  /** Number of transformer layers (base: 12). */
  numHiddenLayers: number;
  /** Attention heads; H must be divisible by it (base: 12). */
  numAttentionHeads: number;
  /** FFN width (base: 3072). */
  intermediateSize: number;
  /** FFN activation: "gelu" is the exact erf form HF uses for BERT. */
  hiddenAct: "gelu" | "gelu_new" | "relu";
  /** Dropout on embeddings and both residual branches (0.1). */
  hiddenDropoutProb: number;
  /** Dropout on attention probabilities (0.1). */
  attentionProbsDropoutProb: number;
  /** Learned absolute positions (512). */
  maxPositionEmbeddings: number;
  /** Segment vocabulary (2). */
  typeVocabSize: number;
  /** LayerNorm epsilon: HF BertConfig default 1e-12. */
  layerNormEps: number;
  /** Std of new-parameter init (0.02), used for the SimCSE MLP head. */
  initializerRange: number;
  /** Id of [PAD] (0). */
  padTokenId: number;
}

const ACTS = ["gelu", "gelu_new", "relu"] as const;

function num(json: Record<string, unknown>, key: string, file: string, fallback?: number): number {
  const v = json[key];
  if (v === undefined && fallback !== undefined) return fallback;
  if (typeof v !== "number" || !Number.isFinite(v)) {
    throw inputError(
      v === undefined ? "missing required field" : `expected a number, got ${JSON.stringify(v)}`,
      { file, key },
    );
  }
  return v;
}

/**
 * Upper bounds for the sizes: far beyond any BERT, small enough that a hostile config.json cannot
 * make a random-init model allocate without limit (the products are checked too, see below).
 */
const MAX_SIZE: Readonly<Record<string, number>> = {
  vocab_size: 2 ** 22,
  hidden_size: 2 ** 16,
  num_hidden_layers: 1024,
  num_attention_heads: 2 ** 16,
  intermediate_size: 2 ** 18,
  max_position_embeddings: 2 ** 20,
  type_vocab_size: 2 ** 16,
};

/** Most parameters a config may describe (4 G floats = 16 GB, far above BERT-large's 340 M). */
const MAX_PARAMS = 2 ** 32;

function posInt(json: Record<string, unknown>, key: string, file: string, fallback?: number): number {
  const v = num(json, key, file, fallback);
  if (!Number.isInteger(v) || v <= 0) {
    throw inputError(`expected a positive integer, got ${v}`, { file, key });
  }
  if (v > (MAX_SIZE[key] ?? Infinity)) {
    throw inputError(`${v} is implausibly large (at most ${MAX_SIZE[key]})`, { file, key });
  }
  return v;
}

/** Read a BERT config from parsed `config.json` (HF field names). */
export function bertConfigFromJson(json: Record<string, unknown>, file: string): BertConfig {
  const modelType = json.model_type;
  if (modelType !== undefined && modelType !== "bert") {
    throw inputError(`model_type ${JSON.stringify(modelType)} is not a BERT model`, {
      file,
      key: "model_type",
    });
  }
  const act = json.hidden_act ?? "gelu";
  if (typeof act !== "string" || !(ACTS as readonly string[]).includes(act)) {
    throw inputError(`unsupported hidden_act ${JSON.stringify(act)}; supported: ${ACTS.join(", ")}`, {
      file,
      key: "hidden_act",
    });
  }
  if (json.position_embedding_type !== undefined && json.position_embedding_type !== "absolute") {
    throw inputError(`only absolute position embeddings are supported`, {
      file,
      key: "position_embedding_type",
    });
  }
  const cfg: BertConfig = {
    vocabSize: posInt(json, "vocab_size", file),
    hiddenSize: posInt(json, "hidden_size", file),
    numHiddenLayers: posInt(json, "num_hidden_layers", file),
    numAttentionHeads: posInt(json, "num_attention_heads", file),
    intermediateSize: posInt(json, "intermediate_size", file),
    hiddenAct: act as BertConfig["hiddenAct"],
    hiddenDropoutProb: num(json, "hidden_dropout_prob", file, 0.1),
    attentionProbsDropoutProb: num(json, "attention_probs_dropout_prob", file, 0.1),
    maxPositionEmbeddings: posInt(json, "max_position_embeddings", file, 512),
    typeVocabSize: posInt(json, "type_vocab_size", file, 2),
    layerNormEps: num(json, "layer_norm_eps", file, 1e-12),
    initializerRange: num(json, "initializer_range", file, 0.02),
    padTokenId: num(json, "pad_token_id", file, 0),
  };
  if (cfg.hiddenSize % cfg.numAttentionHeads !== 0) {
    throw inputError(
      `hidden_size ${cfg.hiddenSize} is not a multiple of num_attention_heads ${cfg.numAttentionHeads}`,
      { file, key: "num_attention_heads" },
    );
  }
  for (const key of ["hidden_dropout_prob", "attention_probs_dropout_prob"] as const) {
    const p = num(json, key, file, 0.1);
    if (p < 0 || p >= 1) throw inputError(`dropout must be in [0, 1), got ${p}`, { file, key });
  }
  if (!(cfg.layerNormEps > 0)) {
    throw inputError(`layer_norm_eps must be positive, got ${cfg.layerNormEps}`, {
      file,
      key: "layer_norm_eps",
    });
  }
  if (cfg.initializerRange < 0) {
    throw inputError(`initializer_range must be >= 0, got ${cfg.initializerRange}`, {
      file,
      key: "initializer_range",
    });
  }
  if (!Number.isInteger(cfg.padTokenId) || cfg.padTokenId < 0 || cfg.padTokenId >= cfg.vocabSize) {
    throw inputError(`pad_token_id ${cfg.padTokenId} is not a token id (0..${cfg.vocabSize - 1})`, {
      file,
      key: "pad_token_id",
    });
  }
  const H = cfg.hiddenSize;
  const params = (cfg.vocabSize + cfg.maxPositionEmbeddings + cfg.typeVocabSize) * H +
    cfg.numHiddenLayers * (4 * H * H + 2 * H * cfg.intermediateSize);
  if (params > MAX_PARAMS) {
    throw inputError(`describes about ${params.toExponential(2)} parameters, more than ${MAX_PARAMS}`, {
      file,
    });
  }
  return cfg;
}

/** The `config.json` that Hugging Face `BertModel.from_pretrained` reads back. */
export function bertConfigToJson(cfg: BertConfig): Record<string, unknown> {
  return {
    architectures: ["BertModel"],
    model_type: "bert",
    vocab_size: cfg.vocabSize,
    hidden_size: cfg.hiddenSize,
    num_hidden_layers: cfg.numHiddenLayers,
    num_attention_heads: cfg.numAttentionHeads,
    intermediate_size: cfg.intermediateSize,
    hidden_act: cfg.hiddenAct,
    hidden_dropout_prob: cfg.hiddenDropoutProb,
    attention_probs_dropout_prob: cfg.attentionProbsDropoutProb,
    max_position_embeddings: cfg.maxPositionEmbeddings,
    type_vocab_size: cfg.typeVocabSize,
    layer_norm_eps: cfg.layerNormEps,
    initializer_range: cfg.initializerRange,
    pad_token_id: cfg.padTokenId,
    position_embedding_type: "absolute",
  };
}
