/**
 * The STS evaluator (docs/SIMCSE.md §c, §d.3). It takes an embedding function, never a model, and
 * reproduces SentEval's loop exactly: for each subset, in sorted order, batches of `batchSize`
 * (default 128, SentEval's engine default) where the batch's first sentences are embedded, then
 * its second sentences; one cosine per pair with `nan_to_num` semantics (a zero vector gives 0).
 *
 * - STS12–16: Spearman/Pearson per subset, and the reported number `all` = Spearman over the
 *   concatenation of every subset's (cosine, gold); the subset `mean`/`wmean` are kept too.
 * - STSBenchmark, SICKRelatedness: the test split in mode "test", the dev split in mode "dev".
 * - LCQMC, PAWSX, STSB-zh: Spearman between the cosine and the label on the test split (mode
 *   "test") or the valid split (mode "dev"). By default the encoder gets the sentence unchanged
 *   (the same text as training); `chineseText: "spaced"` gives it SimCSE-jittor's evaluation text,
 *   one space between every code point (its batcher does `" ".join(s)` on a raw string).
 * - Mode "dev" mirrors the official `evaluation.py --mode dev`: STS12–16 have no dev split, so they
 *   are skipped (listed in `skipped`) and only STSBenchmark/SICKRelatedness (and Chinese) run.
 *
 * The flat `scores` record holds Spearman×100 rounded like Python's `"%.2f"` for each task that
 * ran, keyed by column name. `Avg.` is the mean of the 7 already-rounded English values (as
 * `evaluation.py` averages its "%.2f" strings), rounded again. Deliberate difference from the
 * official script: `Avg.` is present only when all 7 English tasks ran in mode "test"; the
 * official script counts a task that did not run as 0.00.
 *
 * The cosine is computed in float64 from the float32 vectors (SentEval computes it in float32);
 * `nan_to_num` maps NaN to 0 and ±Infinity to ±float32 max in the inputs, and NaN to 0 in the result.
 *
 * @example
 * ```ts
 * import { evaluate } from "./sts_eval.ts";
 * const embed = (sents: string[]) => Promise.resolve(sents.map((s) => new Float32Array([s.length, 1])));
 * const r = await evaluate(embed, { dataDir: "data", mode: "dev", tasks: ["STSBenchmark"] });
 * console.log(r.scores); // { STSBenchmark: ... }
 * ```
 * @module
 */

import {
  type ChineseTask,
  type EnSplit,
  loadChinese,
  loadSickRelatedness,
  loadStsBenchmark,
  loadStsYear,
  type PairList,
  spaceCodePoints,
  type StsTask,
  type StsYear,
  type ZhSplit,
} from "./sts_data.ts";
import { pearson, spearman } from "./spearman.ts";
import { formatFixed2 } from "./py_format.ts";
import { firstNonFinite } from "../checkpoint/state_dict.ts";
import { inputError } from "../runtime/printable.ts";

export type { ChineseTask, StsTask } from "./sts_data.ts";

/** One vector per sentence, in the order given. */
export type EmbedFn = (sentences: string[]) => Promise<Float32Array[]>;
/** Any task the evaluator knows. */
export type EvalTask = StsTask | ChineseTask;
/** "test": the reported numbers; "dev": model-selection numbers (STS-B/SICK dev, Chinese valid). */
export type EvalMode = "test" | "dev";

/** The English STS tasks in the official table order. */
export const STS_TASKS: readonly StsTask[] = [
  "STS12",
  "STS13",
  "STS14",
  "STS15",
  "STS16",
  "STSBenchmark",
  "SICKRelatedness",
];
/** The Chinese tasks in table order. */
export const CHINESE_TASKS: readonly ChineseTask[] = ["LCQMC", "PAWSX", "STSB-zh"];
/** STS12–16: the tasks scored in SentEval's "all" setting (the rest of `STS_TASKS` are single test sets). */
const STS_YEARS: readonly string[] = STS_TASKS.slice(0, 5);

/** Options of {@link evaluate}. */
export interface EvalOptions {
  /** The data folder (see `resolveDataDir`). */
  dataDir: string;
  /** Which splits to score: "test" (the reported numbers) or "dev" (model selection). */
  mode: EvalMode;
  /** Tasks to run; duplicates are ignored, results come in table order. */
  tasks: EvalTask[];
  /** Pairs per batch (SentEval default 128). */
  batchSize?: number;
  /** Called after each batch with pairs done and pairs in total. */
  onProgress?: (done: number, total: number) => void;
  /** Text given to the encoder for Chinese sentences: "raw" (default; the same text as training) or "spaced" (a space between every character, as SimCSE-jittor's evaluation did, which splits Latin words and digits only at evaluation). */
  chineseText?: "spaced" | "raw";
  /** Check pair counts against the expected SentEval counts (default true). */
  checkCounts?: boolean;
}

