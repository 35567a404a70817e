/**
 * What every sentence encoder (BERT, GPT-2) and its tokenizer offer the rest of the toolkit: the
 * typed hand-off that poolers, the SimCSE head, the trainer, evaluation and the CLI rely on, so none of
 * them depends on a model class.
 *
 * @module
 */
import type { tf } from "../tf.ts";
import type { BertInputs, EncoderOutput, ForwardOptions } from "./bert.ts";
import type { EncodedBatch, TokenizerInfo } from "../tokenizer/bert_tokenizer.ts";

export type { BertInputs as EncoderInputs, EncodedBatch, EncoderOutput, ForwardOptions, TokenizerInfo };

/** Fields every encoder config has (HF names camel-cased). */
export interface EncoderConfigCommon {
  vocabSize: number;
  hiddenSize: number;
  maxPositionEmbeddings: number;
  initializerRange: number;
  layerNormEps: number;
}

export interface Encoder {
  /** Architecture, as config.json's `model_type`. */
  readonly kind: string;
  readonly config: EncoderConfigCommon;
  /** Parameters by Hugging Face name (Linear weights as [in, out] kernels where the model says so). */
  readonly params: Map<string, tf.Variable>;
  /** Has a pretrained pooler (BERT's dense + tanh), usable by the `cls` pooler. */
  readonly hasPooler: boolean;
  /** Row of the word-embedding table that gets no gradient (torch `padding_idx`), or null. */
  readonly paddingIdx: number | null;
  /** Name of the word-embedding parameter. */
  readonly wordEmbeddingName: string;
  forward(inputs: BertInputs, opts?: ForwardOptions): EncoderOutput;
  p(name: string): tf.Variable;
  /** Variables SimCSE trains (everything but an unused pretrained pooler). */
  trainableParams(): Map<string, tf.Variable>;
  /** Override every dropout rate (SimCSE-jittor's `--dropout_rate`). */
  setDropout(rate: number): void;
  dispose(): void;
}

/** Tokenizer side: ids with padding and masks. */
export interface TextTokenizer {
  readonly info: TokenizerInfo;
  encode(text: string, opts?: { maxLength?: number }): number[];
  encodeBatch(texts: readonly string[], opts?: { maxLength?: number }): EncodedBatch;
  saveTo(dir: string): Promise<void>;
  /** The file the vocabulary was read from (for errors). */
  readonly vocabFile: string;
  /** The token with the highest id (vocabulary or added token). */
  readonly topToken: { token: string; id: number };
}
