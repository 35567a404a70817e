/**
 * Shared machinery for generated result tables: read the run records of an experiment, format
 * cells ("—" for missing, never 0), and rewrite only the marked region of a markdown file
 * (`--check` mode reports staleness instead of writing).
 *
 * @example
 * ```ts
 * import { cell, replaceRegion } from "./markdown_tables.ts";
 * console.log(cell(undefined)); // "—"
 * console.log(replaceRegion("a\n<!-- generated:begin (deno task tables; do not edit) -->\nold\n<!-- generated:end -->\n", "new"));
 * ```
 * @module
 */
import { writeFileAtomic } from "../runtime/atomic_write.ts";
import { InputError } from "../runtime/errors.ts";

export const BEGIN = "<!-- generated:begin (deno task tables; do not edit) -->";
export const END = "<!-- generated:end -->";

/** The summary.json a training run writes (fields the tables use). */
/** A run's `summary.json`: how it ended and what it scored. */
export interface RunSummary {
  /** The run folder's name (a timestamp and the preset). */
  runId: string;
  /** "completed", "interrupted" or "diverged". */
  status: string;
  /** Best dev selection metric (Spearman × 100), null when no step was evaluated. */
  bestMetric: number | null;
  /** Step of the best checkpoint, null when none was saved. */
  bestStep: number | null;
  /** Optimizer steps run. */
  steps: number;
  /** Test scores of the best checkpoint (column name -> Spearman × 100). */
  finalScores?: Record<string, number>;
  /** Test scores before training, when the preset evaluates the initial model. */
  initialScores?: Record<string, number>;
  /** The pooler the scores were computed with. */
  evalPooler?: string;
  /** A preset's note on how the run differs from the recipe. */
  note?: string;
  /** Optimizer steps per second of wall-clock time. */
  stepsPerSecond: number;
  /** Wall-clock seconds of the run. */
  wallSeconds: number;
  /** Peak resident memory of the process, in bytes. */
  peakRssBytes: number;
  /** The backend the run used. */
  backend: string;
  /** Training examples read. */
  trainExamples: number;
}

/** One run record as read by {@link readRuns}. */
export interface RunRecordFiles {
  /** The run folder. */
  dir: string;
  /** Its `summary.json`. */
  summary: RunSummary;
  /** The resolved training config. */
  config: Record<string, unknown>;
}

/** Every finished run of `experiment` under `resultsDir`, sorted by run id. */
export async function readRuns(resultsDir: string, experiment: string): Promise<RunRecordFiles[]> {
  const out: RunRecordFiles[] = [];
  try {
    for await (const e of Deno.readDir(`${resultsDir}/${experiment}`)) {
      if (!e.isDirectory) continue;
      const dir = `${resultsDir}/${experiment}/${e.name}`;
      try {
        const summary = JSON.parse(await Deno.readTextFile(`${dir}/summary.json`)) as RunSummary;
        const cfg = JSON.parse(await Deno.readTextFile(`${dir}/config.json`));
        out.push({ dir, summary, config: cfg.config as Record<string, unknown> });
      } catch { /* a run in progress has no summary yet */ }
    }
  } catch { /* no results yet */ }
  return out.sort((a, b) => a.summary.runId.localeCompare(b.summary.runId));
}

/** A score cell: two decimals, "—" when missing. */
export function cell(v: number | null | undefined): string {
  return v === null || v === undefined || Number.isNaN(v) ? "—" : v.toFixed(2);
}

/** A markdown table from a header and rows of cells. */
export function markdownTable(header: string[], rows: string[][]): string {
  return [
    `| ${header.join(" | ")} |`,
    `|${header.map(() => "---").join("|")}|`,
    ...rows.map((r) => `| ${r.join(" | ")} |`),
  ].join("\n");
}

/**
 * A markdown table with every column padded to its widest cell, as `deno fmt` lays tables out: for
 * generated tables in files that the formatter also checks (README.md).
 */
export function alignedMarkdownTable(header: string[], rows: string[][]): string {
  const width = header.map((h, j) => Math.max(3, h.length, ...rows.map((r) => (r[j] ?? "").length)));
  const line = (cells: string[]) => `| ${width.map((w, j) => (cells[j] ?? "").padEnd(w)).join(" | ")} |`;
  return [line(header), `| ${width.map((w) => "-".repeat(w)).join(" | ")} |`, ...rows.map(line)].join("\n");
}

/** Replace the generated region of `text` with `content`. */
export function replaceRegion(text: string, content: string, file = "markdown file"): string {
  const a = text.indexOf(BEGIN), b = text.indexOf(END);
  if (a < 0 || b < a) throw new Error(`${file}: generated-region markers are missing`);
  return text.slice(0, a + BEGIN.length) + "\n" + content + "\n" + text.slice(b);
}

/**
 * The generated region of `text`: the lines between a `<!-- generated:begin … -->` line (whatever
 * command it names) and {@link END}, without them; null when it has none.
 */
export function generatedRegion(text: string): string | null {
  const a = text.indexOf("<!-- generated:begin");
  const from = text.indexOf("\n", a);
  const b = text.indexOf(END, Math.max(a, 0));
  if (a < 0 || from < 0 || b < from) return null;
  return text.slice(from + 1, b).replace(/\n$/, "");
}

/** The generated table of a markdown file (e.g. an experiment's RESULTS.md); an error when it has none. */
export async function readGeneratedTable(path: string): Promise<string> {
  const region = generatedRegion(await Deno.readTextFile(path));
  if (region === null) throw new InputError(`${path}: no generated table (the markers are missing)`);
  return region;
}

/** Rewrite the generated region of `path` (or, with `check`, only report). Returns true when it was stale. */
export async function updateRegion(path: string, content: string, check: boolean): Promise<boolean> {
  const old = await Deno.readTextFile(path);
  const next = replaceRegion(old, content, path);
  if (next === old) return false;
  if (!check) await writeFileAtomic(path, next);
  return true;
}