/** Correlations of one group of pairs. */
export interface Correlation {
  /** Number of pairs. */
  n: number;
  /** Spearman rank correlation of cosine and gold score, in [-1, 1]. */
  spearman: number;
  /** Pearson correlation of cosine and gold score, in [-1, 1]. */
  pearson: number;
}

/** One STS12–16 subset. */
export interface SubsetResult extends Correlation {
  /** SentEval's subset name (e.g. "MSRpar"). */
  name: string;
}

/** The result of one task. `spearman`/`pearson` are the reported ones (`all` for STS12–16). */
export interface TaskResult extends Correlation {
  /** The task scored. */
  task: EvalTask;
  /** Which split was scored. */
  split: "test" | "dev" | "valid";
  /** Spearman × 100, unrounded. */
  spearman100: number;
  /** STS12–16 only: per-subset results in SentEval order. */
  subsets?: SubsetResult[];
  /** STS12–16 only: plain mean of the subset Spearmans. */
  meanSpearman?: number;
  /** STS12–16 only: mean of the subset Spearmans weighted by subset size (paper Table B.3). */
  wmeanSpearman?: number;
}

/** Everything {@link evaluate} returns. */
export interface EvalResult {
  /** The mode the tasks ran in. */
  mode: EvalMode;
  /** Results in table order (English STS order, then Chinese). */
  tasks: TaskResult[];
  /** Column name → Spearman×100 rounded to 2 decimals ("%.2f"), plus `Avg.` when defined. */
  scores: Record<string, number>;
  /** Tasks that were asked for but not run, with why. */
  skipped: { task: EvalTask; reason: string }[];
}

const FLT_MAX = 3.4028234663852886e38;

function clean(x: number): number {
  if (Number.isNaN(x)) return 0;
  if (x === Infinity) return FLT_MAX;
  if (x === -Infinity) return -FLT_MAX;
  return x;
}

/** Cosine of two vectors with SentEval's `nan_to_num` semantics (zero vector → 0). */
export function cosineNanToNum(u: ArrayLike<number>, v: ArrayLike<number>): number {
  if (u.length !== v.length) throw new RangeError(`cosine: dimension mismatch ${u.length} vs ${v.length}`);
  let dot = 0;
  let uu = 0;
  let vv = 0;
  for (let i = 0; i < u.length; i++) {
    const a = clean(u[i]);
    const b = clean(v[i]);
    dot += a * b;
    uu += a * a;
    vv += b * b;
  }
  const c = dot / (Math.sqrt(uu) * Math.sqrt(vv));
  return Number.isNaN(c) ? 0 : c;
}

/** One unit of work: a named list of pairs scored together. */
interface Job {
  name: string;
  pairs: PairList;
}

interface LoadedTask {
  task: EvalTask;
  split: "test" | "dev" | "valid";
  jobs: Job[];
}

/** Spearman × 100 rounded like Python's "%.2f", as a number. */
function round2(x: number): number {
  return Number(formatFixed2(x));
}

/**
 * Runs the requested tasks with `embed` and returns per-task correlations and the flat score
 * record. All data is loaded (and validated) before the first call to `embed`.
 */
