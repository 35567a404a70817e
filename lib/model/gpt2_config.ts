/**
 * `Gpt2Config`: the fields of a Hugging Face GPT-2 `config.json` that the forward pass needs, read
 * with validation (a bad or missing field names the file and the key), and written back in the
 * layout transformers 4.2.1 uses. Field names follow the toolkit's common encoder config
 * (`hiddenSize` = `n_embd`, `numHiddenLayers` = `n_layer`, ...).
 *
 * @example
 * ```ts
 * import { gpt2ConfigFromJson } from "./gpt2_config.ts";
 * const cfg = gpt2ConfigFromJson({ model_type: "gpt2", vocab_size: 50257, n_embd: 768, n_layer: 12,
 *   n_head: 12 }, "config.json");
 * console.log(cfg.intermediateSize, cfg.layerNormEps); // 3072 (n_inner null = 4 * n_embd) 0.00001
 * ```
 * @module
 */
import { InputError } from "../runtime/errors.ts";
import type { EncoderConfigCommon } from "./encoder.ts";

export interface Gpt2Config extends EncoderConfigCommon {
  /** Vocabulary size (gpt2: 50257). */
  vocabSize: number;
  /** Width `n_embd` (gpt2: 768, gpt2-medium: 1024). */
  hiddenSize: number;
  /** Blocks `n_layer` (12 / 24). */
  numHiddenLayers: number;
  /** Heads `n_head` (12 / 16); hiddenSize must be divisible by it. */
  numAttentionHeads: number;
  /** MLP width: `n_inner`, or 4 * n_embd when `n_inner` is null. */
  intermediateSize: number;
  /** `n_inner` as in the file (null = default), kept so that saving writes it back. */
  nInner: number | null;
  /** Learned positions `n_positions` (1024): rows of `wpe`. */
  nPositions: number;
  /** Causal-mask size `n_ctx` (1024; defaults to n_positions when absent). */
  nCtx: number;
  /** Longest input: min(n_positions, n_ctx). */
  maxPositionEmbeddings: number;
  /** MLP activation (`gelu_new` = tanh approximation, GPT-2's). */
  activationFunction: "gelu_new" | "gelu" | "relu";
  /** Dropout after each residual branch's c_proj (0.1). */
  residPdrop: number;
  /** Dropout on wte + wpe (0.1). */
  embdPdrop: number;
  /** Dropout on attention probabilities (0.1). */
  attnPdrop: number;
  /** LayerNorm epsilon `layer_norm_epsilon` (1e-5). */
  layerNormEps: number;
  /** Std of new-parameter init (0.02). */
  initializerRange: number;
  bosTokenId: number;
  eosTokenId: number;
}

const ACTS = ["gelu_new", "gelu", "relu"] as const;

function num(json: Record<string, unknown>, key: string, file: string, fallback?: number): number {
  const v = json[key];
  if (v === undefined && fallback !== undefined) return fallback;
  if (typeof v !== "number" || !Number.isFinite(v)) {
    throw new InputError(
      v === undefined ? "missing required field" : `expected a number, got ${JSON.stringify(v)}`,
      { file, key },
    );
  }
  return v;
}

function posInt(json: Record<string, unknown>, key: string, file: string, fallback?: number): number {
  const v = num(json, key, file, fallback);
  if (!Number.isInteger(v) || v <= 0) {
    throw new InputError(`expected a positive integer, got ${v}`, { file, key });
  }
  return v;
}

function rate(json: Record<string, unknown>, key: string, file: string): number {
  const p = num(json, key, file, 0.1);
  if (p < 0 || p >= 1) throw new InputError(`dropout must be in [0, 1), got ${p}`, { file, key });
  return p;
}

/** Read a GPT-2 config from parsed `config.json` (HF field names). */
export function gpt2ConfigFromJson(json: Record<string, unknown>, file: string): Gpt2Config {
  if (json.model_type !== "gpt2") {
    throw new InputError(`model_type ${JSON.stringify(json.model_type)} is not "gpt2"`, {
      file,
      key: "model_type",
    });
  }
  const act = json.activation_function ?? "gelu_new";
  if (typeof act !== "string" || !(ACTS as readonly string[]).includes(act)) {
    throw new InputError(
      `unsupported activation_function ${JSON.stringify(act)}; supported: ${ACTS.join(", ")}`,
      {
        file,
        key: "activation_function",
      },
    );
  }
  // Options of later transformers versions that change the forward pass (4.2.1 has none of them).
  const unsupported: [string, unknown][] = [
    ["scale_attn_weights", false],
    ["scale_attn_by_inverse_layer_idx", true],
    ["add_cross_attention", true],
  ];
  for (const [key, bad] of unsupported) {
    if (json[key] === bad) throw new InputError(`${key} = ${bad} is not supported`, { file, key });
  }
  const hiddenSize = posInt(json, "n_embd", file);
  const nInner = json.n_inner === undefined || json.n_inner === null ? null : posInt(json, "n_inner", file);
  const nPositions = posInt(json, "n_positions", file, 1024);
  const nCtx = posInt(json, "n_ctx", file, nPositions);
  const cfg: Gpt2Config = {
    vocabSize: posInt(json, "vocab_size", file),
    hiddenSize,
    numHiddenLayers: posInt(json, "n_layer", file),
    numAttentionHeads: posInt(json, "n_head", file),
    intermediateSize: nInner ?? 4 * hiddenSize,
    nInner,
    nPositions,
    nCtx,
    maxPositionEmbeddings: Math.min(nPositions, nCtx),
    activationFunction: act as Gpt2Config["activationFunction"],
    residPdrop: rate(json, "resid_pdrop", file),
    embdPdrop: rate(json, "embd_pdrop", file),
    attnPdrop: rate(json, "attn_pdrop", file),
    layerNormEps: num(json, "layer_norm_epsilon", file, 1e-5),
    initializerRange: num(json, "initializer_range", file, 0.02),
    bosTokenId: num(json, "bos_token_id", file, 50256),
    eosTokenId: num(json, "eos_token_id", file, 50256),
  };
  if (cfg.hiddenSize % cfg.numAttentionHeads !== 0) {
    throw new InputError(`n_embd ${cfg.hiddenSize} is not a multiple of n_head ${cfg.numAttentionHeads}`, {
      file,
      key: "n_head",
    });
  }
  return cfg;
}

/** The `config.json` that Hugging Face `GPT2Model.from_pretrained` reads back. */
export function gpt2ConfigToJson(cfg: Gpt2Config): Record<string, unknown> {
  return {
    architectures: ["GPT2Model"],
    model_type: "gpt2",
    activation_function: cfg.activationFunction,
    attn_pdrop: cfg.attnPdrop,
    bos_token_id: cfg.bosTokenId,
    embd_pdrop: cfg.embdPdrop,
    eos_token_id: cfg.eosTokenId,
    initializer_range: cfg.initializerRange,
    layer_norm_epsilon: cfg.layerNormEps,
    n_ctx: cfg.nCtx,
    n_embd: cfg.hiddenSize,
    n_head: cfg.numAttentionHeads,
    n_inner: cfg.nInner,
    n_layer: cfg.numHiddenLayers,
    n_positions: cfg.nPositions,
    resid_pdrop: cfg.residPdrop,
    vocab_size: cfg.vocabSize,
  };
}
