/**
 * Every figure the repository shows, built from the run records under `results/` (so `deno task
 * figures` and the notebooks draw the same things):
 *
 * | file stem | figure | from |
 * |---|---|---|
 * | `<experiment>-training` | training loss and dev score vs step of the experiment's latest finished run | `results/<experiment>/<runId>/metrics.jsonl` |
 * | `reproduction-sts` | STS test scores as grouped bars: paper and seed rows, then our runs | `experiments/reproduction/reference.json` + `results/reproduction/<runId>/summary.json` |
 * | `fp16-vs-fp32` | FP32 vs FP16 speed and memory of the latest bench record | `results/bench/*.json` |
 *
 * @example
 * ```ts
 * import { collectFigures } from "./all_figures.ts";
 * const { figures, notes } = await collectFigures("results");
 * console.log(figures.map((f) => f.name), notes);
 * ```
 * @module
 */
import { readRuns } from "../results/markdown_tables.ts";
import type { NamedFigure } from "./plotly_figure.ts";
import { devTaskOf, readMetrics, trainingCurvesFigure } from "./training_curves.ts";
import { readStsReference, stsBarsFigure, stsRowsFromRecords } from "./sts_bars.ts";
import { precisionBarsFigure, type PrecisionBench, precisionBenchFromJson } from "./precision_bars.ts";
import { InputError } from "../runtime/errors.ts";
import { alignUniformFigure } from "./align_uniform.ts";

/** The committed reference numbers of the reproduction experiment. */
export const REPRODUCTION_REFERENCE =
  new URL("../../experiments/reproduction/reference.json", import.meta.url).pathname;

/** Folders under `results/` that are not experiments. */
const NOT_EXPERIMENTS = new Set(["bench", "figures"]);

export interface CollectOptions {
  /** Reference rows for the STS bars (default: the reproduction experiment's `reference.json`). */
  referencePath?: string;
}

/** The figures and, for what could not be drawn, why. */
export interface CollectedFigures {
  figures: NamedFigure[];
  notes: string[];
}

async function listDir(dir: string): Promise<Deno.DirEntry[]> {
  const out: Deno.DirEntry[] = [];
  try {
    for await (const e of Deno.readDir(dir)) out.push(e);
  } catch (e) {
    if (!(e instanceof Deno.errors.NotFound)) throw e;
  }
  return out.sort((a, b) => a.name.localeCompare(b.name));
}

/** Finished runs of `experiment` that logged metrics, newest first, with their entries and a caption. */
async function* runsWithMetrics(resultsDir: string, experiment: string) {
  const runs = await readRuns(resultsDir, experiment);
  for (const run of runs.reverse()) {
    try {
      await Deno.stat(`${run.dir}/metrics.jsonl`);
    } catch {
      continue;
    }
    const preset = typeof run.config?.preset === "string" ? `${run.config.preset}, ` : "";
    yield {
      run,
      entries: await readMetrics(run.dir),
      caption: `${run.summary.runId} (${preset}${run.summary.backend})`,
    };
  }
}

/** Training curves of the latest finished run of `experiment` that logged metrics, or null. */
export async function latestTrainingFigure(
  resultsDir: string,
  experiment: string,
): Promise<NamedFigure | null> {
  for await (const { run, entries, caption } of runsWithMetrics(resultsDir, experiment)) {
    const s = run.summary as unknown as Record<string, unknown>;
    return {
      name: `${experiment}-training`,
      figure: trainingCurvesFigure(entries, {
        devTask: devTaskOf(s.selectionMetric),
        title: `${experiment}: run ${caption}`,
      }),
    };
  }
  return null;
}

/**
 * The alignment–uniformity trajectory of the latest finished run of `experiment` whose dev
 * evaluations logged `align` and `uniform`, or null (runs recorded before those metrics have none).
 */
export async function latestAlignUniformFigure(
  resultsDir: string,
  experiment: string,
): Promise<NamedFigure | null> {
  for await (const { entries, caption } of runsWithMetrics(resultsDir, experiment)) {
    const figure = alignUniformFigure(entries, {
      title: `${experiment}: alignment and uniformity, run ${caption}`,
    });
    if (figure) return { name: `${experiment}-align-uniform`, figure };
  }
  return null;
}

/** The latest precision bench record under `results/bench/` (by file name), or null. */
export async function latestPrecisionBench(
  resultsDir: string,
): Promise<{ file: string; bench: PrecisionBench } | null> {
  const files = (await listDir(`${resultsDir}/bench`)).filter((e) => e.isFile && e.name.endsWith(".json"));
  for (const f of files.reverse()) {
    const path = `${resultsDir}/bench/${f.name}`;
    let json: Record<string, unknown>;
    try {
      json = JSON.parse(await Deno.readTextFile(path));
    } catch (e) {
      throw new InputError(`not valid JSON (${(e as Error).message})`, { file: path });
    }
    const isPrecision = json?.kind === "fp16-bench" || (json?.fp32 !== undefined && json?.fp16 !== undefined);
    if (isPrecision) return { file: path, bench: precisionBenchFromJson(json, path) };
  }
  return null;
}

/** Every figure that the records under `resultsDir` allow. */
export async function collectFigures(
  resultsDir: string,
  opts: CollectOptions = {},
): Promise<CollectedFigures> {
  const figures: NamedFigure[] = [];
  const notes: string[] = [];
  for (const e of await listDir(resultsDir)) {
    if (!e.isDirectory || NOT_EXPERIMENTS.has(e.name)) continue;
    const fig = await latestTrainingFigure(resultsDir, e.name);
    if (fig) figures.push(fig);
    else notes.push(`${e.name}: no finished run with metrics.jsonl yet (no training curves)`);
    const au = await latestAlignUniformFigure(resultsDir, e.name);
    if (au) figures.push(au);
  }
  const ref = await readStsReference(opts.referencePath ?? REPRODUCTION_REFERENCE);
  const rows = stsRowsFromRecords(ref, await readRuns(resultsDir, "reproduction"));
  if (rows.length === ref.rows.length) {
    notes.push("reproduction: no run with final test scores yet (STS bars show the references only)");
  }
  figures.push({
    name: "reproduction-sts",
    figure: stsBarsFigure(rows, { title: "STS test × 100: targets (paper, seed) vs a from-scratch run" }),
  });
  const bench = await latestPrecisionBench(resultsDir);
  if (bench) {
    figures.push({
      name: "fp16-vs-fp32",
      figure: precisionBarsFigure(bench.bench, { title: `FP32 vs FP16 (${bench.file.split("/").pop()})` }),
      width: 900,
    });
  } else {
    notes.push("bench: no FP16 bench record in results/bench/ yet (run bench/fp16_bench.ts)");
  }
  return { figures, notes };
}
