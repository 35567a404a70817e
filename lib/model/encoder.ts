/**
 * What every sentence encoder (BERT, GPT-2) offers the rest of the toolkit: the typed hand-off that
 * poolers, the SimCSE head, the trainer, evaluation and the CLI rely on, so none of them depends on
 * a model class. Every shared type lives here; the model files import it, never the other way.
 *
 * @module
 */
import type { tf } from "../runtime/tf.ts";
import type { DropoutFn } from "../ops/dropout.ts";
import type { Precision } from "../ops/precision.ts";
import type { EncodedBatch, TextTokenizer, TokenizerInfo } from "../tokenizer/text_tokenizer.ts";

export type { EncodedBatch, Precision, TextTokenizer, TokenizerInfo };

/** Token ids and masks for a padded batch, all [B, L]. */
export interface EncoderInputs {
  inputIds: tf.Tensor2D; // int32 [B, L]
  attentionMask: tf.Tensor2D; // 1 = real token, 0 = padding [B, L]
  tokenTypeIds?: tf.Tensor2D; // int32 [B, L]; zeros when absent
}

/** What every encoder returns (the typed hand-off to poolers and losses). */
export interface EncoderOutput {
  /** Output of the last layer [B, L, H]. */
  lastHiddenState: tf.Tensor3D;
  /** hiddenStates[0] is the embedding output, hiddenStates[i] the output of layer i; length layers + 1. */
  hiddenStates: tf.Tensor3D[];
  /** float32 [B, L], 1 for real tokens. */
  attentionMask: tf.Tensor2D;
  /** Pooler dense + tanh on [CLS] [B, H], when the checkpoint has pooler weights. */
  pooledOutput?: tf.Tensor2D;
}

export interface ForwardOptions {
  /** Dropout active (training) or not (evaluation). Default false. */
  training?: boolean;
  /** Dropout implementation used when training; required when `training` is true. */
  dropout?: DropoutFn;
  /**
   * Matmul precision of the encoder layers' Linear layers and attention matmuls (`precision.ts`).
   * Default "fp32". An encoder throws for a precision it does not list in `precisions`.
   */
  precision?: Precision;
  /**
   * Activation checkpointing (training only, fp32; BERT and GPT-2): keep only each layer's input for the
   * backward pass and recompute the layer there (`checkpointing.ts`). Less memory, one more forward
   * pass. The dropout function must be deterministic per site (every DropoutFn here is). Default false.
   */
  checkpointLayers?: boolean;
  /**
   * The caller reads only position 0 of the last layer ([CLS] pooling at evaluation): the last encoder
   * layer then computes its output for position 0 alone (keys and values still cover every token), and
   * `lastHiddenState` and the last `hiddenStates` entry are [B, 1, H]. Same values as the full pass;
   * less work. Ignored when training and in half precision; encoders without it return [B, L, H].
   */
  firstTokenOnly?: boolean;
}

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
  /** The matmul precisions `forward` accepts. */
  readonly precisions: readonly Precision[];
  forward(inputs: EncoderInputs, opts?: ForwardOptions): EncoderOutput;
  p(name: string): tf.Variable;
  /** Variables SimCSE trains (everything but an unused pretrained pooler). */
  trainableParams(): Map<string, tf.Variable>;
  /** Override every dropout rate (SimCSE-jittor's `--dropout_rate`). */
  setDropout(rate: number): void;
  dispose(): void;
}
