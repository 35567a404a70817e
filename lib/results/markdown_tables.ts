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

export const BEGIN = "<!-- generated:begin (deno task tables; do not edit) -->";
export const END = "<!-- generated:end -->";

/** The summary.json a training run writes (fields the tables use). */
export interface RunSummary {
  runId: string;
  status: string;
  bestMetric: number | null;
  bestStep: number | null;
  steps: number;
  finalScores?: Record<string, number>;
  initialScores?: Record<string, number>;
  evalPooler?: string;
  note?: string;
  stepsPerSecond: number;
  wallSeconds: number;
  peakRssBytes: number;
  backend: string;
  trainExamples: number;
}

export interface RunRecordFiles {
  dir: string;
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

/** Rewrite the generated region of `path` (or, with `check`, only report). Returns true when it was stale. */
export async function updateRegion(path: string, content: string, check: boolean): Promise<boolean> {
  const old = await Deno.readTextFile(path);
  const next = replaceRegion(old, content, path);
  if (next === old) return false;
  if (!check) await writeFileAtomic(path, next);
  return true;
}