export async function evaluate(embed: EmbedFn, opts: EvalOptions): Promise<EvalResult> {
  const batchSize = opts.batchSize ?? 128;
  if (!Number.isInteger(batchSize) || batchSize < 1) {
    throw new RangeError(`batchSize must be a positive integer, got ${batchSize}`);
  }
  const wanted = new Set(opts.tasks);
  for (const t of wanted) {
    if (!(STS_TASKS as readonly string[]).includes(t) && !(CHINESE_TASKS as readonly string[]).includes(t)) {
      throw new RangeError(`unknown task ${JSON.stringify(t)}`);
    }
  }
  const ordered: EvalTask[] = [...STS_TASKS, ...CHINESE_TASKS].filter((t) => wanted.has(t));
  const loadOpts = { checkCounts: opts.checkCounts ?? true };
  const skipped: EvalResult["skipped"] = [];
  const loaded: LoadedTask[] = [];
  const zhSpaced = (opts.chineseText ?? "raw") === "spaced";

  for (const task of ordered) {
    if (STS_YEARS.includes(task)) {
      if (opts.mode === "dev") {
        skipped.push({
          task,
          reason: "no dev split (dev mode reports STSBenchmark and SICKRelatedness only)",
        });
        continue;
      }
      const subsets = await loadStsYear(opts.dataDir, task as StsYear, loadOpts);
      loaded.push({ task, split: "test", jobs: subsets.map((s) => ({ name: s.name, pairs: s })) });
    } else if (task === "STSBenchmark" || task === "SICKRelatedness") {
      const split: EnSplit = opts.mode === "dev" ? "dev" : "test";
      const pairs = task === "STSBenchmark"
        ? await loadStsBenchmark(opts.dataDir, split, loadOpts)
        : await loadSickRelatedness(opts.dataDir, split, loadOpts);
      loaded.push({ task, split, jobs: [{ name: split, pairs }] });
    } else {
      const split: ZhSplit = opts.mode === "dev" ? "valid" : "test";
      const raw = await loadChinese(opts.dataDir, task as ChineseTask, split, loadOpts);
      const pairs = zhSpaced
        ? { s1: raw.s1.map(spaceCodePoints), s2: raw.s2.map(spaceCodePoints), gold: raw.gold }
        : raw;
      loaded.push({ task, split, jobs: [{ name: split, pairs }] });
    }
  }

  const total = loaded.reduce((acc, t) => acc + t.jobs.reduce((a, j) => a + j.pairs.gold.length, 0), 0);
  let done = 0;
  const runJob = async (pairs: PairList, task: string): Promise<Float64Array> => {
    const n = pairs.gold.length;
    const sys = new Float64Array(n);
    for (let i = 0; i < n; i += batchSize) {
      const b1 = pairs.s1.slice(i, i + batchSize);
      const b2 = pairs.s2.slice(i, i + batchSize);
      const e1 = checkEmbeddings(await embed(b1), b1, task);
      const e2 = checkEmbeddings(await embed(b2), b2, task);
      for (let k = 0; k < b1.length; k++) sys[i + k] = cosineNanToNum(e1[k], e2[k]);
      done += b1.length;
      opts.onProgress?.(done, total);
    }
    return sys;
  };

  const results: TaskResult[] = [];
  for (const t of loaded) {
    const subsets: SubsetResult[] = [];
    const allSys: number[] = [];
    const allGold: number[] = [];
    for (const job of t.jobs) {
      const sys = await runJob(job.pairs, t.task);
      subsets.push({
        name: job.name,
        n: sys.length,
        spearman: spearman(sys, job.pairs.gold),
        pearson: pearson(sys, job.pairs.gold),
      });
      for (let i = 0; i < sys.length; i++) {
        allSys.push(sys[i]);
        allGold.push(job.pairs.gold[i]);
      }
    }
    const rho = spearman(allSys, allGold);
    const r: TaskResult = {
      task: t.task,
      split: t.split,
      n: allSys.length,
      spearman: rho,
      pearson: pearson(allSys, allGold),
      spearman100: rho * 100,
    };
    if (STS_YEARS.includes(t.task)) {
      r.subsets = subsets;
      r.meanSpearman = subsets.reduce((a, s) => a + s.spearman, 0) / subsets.length;
      r.wmeanSpearman = subsets.reduce((a, s) => a + s.spearman * s.n, 0) / r.n;
    }
    results.push(r);
  }
  return { mode: opts.mode, tasks: results, scores: scoreRecord(results, opts.mode), skipped };
}

/**
 * The flat column → value record: "%.2f"-rounded Spearman×100 per task, and `Avg.` (mean of the 7
 * rounded English values, rounded again) only when all 7 English tasks ran in mode "test".
 */
export function scoreRecord(results: TaskResult[], mode: EvalMode): Record<string, number> {
  const byTask = new Map(results.map((r) => [r.task as string, r]));
  const scores: Record<string, number> = {};
  const en: number[] = [];
  for (const t of STS_TASKS) {
    const r = byTask.get(t);
    if (!r) continue;
    scores[t] = round2(r.spearman100);
    en.push(scores[t]);
  }
  if (mode === "test" && en.length === STS_TASKS.length) {
    let sum = 0;
    for (const v of en) sum += v; // left to right, like Python's sum()
    scores["Avg."] = round2(sum / en.length);
  }
  for (const t of CHINESE_TASKS) {
    const r = byTask.get(t);
    if (r) scores[t] = round2(r.spearman100);
  }
  return scores;
}

function checkEmbeddings(vecs: Float32Array[], sentences: string[], task: string): Float32Array[] {
  const expected = sentences.length;
  if (!Array.isArray(vecs) || vecs.length !== expected) {
    throw new Error(
      `embed function returned ${
        Array.isArray(vecs) ? vecs.length : typeof vecs
      } vectors, expected ${expected}`,
    );
  }
  // A NaN or infinite embedding would silently become cosine 0 (SentEval's nan_to_num) and a
  // meaningless or NaN correlation: refuse it.
  for (let i = 0; i < vecs.length; i++) {
    const d = firstNonFinite(vecs[i]);
    if (d >= 0) {
      throw inputError(
        `${task}: the embedding of ${JSON.stringify(sentences[i].slice(0, 80))} has ${
          vecs[i][d]
        } at dimension ${d}; the model's weights or activations overflow, so no score is meaningful`,
      );
    }
  }
  return vecs;
}
