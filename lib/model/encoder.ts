/**
 * What every sentence encoder (BERT, GPT-2) offers the rest of the toolkit: the typed hand-off that
 * poolers, the SimCSE head, the trainer, evaluation and the CLI rely on, so none of them depends on
 * a model class. Every shared type lives here; the model files import it, never the other way.
 *
 * @module
 */
import type { Tensor2D, Tensor3D, Variable } from "../runtime/tf.ts";
import type { DropoutFn } from "../ops/dropout.ts";
import type { Precision } from "../ops/precision.ts";
import type { EncodedBatch, TextTokenizer, TokenizerInfo } from "../tokenizer/text_tokenizer.ts";

export type { EncodedBatch, Precision, TextTokenizer, TokenizerInfo };

/** Token ids and masks for a padded batch, all [B, L]. */
export interface EncoderInputs {
  /** Token ids, int32 [B, L]. */
  inputIds: Tensor2D;
  /** 1 = real token, 0 = padding, [B, L]. */
  attentionMask: Tensor2D;
  /** Segment ids, int32 [B, L]; zeros when absent. */
  tokenTypeIds?: Tensor2D;
}

/** What every encoder returns (the typed hand-off to poolers and losses). */
export interface EncoderOutput {
  /** Output of the last layer [B, L, H]. */
  lastHiddenState: Tensor3D;
  /** hiddenStates[0] is the embedding output, hiddenStates[i] the output of layer i; length layers + 1. */
  hiddenStates: Tensor3D[];
  /** float32 [B, L], 1 for real tokens. */
  attentionMask: Tensor2D;
  /** Pooler dense + tanh on [CLS] [B, H], when the checkpoint has pooler weights. */
  pooledOutput?: Tensor2D;
}

/** Options of {@link Encoder.forward}: dropout, matmul precision, activation checkpointing. */
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
  /**
   * Return every layer's output in `hiddenStates` (default true). With false only the last layer's is
   * there, and each layer's output goes once the next layer has read it (in training, what its ops
   * save for the backward pass stays): the poolers that average two layers need true.
   */
  allHiddenStates?: boolean;
}

/** Fields every encoder config has (HF names camel-cased). */
export interface EncoderConfigCommon {
  /** Rows of the word-embedding table (`vocab_size`). */
  vocabSize: number;
  /** Width H of every hidden state (`hidden_size`, `n_embd` for GPT-2). */
  hiddenSize: number;
  /** Longest input in tokens the position embeddings cover (`max_position_embeddings`, `n_positions`). */
  maxPositionEmbeddings: number;
  /** Standard deviation of the normal initialisation of new weights (`initializer_range`). */
  initializerRange: number;
  /** Epsilon of every layer norm (`layer_norm_eps`, `layer_norm_epsilon` for GPT-2). */
  layerNormEps: number;
}

/** A loaded sentence encoder (BERT or GPT-2): its parameters and its forward pass. */
export interface Encoder {
  /** Architecture, as config.json's `model_type`. */
  readonly kind: string;
  /** The config fields every architecture has (the model's own config has more). */
  readonly config: EncoderConfigCommon;
  /** Parameters by Hugging Face name (Linear weights as [in, out] kernels where the model says so). */
  readonly params: Map<string, Variable>;
  /** Has a pretrained pooler (BERT's dense + tanh), usable by the `cls` pooler. */
  readonly hasPooler: boolean;
  /** Row of the word-embedding table that gets no gradient (torch `padding_idx`), or null. */
  readonly paddingIdx: number | null;
  /** Name of the word-embedding parameter. */
  readonly wordEmbeddingName: string;
  /** The matmul precisions `forward` accepts. */
  readonly precisions: readonly Precision[];
  /** One forward pass over a padded batch (dropout off unless `opts.training`). */
  forward(inputs: EncoderInputs, opts?: ForwardOptions): EncoderOutput;
  /** The parameter named `name` (Hugging Face name); throws when the model has none of that name. */
  p(name: string): Variable;
  /** Variables SimCSE trains (everything but an unused pretrained pooler). */
  trainableParams(): Map<string, Variable>;
  /** Override every dropout rate (SimCSE-jittor's `--dropout_rate`). */
  setDropout(rate: number): void;
  /** Free every parameter's memory; the encoder is unusable afterwards. */
  dispose(): void;
}
