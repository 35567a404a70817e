/**
 * From sentences to training batches (docs/SIMCSE.md §a.2 batch construction, §a.4 MLM masking,
 * §b.1 sampler and step count):
 *
 * 1. {@link tokenizeExamples}: every distinct sentence is tokenized once, truncated to
 *    `maxSeqLength` tokens including [CLS]/[SEP]. All ids live in one `Int32Array` with offsets
 *    (1M sentences × ≤32 ids fits in ~100 MB). An empty sentence is replaced by " " (SimCSE replaces
 *    `None` by " "; a `.txt` loader yields `""` for an empty line, which a BERT tokenizer encodes to
 *    the same `[CLS] [SEP]`). A 1-column file pairs each sentence with itself (two identical views).
 * 2. {@link epochOrder}: a seeded Fisher–Yates permutation per epoch (RandomSampler semantics: a
 *    fresh shuffle every epoch; `drop_last=False`, so the last batch may be smaller). It is a pure
 *    function of (seed, epoch), so a resumed run sees the same order. It cannot equal torch's
 *    permutation (different generator); only the semantics match.
 * 3. {@link collate}: rows interleaved per example (row `numSent*i + j` = sentence j of example i),
 *    right-padded to the longest row of the batch (dynamic padding), mask 1 on real tokens, token
 *    types 0.
 * 4. {@link maskTokens}: BERT masking for the optional MLM objective, as SimCSE's
 *    `OurDataCollatorWithPadding.mask_tokens` on the flattened `(bs·numSent, L)` ids: every
 *    non-special position is selected with probability p; a selected position becomes [MASK] with
 *    probability 0.8, else a uniform random id in `[0, vocabSize)` with probability 0.5, else stays;
 *    labels hold the original id at selected positions and -100 elsewhere. "Special" is every id of
 *    the fast tokenizer's `all_special_ids` that we know: [CLS], [SEP], [PAD], [MASK] and, when
 *    `unkId` is given, [UNK] (HF 4.2.1's fast tokenizers never select [UNK] either).
 *    Deterministic in (seed, step); each row gets its own mask, so the two views differ.
 *
 * @example
 * ```ts
 * import { collate, epochOrder, batchIndices, stepsPerEpoch, tokenizeExamples } from "./batches.ts";
 * const tok = tokenizeExamples(examples, tokenizer, 32);
 * const order = epochOrder(tok.numExamples, 42, 0);
 * for (let s = 0; s < stepsPerEpoch(tok.numExamples, 64); s++) {
 *   const batch = collate(tok, batchIndices(order, s, 64), tokenizer.info.padId);
 *   // batch.inputIds: (batch.rows, batch.seqLen), rows = 2·64
 * }
 * ```
 * @module
 */

import { ProgressBar } from "../runtime/progress.ts";
import type { TrainExamples } from "./train_corpus.ts";
import { int64Words, mixSeed, Mulberry32 } from "./seeded_rng.ts";

/** Token ids of the special tokens that masking must know. */
export interface SpecialTokenInfo {
  padId: number;
  clsId: number;
  sepId: number;
  maskId: number;
  vocabSize: number;
  /** When given, [UNK] positions are never selected for masking (as HF fast tokenizers do). */
  unkId?: number;
}

/** The little the data pipeline needs from a tokenizer (the project's `BertTokenizer` satisfies it). */
export interface SentenceTokenizer {
  /** Ids including [CLS]/[SEP]; with `maxLength`, truncated to at most that many, [SEP] kept last. */
  encode(text: string, opts?: { maxLength?: number }): number[];
  info: SpecialTokenInfo;
}

/** Every sentence of a training file as token ids, stored flat. */
export interface TokenizedExamples {
  /** Number of examples (rows of the file). */
  numExamples: number;
  /** Sentences stored per example: 1 (unsupervised; used twice), 2 or 3. */
  columns: 1 | 2 | 3;
  /** Sentences per example in a batch: 2 (sent0, sent1) or 3 (+ hard negative). */
  numSent: 2 | 3;
  /** Ids of all sentences, example-major: sentence `k = i*columns + c` is `ids[offsets[k]..offsets[k+1])`. */
  ids: Int32Array;
  /** `numExamples*columns + 1` offsets into `ids`. */
  offsets: Uint32Array;
  /** The truncation length used. */
  maxSeqLength: number;
}

/** A padded batch; arrays are row-major `(rows, seqLen)`. */
export interface CollatedBatch {
  inputIds: Int32Array;
  attentionMask: Int32Array;
  tokenTypeIds: Int32Array;
  /** `batchSize * numSent`. */
  rows: number;
  /** Length of the longest row. */
  seqLen: number;
  numSent: 2 | 3;
  batchSize: number;
}

/** MLM inputs and labels, same layout as `CollatedBatch.inputIds`. */
export interface MaskedTokens {
  mlmInputIds: Int32Array;
  /** Original id at selected positions, -100 elsewhere. */
  mlmLabels: Int32Array;
}

/** Options for {@link tokenizeExamples}. */
export interface TokenizeOptions {
  /** Show a progress bar on stderr; default: when there are at least 50,000 sentences. */
  progress?: boolean;
}

