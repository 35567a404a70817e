/**
 * Similarity on precomputed embeddings, as sentence-transformers' `util.cos_sim` and
 * `util.semantic_search`: no model involved, so embeddings computed once (`encode`, a `.npy`, a
 * `.jsonl`) can be compared and searched any number of times.
 *
 * @example
 * ```ts
 * import { cosSim, semanticSearch } from "./semantic_search.ts";
 * const corpus = [new Float32Array([1, 0]), new Float32Array([0, 1])];
 * console.log(cosSim([new Float32Array([1, 1])], corpus)[0]); // Float32Array [0.7071…, 0.7071…]
 * console.log(semanticSearch([new Float32Array([1, 0.1])], corpus, { topK: 1, threshold: -1 })[0]);
 * // [{ index: 0, score: 0.995… }]
 * ```
 * @module
 */
import { InputError } from "../runtime/errors.ts";
import { EmbeddingMatrix } from "./embedding_matrix.ts";
import { type ScoredIndex, selectTopK, type TopKOptions } from "./top_k.ts";

/** Rows as unit vectors in one matrix (checking that every row has the same size). */
function unitRows(rows: readonly ArrayLike<number>[], what: string): EmbeddingMatrix {
  if (rows.length === 0) throw new InputError(`${what} is empty`);
  const dim = rows[0].length;
  const m = new EmbeddingMatrix(dim, rows.length);
  rows.forEach((r, i) => {
    if (r.length !== dim) throw new InputError(`${what} row ${i} has ${r.length} values, row 0 has ${dim}`);
  });
  m.append(rows.map((r) => Float32Array.from(r)));
  return m;
}

/** Cosine similarity of every row of `a` with every row of `b`: `out[i][j] = cos(a[i], b[j])`. */
export function cosSim(a: readonly ArrayLike<number>[], b: readonly ArrayLike<number>[]): Float32Array[] {
  const ma = unitRows(a, "a"), mb = unitRows(b, "b");
  if (ma.dim !== mb.dim) throw new InputError(`a has ${ma.dim} values per row, b has ${mb.dim}`);
  return Array.from({ length: ma.count }, (_, i) => mb.scores(ma.row(i)));
}

/**
 * For each query, the corpus rows with the highest cosine similarity (scores >= `threshold`, highest
 * first, at most `topK`; defaults 5 and 0.6 as the official tool).
 */
export function semanticSearch(
  queries: readonly ArrayLike<number>[],
  corpus: readonly ArrayLike<number>[],
  opts: TopKOptions = {},
): ScoredIndex[][] {
  return cosSim(queries, corpus).map((scores) => selectTopK(scores, opts));
}
