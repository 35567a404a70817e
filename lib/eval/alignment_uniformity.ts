/**
 * Alignment and uniformity of sentence embeddings (Wang & Isola, ICML 2020), as the SimCSE paper
 * reads its training in Figure 2 (method and protocol: `docs/SIMCSE.md`). Both are computed on
 * L2-normalised embeddings f(x) (a zero vector stays zero, as `torch.nn.functional.normalize`):
 *
 * - ℓ_align = E over positive pairs (x, y) of ‖f(x) − f(y)‖²: the STS-B pairs whose gold score is
 *   above 4 (strictly), in file order. Lower is better: paraphrases land close together.
 * - ℓ_uniform = log E over all distinct pairs {x, y}, x ≠ y, of exp(−2‖f(x) − f(y)‖²): the sentences
 *   are every distinct sentence string of the same STS-B split (first and second columns together,
 *   after the evaluator's whitespace normalisation, each string once); the pairs are the n(n−1)/2
 *   unordered pairs of them, as `torch.pdist`. Lower is better: embeddings spread over the sphere.
 *
 * The split is STS-B dev during training (`alignUniform(embed, dataDir)`) and the split of the
 * evaluation mode in `deno task eval --metrics align,uniform` (test by default, dev with
 * `--mode dev`). Sums are in float64; ℓ_uniform's log-mean-exp needs no shift (exponents lie in
 * [−8, 0]).
 *
 * @example
 * ```ts
 * import { alignment, uniformity } from "./alignment_uniformity.ts";
 * const x = [new Float32Array([1, 0]), new Float32Array([0, 1])];
 * alignment([x[0]], [x[1]]); // 2: orthogonal unit vectors are √2 apart
 * uniformity(x); // -4 = log exp(-2·2)
 * ```
 * @module
 */
import { loadStsBenchmark, type PairList } from "./sts_data.ts";
import type { EmbedFn } from "./sts_eval.ts";

/** A unit-length float64 copy of `v` (zero stays zero). */
function normalized(v: ArrayLike<number>): Float64Array {
  let ss = 0;
  for (let i = 0; i < v.length; i++) ss += v[i] * v[i];
  const inv = 1 / Math.max(Math.sqrt(ss), 1e-12);
  const out = new Float64Array(v.length);
  for (let i = 0; i < v.length; i++) out[i] = v[i] * inv;
  return out;
}

function sqDist(a: Float64Array, b: Float64Array): number {
  if (a.length !== b.length) throw new RangeError(`dimension mismatch ${a.length} vs ${b.length}`);
  let s = 0;
  for (let i = 0; i < a.length; i++) {
    const d = a[i] - b[i];
    s += d * d;
  }
  return s;
}

/** ℓ_align: the mean of ‖f(x_i) − f(y_i)‖² over the pairs (x_i, y_i), embeddings L2-normalised. */
export function alignment(x: ArrayLike<number>[], y: ArrayLike<number>[]): number {
  if (x.length !== y.length) throw new RangeError(`alignment: ${x.length} vs ${y.length} vectors`);
  if (x.length === 0) throw new RangeError("alignment: no positive pairs");
  let s = 0;
  for (let i = 0; i < x.length; i++) s += sqDist(normalized(x[i]), normalized(y[i]));
  return s / x.length;
}

/** ℓ_uniform: log of the mean of exp(−t‖f(x) − f(y)‖²) over all unordered pairs of distinct rows (t = 2). */
export function uniformity(x: ArrayLike<number>[], t = 2): number {
  if (x.length < 2) throw new RangeError("uniformity: needs at least 2 vectors");
  const n = x.map(normalized);
  let s = 0;
  for (let i = 0; i < n.length; i++) {
    for (let j = i + 1; j < n.length; j++) s += Math.exp(-t * sqDist(n[i], n[j]));
  }
  return Math.log(s / (n.length * (n.length - 1) / 2));
}

/** The inputs of both metrics taken from one STS pair list. */
export interface AlignUniformData {
  /** Pairs with gold score > 4, in file order. */
  positives: { s1: string[]; s2: string[] };
  /** Every distinct sentence of the list, in order of first appearance. */
  sentences: string[];
}

/** Positive pairs (gold > `threshold`, default 4) and distinct sentences of a pair list. */
export function alignUniformData(pairs: PairList, threshold = 4): AlignUniformData {
  const positives = { s1: [] as string[], s2: [] as string[] };
  const seen = new Set<string>();
  for (let i = 0; i < pairs.gold.length; i++) {
    if (pairs.gold[i] > threshold) {
      positives.s1.push(pairs.s1[i]);
      positives.s2.push(pairs.s2[i]);
    }
    seen.add(pairs.s1[i]);
    seen.add(pairs.s2[i]);
  }
  return { positives, sentences: [...seen] };
}

/** What {@link alignUniform} returns. */
export interface AlignUniformResult {
  /** ℓ_align (lower: positives closer). */
  align: number;
  /** ℓ_uniform (lower: more uniform). */
  uniform: number;
  /** Positive pairs used for ℓ_align. */
  positives: number;
  /** Distinct sentences used for ℓ_uniform. */
  sentences: number;
}

/** Options of {@link alignUniform}. */
export interface AlignUniformOptions {
  /** STS-B split (default "dev", the split training evaluates on). */
  split?: "dev" | "test";
  /** Sentences per call of `embed` (default 128). */
  batchSize?: number;
  /** Check the split's pair count against SentEval's (default true). */
  checkCounts?: boolean;
  /** Called after each batch with sentences done and in total. */
  onProgress?: (done: number, total: number) => void;
}

/**
 * ℓ_align and ℓ_uniform of `embed` on STS-B (`<dataDir>/senteval/STS/STSBenchmark/sts-<split>.csv`).
 * Each distinct sentence is embedded once, in batches of `batchSize`. Meant to be logged next to
 * STS-B dev at every evaluation of a training run (`{ align, uniform }` in `metrics.jsonl`).
 */
export async function alignUniform(
  embed: EmbedFn,
  dataDir: string,
  opts: AlignUniformOptions = {},
): Promise<AlignUniformResult> {
  const batchSize = opts.batchSize ?? 128;
  const data = alignUniformData(
    await loadStsBenchmark(dataDir, opts.split ?? "dev", { checkCounts: opts.checkCounts ?? true }),
  );
  const vec = new Map<string, Float32Array>();
  for (let i = 0; i < data.sentences.length; i += batchSize) {
    const batch = data.sentences.slice(i, i + batchSize);
    const out = await embed(batch);
    if (out.length !== batch.length) {
      throw new RangeError(`embed returned ${out.length} vectors for ${batch.length}`);
    }
    batch.forEach((s, k) => vec.set(s, out[k]));
    opts.onProgress?.(Math.min(i + batchSize, data.sentences.length), data.sentences.length);
  }
  const get = (s: string) => vec.get(s)!;
  return {
    align: alignment(data.positives.s1.map(get), data.positives.s2.map(get)),
    uniform: uniformity(data.sentences.map(get)),
    positives: data.positives.s1.length,
    sentences: data.sentences.length,
  };
}