/** Label value ignored by the MLM loss (PyTorch's `ignore_index`). */
export const IGNORE_INDEX = -100;

/** Tokenize each sentence once (truncated to `maxSeqLength` incl. [CLS]/[SEP]); see the module doc. */
export function tokenizeExamples(
  ex: TrainExamples,
  tok: SentenceTokenizer,
  maxSeqLength: number,
  options: TokenizeOptions = {},
): TokenizedExamples {
  if (!Number.isInteger(maxSeqLength) || maxSeqLength < 2) {
    throw new RangeError(
      `maxSeqLength must be an integer >= 2 (room for [CLS] and [SEP]), got ${maxSeqLength}`,
    );
  }
  const columns = ex.columns;
  const numExamples = ex.rows.length;
  const total = numExamples * columns;
  const offsets = new Uint32Array(total + 1);
  let ids = new Int32Array(Math.max(1024, Math.min(total * 16, total * maxSeqLength)));
  let used = 0;
  const showBar = options.progress ?? total >= 50_000;
  const bar = showBar ? new ProgressBar("tokenize", total, "sent") : undefined;
  let k = 0;
  for (let i = 0; i < numExamples; i++) {
    const row = ex.rows[i];
    if (row.length !== columns) {
      throw new RangeError(`example ${i} has ${row.length} sentences, expected ${columns}`);
    }
    for (let c = 0; c < columns; c++) {
      const sentence = row[c];
      const encoded = tok.encode(sentence === "" || sentence == null ? " " : sentence, {
        maxLength: maxSeqLength,
      });
      if (encoded.length > maxSeqLength) {
        throw new Error(`tokenizer returned ${encoded.length} ids for maxLength ${maxSeqLength}`);
      }
      if (used + encoded.length > ids.length) {
        const grown = new Int32Array(Math.max(ids.length * 2, used + encoded.length));
        grown.set(ids.subarray(0, used));
        ids = grown;
      }
      for (let t = 0; t < encoded.length; t++) ids[used + t] = encoded[t];
      used += encoded.length;
      k++;
      offsets[k] = used;
    }
    if (bar && (i & 4095) === 0) bar.update(k);
  }
  if (bar) {
    bar.update(k); // draws the final count (done == total)
    if (Deno.stderr.isTerminal()) bar.finish(); // end the redrawn line; elsewhere it would print it twice
  }
  return {
    numExamples,
    columns,
    numSent: columns === 3 ? 3 : 2,
    ids: ids.slice(0, used),
    offsets,
    maxSeqLength,
  };
}

/** The ids of sentence `j` (0 ≤ j < numSent) of example `i`, as a view into `tok.ids`. */
export function sentenceIds(tok: TokenizedExamples, i: number, j: number): Int32Array {
  if (!(i >= 0 && i < tok.numExamples) || !Number.isInteger(i)) {
    throw new RangeError(`example index ${i} out of range [0, ${tok.numExamples})`);
  }
  if (!(j >= 0 && j < tok.numSent) || !Number.isInteger(j)) {
    throw new RangeError(`sentence index ${j} out of range [0, ${tok.numSent})`);
  }
  const k = i * tok.columns + (tok.columns === 1 ? 0 : j);
  return tok.ids.subarray(tok.offsets[k], tok.offsets[k + 1]);
}

/** Build one padded batch from example indices (see the module doc for the layout). */
export function collate(tok: TokenizedExamples, indices: ArrayLike<number>, padId: number): CollatedBatch {
  const batchSize = indices.length;
  if (batchSize === 0) throw new RangeError("cannot collate an empty batch");
  const numSent = tok.numSent;
  const rows = batchSize * numSent;
  const views: Int32Array[] = new Array(rows);
  let seqLen = 0;
  for (let b = 0; b < batchSize; b++) {
    for (let j = 0; j < numSent; j++) {
      const v = sentenceIds(tok, indices[b], j);
      views[b * numSent + j] = v;
      if (v.length > seqLen) seqLen = v.length;
    }
  }
  const inputIds = new Int32Array(rows * seqLen).fill(padId);
  const attentionMask = new Int32Array(rows * seqLen);
  const tokenTypeIds = new Int32Array(rows * seqLen);
  for (let r = 0; r < rows; r++) {
    const v = views[r];
    inputIds.set(v, r * seqLen);
    attentionMask.fill(1, r * seqLen, r * seqLen + v.length);
  }
  return { inputIds, attentionMask, tokenTypeIds, rows, seqLen, numSent, batchSize };
}

const DOMAIN_ORDER = 0x6f726472; // "ordr"
const DOMAIN_MASK = 0x6d61736b; // "mask"

/**
 * A permutation of `0..n-1` for one epoch: Fisher–Yates (from the last element down, swapping
 * `i` with a uniform `j ∈ [0, i]`) driven by mulberry32 seeded with
 * `mixSeed(["ordr", seedLo, seedHi, epochLo, epochHi])`.
 */
