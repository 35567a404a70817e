/**
 * The tokenizer side of every encoder (WordPiece for BERT, byte-level BPE for GPT-2): ids with
 * padding and masks, and the folder files to save next to a checkpoint.
 *
 * @module
 */
import type { EncodedBatch, TokenizerInfo } from "./bert_tokenizer.ts";

export type { EncodedBatch, TokenizerInfo };

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
