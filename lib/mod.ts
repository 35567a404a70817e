/**
 * simcse-ts: unsupervised SimCSE (Gao, Yao, Chen, EMNLP 2021) on Deno and TensorFlow.js.
 *
 * @module
 */
export { SentenceEncoder } from "./sentence_encoder.ts";
export { loadEncoder } from "./model/registry.ts";
export { pool, type PoolerType } from "./pooling.ts";
export { evaluate } from "./eval/sts_eval.ts";
export { train } from "./train/run.ts";
export type { TrainConfig } from "./train/train_config.ts";
export { buildIndex, SentenceIndex } from "./search/sentence_index.ts";
export { useBackend } from "./backend.ts";
export { type Precision, PRECISIONS } from "./model/precision.ts";
