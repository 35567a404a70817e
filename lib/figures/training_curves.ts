/**
 * Figure (a): a run's training loss and its dev score against the training step, from the run
 * record `results/<experiment>/<runId>/metrics.jsonl` (one JSON object per line: `kind: "train"`
 * lines carry `loss`, `kind: "eval"` lines carry the dev Spearman × 100 per task, e.g.
 * `STSBenchmark`). Loss is on the left axis, the dev score on the right; the best evaluation (the
 * checkpoint kept) is marked.
 *
 * @example
 * ```ts
 * import { trainingCurvesFigure } from "./training_curves.ts";
 * const fig = trainingCurvesFigure([
 *   { step: 0, kind: "eval", STSBenchmark: 60.1 },
 *   { step: 1, kind: "train", loss: 2.3 },
 *   { step: 2, kind: "train", loss: 1.9 },
 *   { step: 2, kind: "eval", STSBenchmark: 64.0 },
 * ], { title: "demo" });
 * console.log(fig.data.map((t) => t.name)); // ["training loss", "STS-B dev", "best checkpoint"]
 * ```
 * @module
 */
import { InputError } from "../runtime/errors.ts";
import { readInputText } from "../checkpoint/read_input.ts";
import { AXIS, BASE_LAYOUT, type PlotlyFigure, type PlotlyTrace } from "./plotly_figure.ts";

/** One line of `metrics.jsonl` (the fields the figure reads). */
export interface MetricsEntry {
  /** Optimizer step. */
  step: number;
  /** What the line records (`train`, `eval`, …). */
  kind?: string;
  /** Training loss at that step. */
  loss?: number;
  /** Any other field of the line (dev scores by task name, align/uniform, …). */
  [key: string]: unknown;
}

/** Human labels of dev tasks on the axis and legend. */
const TASK_LABEL: Record<string, string> = {
  STSBenchmark: "STS-B dev",
  SICKRelatedness: "SICK-R dev",
  LCQMC: "LCQMC dev",
  PAWSX: "PAWSX dev",
  "STSB-zh": "STS-B-zh dev",
};

/** The dev task a run selects its checkpoint on, from `summary.json`'s `selectionMetric`. */
export function devTaskOf(selectionMetric: unknown): string {
  const m: Record<string, string> = {
    stsb_spearman: "STSBenchmark",
    lcqmc_spearman: "LCQMC",
    pawsx_spearman: "PAWSX",
  };
  return m[String(selectionMetric)] ?? "STSBenchmark";
}

/**
 * The dev evaluation whose checkpoint the trainer kept: the last one marked `improved`, else (records
 * without that field) the first maximum, as the trainer keeps a checkpoint only on a strict
 * improvement. The step-0 evaluation of the untrained model is never a checkpoint.
 */
export function bestCheckpoint(evals: MetricsEntry[], task: string): MetricsEntry | null {
  const trained = evals.filter((e) => e.step > 0 && typeof e[task] === "number");
  const improved = trained.filter((e) => e.improved === true);
  if (improved.length > 0) return improved[improved.length - 1];
  if (trained.length === 0) return null;
  return trained.reduce((a, b) => ((b[task] as number) > (a[task] as number) ? b : a));
}

/** Parse `metrics.jsonl` text; a bad line is an InputError naming the file and line. */
export function parseMetrics(text: string, file = "metrics.jsonl"): MetricsEntry[] {
  const out: MetricsEntry[] = [];
  text.split("\n").forEach((raw, i) => {
    const line = raw.trim();
    if (!line) return;
    let e: unknown;
    try {
      e = JSON.parse(line);
    } catch (err) {
      throw new InputError(`not valid JSON (${(err as Error).message})`, { file, line: i + 1 });
    }
    if (typeof e !== "object" || e === null || !Number.isFinite((e as MetricsEntry).step)) {
      throw new InputError("each line must be a JSON object with a numeric 'step'", { file, line: i + 1 });
    }
    out.push(e as MetricsEntry);
  });
  return out;
}

/** The metrics of a run folder (`<runDir>/metrics.jsonl`). */
export async function readMetrics(runDir: string): Promise<MetricsEntry[]> {
  const file = `${runDir}/metrics.jsonl`;
  return parseMetrics(await readInputText(file), file);
}

/** Options of {@link trainingCurvesFigure}. */
export interface TrainingCurvesOptions {
  /** Figure title (default "Training loss and <task> dev"). */
  title?: string;
  /** The eval key plotted on the right axis (default `STSBenchmark`). */
  devTask?: string;
}

/** Loss (left axis) and dev score (right axis) against step, with the best evaluation marked. */
export function trainingCurvesFigure(
  entries: MetricsEntry[],
  opts: TrainingCurvesOptions = {},
): PlotlyFigure {
  const task = opts.devTask ?? "STSBenchmark";
  const label = TASK_LABEL[task] ?? `${task} dev`;
  const train = entries.filter((e) =>
    e.kind === "train" && typeof e.loss === "number" && Number.isFinite(e.loss)
  );
  const evals = entries.filter((e) => e.kind === "eval" && typeof e[task] === "number");
  const loss: PlotlyTrace = {
    type: "scatter",
    mode: "lines",
    name: "training loss",
    x: train.map((e) => e.step),
    y: train.map((e) => e.loss as number),
    yaxis: "y",
    line: { width: 1.5, color: "#1f77b4" },
    hovertemplate: "step %{x}<br>loss %{y:.4f}<extra></extra>",
  };
  const dev: PlotlyTrace = {
    type: "scatter",
    mode: "lines+markers",
    name: label,
    x: evals.map((e) => e.step),
    y: evals.map((e) => e[task] as number),
    yaxis: "y2",
    line: { width: 2, color: "#d62728" },
    marker: { size: 6 },
    hovertemplate: `step %{x}<br>${label} %{y:.2f}<extra></extra>`,
  };
  const data = [loss, dev];
  const best = bestCheckpoint(evals, task);
  if (best) {
    data.push({
      type: "scatter",
      mode: "markers",
      name: "best checkpoint",
      x: [best.step],
      y: [best[task] as number],
      yaxis: "y2",
      marker: { size: 13, symbol: "star", color: "#ff7f0e", line: { width: 1, color: "#333" } },
      hovertemplate: `best: step %{x}<br>${label} %{y:.2f}<extra></extra>`,
    });
  }
  return {
    data,
    layout: {
      title: { text: opts.title ?? `Training loss and ${label}` },
      ...BASE_LAYOUT,
      xaxis: { ...AXIS, title: { text: "training step" } },
      yaxis: { ...AXIS, title: { text: "contrastive loss" } },
      yaxis2: {
        title: { text: `${label} Spearman × 100` },
        overlaying: "y",
        side: "right",
        showgrid: false,
        zeroline: false,
      },
      legend: { orientation: "h", x: 0, y: -0.2 },
      margin: { t: 60, r: 70, b: 90, l: 70 },
    },
  };
}
