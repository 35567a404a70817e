/**
 * Figure (b): the STS results table as grouped bars, one bar group per task (STS12–16, STS-B,
 * SICK-R, Avg.) and one bar per row: the reference rows (paper, seed implementation; from
 * `experiments/reproduction/reference.json`, each with its source) next to our runs' final test
 * scores from `results/<experiment>/<runId>/summary.json`. A missing cell draws no bar (never 0)
 * and is listed as "—" in the hover text.
 *
 * @example
 * ```ts
 * import { stsBarsFigure } from "./sts_bars.ts";
 * const fig = stsBarsFigure([{ name: "paper", scores: { STS12: 68.4, "Avg.": 76.25 } }]);
 * console.log(fig.data[0].y); // [68.4, null, null, null, null, null, null, 76.25]
 * ```
 * @module
 */
import { InputError } from "../runtime/errors.ts";
import { STS_TASKS } from "../eval/sts_eval.ts";
import { readInputText } from "../checkpoint/read_input.ts";
import type { RunRecordFiles } from "../results/markdown_tables.ts";
import { AXIS, BASE_LAYOUT, type PlotlyFigure, type PlotlyTrace } from "./plotly_figure.ts";

/** Columns of the SimCSE STS table, in the paper's order. */
export const STS_COLUMNS: readonly string[] = [...STS_TASKS, "Avg."];

const COLUMN_LABEL: Record<string, string> = {
  STSBenchmark: "STS-B",
  SICKRelatedness: "SICK-R",
  "Avg.": "Avg.",
};

/** One row of the table: a name and Spearman × 100 per column (absent = missing). */
export interface StsRow {
  /** Row (bar) name. */
  name: string;
  /** Spearman × 100 by column name. */
  scores: Record<string, number | null | undefined>;
  /** Where the numbers come from (shown in the hover text). */
  source?: string;
}

/** `reference.json`: published rows, each naming its source. */
export interface StsReference {
  /** The published rows: name, source and scores by column. */
  rows: { name: string; source: string; scores: Record<string, number> }[];
}

/** Read and check a reference file (an InputError names the file and the bad key). */
export async function readStsReference(path: string): Promise<StsReference> {
  let ref: StsReference;
  try {
    ref = JSON.parse(await readInputText(path));
  } catch (e) {
    if (e instanceof InputError) throw e;
    throw new InputError(`not valid JSON (${(e as Error).message})`, { file: path });
  }
  if (!Array.isArray(ref?.rows)) throw new InputError("expected a 'rows' array", { file: path, key: "rows" });
  ref.rows.forEach((r, i) => {
    if (typeof r?.name !== "string" || typeof r.scores !== "object" || r.scores === null) {
      throw new InputError("each row needs a 'name' and a 'scores' object", {
        file: path,
        key: `rows[${i}]`,
      });
    }
  });
  return ref;
}

/** Reference rows, then one row per run that has final test scores (named by run id, preset, backend). */
export function stsRowsFromRecords(ref: StsReference, runs: RunRecordFiles[]): StsRow[] {
  const rows: StsRow[] = ref.rows.map((r) => ({ name: r.name, scores: r.scores, source: r.source }));
  for (const { summary: s, config } of runs) {
    if (!s.finalScores) continue;
    // A run of a modified preset (`--set`, recorded in config.overrides) is not "ours" for the preset.
    if (Array.isArray(config?.overrides) && config.overrides.length > 0) continue;
    const preset = typeof config?.preset === "string" ? `${config.preset}, ` : "";
    const ours = config?.randomInit ? "ours, from scratch (random init)" : "ours";
    rows.push({
      name: `${ours}: ${s.runId} (${preset}${s.backend})`,
      scores: s.finalScores,
      source: "run record",
    });
  }
  return rows;
}

/** Grouped bars: x = task, one trace per row. */
export function stsBarsFigure(
  rows: StsRow[],
  opts: { title?: string; columns?: string[] } = {},
): PlotlyFigure {
  const cols = opts.columns ?? STS_COLUMNS;
  const x = cols.map((c) => COLUMN_LABEL[c] ?? c);
  const data: PlotlyTrace[] = rows.map((r) => {
    const y = cols.map((c) => {
      const v = r.scores[c];
      return typeof v === "number" && Number.isFinite(v) ? v : null;
    });
    return {
      type: "bar",
      name: r.name,
      x,
      y,
      text: y.map((v) => (v === null ? "—" : v.toFixed(2))),
      textposition: "none",
      hovertemplate: `${escapeTemplate(r.name)}<br>%{x}: %{text}${
        r.source ? `<br><i>${escapeTemplate(r.source)}</i>` : ""
      }<extra></extra>`,
    };
  });
  return {
    data,
    layout: {
      ...BASE_LAYOUT,
      title: { text: opts.title ?? "STS test, Spearman × 100" },
      barmode: "group",
      bargap: 0.18,
      xaxis: { ...AXIS, title: { text: "task" } },
      yaxis: { ...AXIS, title: { text: "Spearman × 100" }, rangemode: "tozero" },
      legend: { orientation: "h", x: 0, y: -0.22 },
      margin: { t: 60, r: 30, b: 110, l: 70 },
    },
  };
}

/** Hover text is HTML-ish: keep names literal. */
function escapeTemplate(s: string): string {
  return s.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;");
}