export function epochOrder(n: number, seed: number, epoch: number): Uint32Array {
  if (!Number.isInteger(n) || n < 0 || n > 0xffffffff) throw new RangeError(`bad example count ${n}`);
  if (!Number.isSafeInteger(epoch) || epoch < 0) {
    throw new RangeError(`epoch must be an integer >= 0, got ${epoch}`);
  }
  const rng = new Mulberry32(mixSeed([DOMAIN_ORDER, ...int64Words(seed), ...int64Words(epoch)]));
  const order = new Uint32Array(n);
  for (let i = 0; i < n; i++) order[i] = i;
  for (let i = n - 1; i > 0; i--) {
    const j = rng.nextBelow(i + 1);
    const t = order[i];
    order[i] = order[j];
    order[j] = t;
  }
  return order;
}

/** Batches per epoch with `drop_last=False`: `ceil(n / batchSize)`. */
export function stepsPerEpoch(n: number, batchSize: number): number {
  if (!Number.isInteger(n) || n < 0) throw new RangeError(`bad example count ${n}`);
  if (!Number.isInteger(batchSize) || batchSize < 1) throw new RangeError(`bad batch size ${batchSize}`);
  return Math.ceil(n / batchSize);
}

/**
 * Optimizer steps of a run (HF Trainer 4.2.1, no gradient accumulation): `maxSteps` when it is
 * given and > 0, else `ceil(epochs × stepsPerEpoch)` (epochs may be fractional).
 */
export function totalSteps(n: number, batchSize: number, epochs: number, maxSteps?: number): number {
  if (maxSteps !== undefined && maxSteps > 0) {
    if (!Number.isInteger(maxSteps)) throw new RangeError(`maxSteps must be an integer, got ${maxSteps}`);
    return maxSteps;
  }
  if (!(epochs > 0) || !Number.isFinite(epochs)) throw new RangeError(`epochs must be > 0, got ${epochs}`);
  return Math.ceil(epochs * stepsPerEpoch(n, batchSize));
}

/** Which epoch and which batch within it a 0-based global step falls on. */
export function stepPosition(globalStep: number, perEpoch: number): { epoch: number; stepInEpoch: number } {
  if (!Number.isInteger(globalStep) || globalStep < 0) throw new RangeError(`bad step ${globalStep}`);
  if (!Number.isInteger(perEpoch) || perEpoch < 1) throw new RangeError(`bad steps per epoch ${perEpoch}`);
  return { epoch: Math.floor(globalStep / perEpoch), stepInEpoch: globalStep % perEpoch };
}

/** The example indices of batch `step` (0-based, within the epoch) of `order`; the last may be short. */
export function batchIndices(order: Uint32Array, step: number, batchSize: number): Uint32Array {
  const steps = stepsPerEpoch(order.length, batchSize);
  if (!Number.isInteger(step) || step < 0 || step >= steps) {
    throw new RangeError(`step ${step} out of range [0, ${steps}) for ${order.length} examples`);
  }
  return order.subarray(step * batchSize, Math.min((step + 1) * batchSize, order.length));
}

/**
 * BERT masking of a collated batch (see the module doc). Random draws, in row-major order over
 * the positions that are not special: `u < probability` selects; for a selected position a second
 * draw `< 0.8` means [MASK], else a third draw `< 0.5` means a random id (`nextBelow(vocabSize)`),
 * else the token stays. The generator is mulberry32 seeded with
 * `mixSeed(["mask", seedLo, seedHi, stepLo, stepHi])`.
 */
export function maskTokens(
  batch: CollatedBatch,
  tokInfo: SpecialTokenInfo,
  probability: number,
  seed: number,
  step: number,
): MaskedTokens {
  if (!(probability >= 0 && probability <= 1)) {
    throw new RangeError(`mlm probability must be in [0, 1], got ${probability}`);
  }
  if (!Number.isSafeInteger(step) || step < 0) {
    throw new RangeError(`step must be an integer >= 0, got ${step}`);
  }
  if (!(tokInfo.maskId >= 0)) {
    throw new RangeError("the tokenizer has no [MASK] token; MLM masking needs one");
  }
  const rng = new Mulberry32(mixSeed([DOMAIN_MASK, ...int64Words(seed), ...int64Words(step)]));
  const { inputIds, attentionMask } = batch;
  const mlmInputIds = inputIds.slice();
  const mlmLabels = new Int32Array(inputIds.length).fill(IGNORE_INDEX);
  const { padId, clsId, sepId, maskId, unkId, vocabSize } = tokInfo;
  const hasUnk = unkId !== undefined;
  for (let p = 0; p < inputIds.length; p++) {
    const id = inputIds[p];
    if (
      attentionMask[p] === 0 || id === padId || id === clsId || id === sepId || id === maskId ||
      (hasUnk && id === unkId)
    ) continue;
    if (!(rng.nextFloat() < probability)) continue;
    mlmLabels[p] = id;
    if (rng.nextFloat() < 0.8) mlmInputIds[p] = maskId;
    else if (rng.nextFloat() < 0.5) mlmInputIds[p] = rng.nextBelow(vocabSize);
  }
  return { mlmInputIds, mlmLabels };
}
