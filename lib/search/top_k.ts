/**
 * The official `simcse` tool's result selection (docs/SIMCSE.md §e.3, `SimCSE.search`): keep the
 * candidates whose score is at least `threshold`, sort them by score (descending; equal scores
 * keep index order, as Python's stable `sorted(..., reverse=True)` does) and take the first `topK`.
 *
 * Runs in one pass with a small sorted buffer, so a query against a large brute-force index does
 * not sort every score.
 *
 * @example
 * ```ts
 * import { selectTopK } from "./top_k.ts";
 * const hits = selectTopK(new Float32Array([0.2, 0.9, 0.7, 0.9]), { topK: 2, threshold: 0.5 });
 * console.log(hits); // [{ index: 1, score: 0.9... }, { index: 3, score: 0.9... }]
 * ```
 * @module
 */
import { InputError } from "../runtime/errors.ts";

/** How many results to keep, and the smallest score kept. */
export interface TopKOptions {
  /** Most results per query (default 5, the official tool's `top_k`). */
  topK?: number;
  /** Smallest score kept (default 0.6, the official tool's `threshold`). */
  threshold?: number;
}

/** One selected candidate: its row in the index and its score. */
export interface ScoredIndex {
  /** Row of the candidate (in the corpus, or the id it was given). */
  index: number;
  /** Its score (a cosine similarity for the searches here). */
  score: number;
}

/** The defaults of the official tool's `search(queries, threshold=0.6, top_k=5)`. */
export const DEFAULT_TOP_K = 5;
export const DEFAULT_THRESHOLD = 0.6;

/** Checked `topK` and `threshold` with defaults filled in (an InputError names the bad option). */
export function resolveTopK(opts: TopKOptions = {}): { topK: number; threshold: number } {
  const topK = opts.topK ?? DEFAULT_TOP_K;
  const threshold = opts.threshold ?? DEFAULT_THRESHOLD;
  if (!Number.isInteger(topK) || topK < 0) {
    throw new InputError(`topK must be a non-negative integer, got ${topK}`, { key: "topK" });
  }
  if (Number.isNaN(threshold)) {
    throw new InputError("threshold must be a number, got NaN", { key: "threshold" });
  }
  return { topK, threshold };
}

/**
 * Select from `scores[i]` (candidate `ids[i]`, or `i` when `ids` is absent): scores >= threshold,
 * highest first, ties in candidate order, at most `topK`. NaN scores are never kept.
 */
export function selectTopK(
  scores: ArrayLike<number>,
  opts: TopKOptions = {},
  ids?: ArrayLike<number>,
): ScoredIndex[] {
  const { topK, threshold } = resolveTopK(opts);
  if (topK === 0) return [];
  // `buf` holds the best candidates so far, sorted by (score desc, position asc).
  const buf: ScoredIndex[] = [];
  for (let i = 0; i < scores.length; i++) {
    const s = scores[i];
    if (!(s >= threshold)) continue;
    if (buf.length === topK && !(s > buf[topK - 1].score)) continue; // a tie with the last keeps the earlier one
    // Insert after every element with score >= s (stable for ties).
    let lo = 0, hi = buf.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (buf[mid].score >= s) lo = mid + 1;
      else hi = mid;
    }
    const hit = { index: ids ? ids[i] : i, score: s };
    if (buf.length === topK) buf.pop();
    buf.splice(lo, 0, hit);
  }
  return buf;
}
