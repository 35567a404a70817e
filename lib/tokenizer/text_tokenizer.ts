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
  /** Special token ids, vocabulary size and length limit. */
  readonly info: TokenizerInfo;
  /** Token ids of one text (BERT adds `[CLS]`/`[SEP]`), at most `maxLength` of them when given. */
  encode(text: string, opts?: { maxLength?: number }): number[];
  /** Encode `texts` and pad them on the right to the longest row, each truncated to `maxLength`. */
  encodeBatch(texts: readonly string[], opts?: { maxLength?: number }): EncodedBatch;
  /** Write the tokenizer files a checkpoint folder needs into `dir`, atomically. */
  saveTo(dir: string): Promise<void>;
  /** The file the vocabulary was read from (for errors). */
  readonly vocabFile: string;
  /** The token with the highest id (vocabulary or added token). */
  readonly topToken: { token: string; id: number };
}
