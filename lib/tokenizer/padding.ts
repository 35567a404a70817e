/**
 * The padding both tokenizers' `encodeBatch` apply (HF `padding=True` / `"max_length"` and
 * `pad_to_multiple_of`): rows padded on the right to one length, and the batch's arrays.
 *
 * @module
 */

/** How far to pad a batch beyond its longest row. */
export interface PaddingOptions {
  /** Pad to at least this length. */
  padTo?: number;
  /** Round the padded length up to a multiple of this (HF `pad_to_multiple_of`). */
  padToMultipleOf?: number;
}

/** The padded length of a batch whose longest row has `longest` tokens: at least `padTo`, then rounded up. */
export function paddedLength(longest: number, opts: PaddingOptions): number {
  let seqLen = longest;
  if (opts.padTo !== undefined) {
    checkPositiveInt(opts.padTo, "padTo");
    seqLen = Math.max(seqLen, opts.padTo);
  }
  if (opts.padToMultipleOf !== undefined) {
    checkPositiveInt(opts.padToMultipleOf, "padToMultipleOf");
    seqLen = Math.ceil(seqLen / opts.padToMultipleOf) * opts.padToMultipleOf;
  }
  return seqLen;
}

/** A [batchSize, seqLen] batch's arrays: ids all `padId`, attention mask and token types all 0. */
export function paddedArrays(batchSize: number, seqLen: number, padId: number): {
  inputIds: Int32Array;
  attentionMask: Int32Array;
  tokenTypeIds: Int32Array;
} {
  return {
    inputIds: new Int32Array(batchSize * seqLen).fill(padId),
    attentionMask: new Int32Array(batchSize * seqLen),
    tokenTypeIds: new Int32Array(batchSize * seqLen),
  };
}

function checkPositiveInt(v: number, name: string): void {
  if (!Number.isInteger(v) || v < 1) throw new RangeError(`${name} must be a positive integer, got ${v}`);
}
