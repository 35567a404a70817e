/**
 * Rank correlation the way SentEval computes it with scipy: `rankAverage` gives tied values the
 * mean of the ranks they span (scipy.stats.rankdata, method "average", ranks start at 1),
 * `pearson` is the sample correlation coefficient, and `spearman` is Pearson over the average
 * ranks (scipy.stats.spearmanr). Everything runs in float64.
 *
 * NaN handling follows scipy 1.10+ with `nan_policy="propagate"`: any NaN in the input makes
 * `rankAverage` return all-NaN ranks and the correlations return NaN. A constant input (zero
 * variance) also gives NaN, as scipy does (it warns and returns nan). Fewer than 2 points give NaN.
 *
 * @example
 * ```ts
 * import { rankAverage, spearman } from "./spearman.ts";
 * rankAverage([10, 20, 20, 5]); // Float64Array [2, 3.5, 3.5, 1]
 * spearman([1, 2, 3], [3, 2, 1]); // -1
 * ```
 * @module
 */

/** Average ranks (1-based); ties share the mean of the ranks they cover, like scipy's rankdata. */
export function rankAverage(x: ArrayLike<number>): Float64Array {
  const n = x.length;
  const ranks = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    if (Number.isNaN(x[i])) return ranks.fill(NaN);
  }
  const order = new Uint32Array(n);
  for (let i = 0; i < n; i++) order[i] = i;
  // A typed-array sort with a comparator is stable in modern engines; stability does not matter
  // for the ranks anyway, since ties all get the same value.
  order.sort((a, b) => (x[a] < x[b] ? -1 : x[a] > x[b] ? 1 : 0));
  let i = 0;
  while (i < n) {
    let j = i + 1;
    while (j < n && x[order[j]] === x[order[i]]) j++;
    // Positions i..j-1 (0-based) hold one tie group: ranks i+1..j, mean (i+1+j)/2.
    const avg = (i + 1 + j) / 2;
    for (let k = i; k < j; k++) ranks[order[k]] = avg;
    i = j;
  }
  return ranks;
}

/** Pearson correlation coefficient in float64 (two-pass, centred); NaN for constant input or n < 2. */
export function pearson(x: ArrayLike<number>, y: ArrayLike<number>): number {
  const n = x.length;
  if (y.length !== n) throw new RangeError(`pearson(): length mismatch ${n} vs ${y.length}`);
  if (n < 2) return NaN;
  let sx = 0;
  let sy = 0;
  for (let i = 0; i < n; i++) {
    sx += x[i];
    sy += y[i];
  }
  if (Number.isNaN(sx) || Number.isNaN(sy)) return NaN;
  const mx = sx / n;
  const my = sy / n;
  let sxx = 0;
  let syy = 0;
  let sxy = 0;
  for (let i = 0; i < n; i++) {
    const dx = x[i] - mx;
    const dy = y[i] - my;
    sxx += dx * dx;
    syy += dy * dy;
    sxy += dx * dy;
  }
  if (sxx === 0 || syy === 0) return NaN;
  const r = sxy / Math.sqrt(sxx * syy);
  // Rounding can push |r| a hair above 1; scipy clips the same way.
  return Math.max(-1, Math.min(1, r));
}

/** Spearman rank correlation = Pearson of the average ranks (scipy.stats.spearmanr). */
export function spearman(x: ArrayLike<number>, y: ArrayLike<number>): number {
  if (y.length !== x.length) {
    throw new RangeError(`spearman(): length mismatch ${x.length} vs ${y.length}`);
  }
  return pearson(rankAverage(x), rankAverage(y));
}
