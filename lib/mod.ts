/**
 * simcse-ts: unsupervised SimCSE (Gao, Yao, Chen, EMNLP 2021) on Deno and TensorFlow.js. Load any Hugging
 * Face BERT or GPT-2 checkpoint, embed and compare sentences, evaluate on the STS tasks exactly as
 * SentEval, train SimCSE in fp32, fp16 or bf16, and search a sentence index.
 *
 * @example
 * ```ts
 * import { SentenceEncoder, useBackend } from "./mod.ts";
 * await useBackend("cpu");
 * const enc = await SentenceEncoder.load("testdata/bert/tiny-safetensors", { pooler: "avg" });
 * const sims = await enc.similarity(["a man plays a guitar ."], ["someone plays music ."]);
 * console.log(sims[0][0] > -1);
 * enc.dispose();
 * ```
 *
 * Figures and result tables (Plotly specs, run records, the generated tables) are a second entry
 * point, `@simcse/lib/figures` (`lib/figures/mod.ts`).
 * @module
 */
export { type EncodeOptions, SentenceEncoder } from "./simcse/sentence_encoder.ts";
export { Embeddings } from "./simcse/embeddings.ts";
export { loadEncoder } from "./model/registry.ts";
export type {
  EncodedBatch,
  Encoder,
  EncoderConfigCommon,
  EncoderInputs,
  EncoderOutput,
  ForwardOptions,
  TextTokenizer,
  TokenizerInfo,
} from "./model/encoder.ts";
export type { DropoutFn } from "./ops/dropout.ts";
export { pool, POOLERS, type PoolerType } from "./simcse/pooling.ts";
export { defaultPooler } from "./simcse/default_pooler.ts";
export {
  type ChineseTask,
  type Correlation,
  type EmbedFn,
  type EvalMode,
  type EvalOptions,
  type EvalResult,
  type EvalTask,
  evaluate,
  type StsTask,
  type SubsetResult,
  type TaskResult,
} from "./eval/sts_eval.ts";
export {
  type EnSplit,
  type LoadOptions,
  loadStsBenchmark,
  type PairList,
  resolveDataDir,
} from "./eval/sts_data.ts";
export { renderScoresMarkdown } from "./eval/table.ts";
export { train, type TrainOptions, type TrainResult } from "./train/run.ts";
export type { RandomInit, TrainConfig } from "./train/train_config.ts";
export {
  buildIndex,
  type BuildIndexOptions,
  type SearchHit,
  type SentenceEmbedder,
  SentenceIndex,
  type SentenceSource,
} from "./search/sentence_index.ts";
export { cosSim, semanticSearch } from "./search/semantic_search.ts";
export type { ScoredIndex, TopKOptions } from "./search/top_k.ts";
export type { HnswOptions } from "./search/hnsw_index.ts";
export { type BackendName, BACKENDS, parseBackend, useBackend } from "./kernels/backend.ts";
export { type Precision, PRECISIONS } from "./ops/precision.ts";
export type { Tensor, Tensor2D, Tensor3D, Variable } from "./runtime/tf.ts";
export { InputError, type InputLocation } from "./runtime/errors.ts";
