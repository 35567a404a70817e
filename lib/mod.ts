/**
 * simcse-ts: unsupervised SimCSE (Gao, Yao, Chen, EMNLP 2021) on Deno and TensorFlow.js.
 *
 * @module
 */
export { SentenceEncoder } from "./simcse/sentence_encoder.ts";
export { loadEncoder } from "./model/registry.ts";
export { pool, type PoolerType } from "./simcse/pooling.ts";
export { evaluate } from "./eval/sts_eval.ts";
export { train } from "./train/run.ts";
export type { TrainConfig } from "./train/train_config.ts";
export { buildIndex, SentenceIndex } from "./search/sentence_index.ts";
export { type BackendName, parseBackend, useBackend } from "./kernels/mod.ts";
export { type Precision, PRECISIONS } from "./ops/precision.ts";
