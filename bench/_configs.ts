/**
 * The model sizes the benchmarks train (BERT-style L layers of width H, heads of 64, FFN 4H; GPT-2
 * configs of the same sizes), shared by `train_bench.ts` and `gpu/gpu_bench.ts`.
 *
 * @module
 */
import type { BertConfig } from "../lib/model/bert_config.ts";

/** Layers and hidden size of each benchmark config. */
export const CONFIGS: Record<string, [number, number]> = {
  tiny: [2, 128],
  mini: [4, 256],
  small: [4, 512],
  base: [12, 768],
  // GPT-2 (decoder-only, gelu_new, avg pooling without MLP, as the gpt2-wavg experiment trains)
  "gpt2-mini": [4, 256],
  gpt2: [12, 768],
};

/** The BERT config of a benchmark size (bert-base-uncased's vocabulary and defaults). */
export function bertConfig(name: string): BertConfig {
  const [L, H] = CONFIGS[name];
  return {
    vocabSize: 30522,
    hiddenSize: H,
    numHiddenLayers: L,
    numAttentionHeads: H / 64,
    intermediateSize: 4 * H,
    hiddenAct: "gelu",
    hiddenDropoutProb: 0.1,
    attentionProbsDropoutProb: 0.1,
    maxPositionEmbeddings: 512,
    typeVocabSize: 2,
    layerNormEps: 1e-12,
    initializerRange: 0.02,
    padTokenId: 0,
  };
}
