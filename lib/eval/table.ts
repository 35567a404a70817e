/**
 * Renders evaluation scores in the official layout (docs/SIMCSE.md §c.3): a PrettyTable-style text
 * table with the header row `STS12 STS13 STS14 STS15 STS16 STSBenchmark SICKRelatedness Avg.` and
 * one row of `"%.2f"` values (dev mode: `STSBenchmark SICKRelatedness`), plus a Markdown variant.
 * Chinese scores (LCQMC, PAWSX, STSB-zh) go in a second table.
 *
 * Only the columns present in the score record are shown: tasks that did not run are left out
 * rather than printed as 0.00 (the official script prints 0.00 and averages it in).
 *
 * Cell alignment follows PrettyTable's default ("c"): one space of padding on each side; when the
 * leftover space is odd, the extra space goes right of odd-length text and left of even-length
 * text, which gives the familiar `|  Avg. |` and `|    84.26     |`.
 *
 * @example
 * ```ts
 * import { renderTable } from "./table.ts";
 * console.log(renderTable(["STS12", "Avg."], ["68.40", "68.40"]));
 * // +-------+-------+
 * // | STS12 |  Avg. |
 * // +-------+-------+
 * // | 68.40 | 68.40 |
 * // +-------+-------+
 * ```
 * @module
 */

import { formatFixed2 } from "./py_format.ts";
import { CHINESE_TASKS, type EvalMode, STS_TASKS } from "./sts_eval.ts";

/** One table: column names and their already-formatted cells. */
export interface ScoreTable {
  columns: string[];
  values: string[];
}

function centre(text: string, width: number): string {
  const len = Array.from(text).length;
  const excess = width - len;
  const half = Math.floor(excess / 2);
  if (excess % 2 === 0) return " ".repeat(half) + text + " ".repeat(half);
  return len % 2 === 1
    ? " ".repeat(half) + text + " ".repeat(half + 1)
    : " ".repeat(half + 1) + text + " ".repeat(half);
}

/** A PrettyTable-style text table with one header row and one data row. */
export function renderTable(columns: string[], values: string[]): string {
  if (columns.length !== values.length) {
    throw new RangeError(`renderTable: ${columns.length} columns but ${values.length} values`);
  }
  const widths = columns.map((c, i) => Math.max(Array.from(c).length, Array.from(values[i]).length));
  const rule = "+" + widths.map((w) => "-".repeat(w + 2)).join("+") + "+";
  const row = (cells: string[]) => "|" + cells.map((c, i) => ` ${centre(c, widths[i])} `).join("|") + "|";
  return [rule, row(columns), rule, row(values), rule].join("\n");
}

/** The same table in Markdown (numbers right-aligned). */
export function renderMarkdownTable(columns: string[], values: string[]): string {
  if (columns.length !== values.length) {
    throw new RangeError(`renderMarkdownTable: ${columns.length} columns but ${values.length} values`);
  }
  return [
    `| ${columns.join(" | ")} |`,
    `|${columns.map(() => "---:").join("|")}|`,
    `| ${values.join(" | ")} |`,
  ].join("\n");
}

/**
 * Splits a flat score record (as `evaluate()` returns) into the official tables: English STS in
 * table order with `Avg.` last, then the Chinese tasks. Empty groups are left out.
 */
export function scoreTables(scores: Record<string, number>): ScoreTable[] {
  const groups = [[...STS_TASKS, "Avg."], [...CHINESE_TASKS]];
  const tables: ScoreTable[] = [];
  for (const g of groups) {
    const columns = g.filter((c) => c in scores);
    if (columns.length > 0) tables.push({ columns, values: columns.map((c) => formatFixed2(scores[c])) });
  }
  return tables;
}

/** Text report like the official script: a `------ mode ------` line, then each table. */
export function renderScores(scores: Record<string, number>, mode: EvalMode): string {
  const parts = [`------ ${mode} ------`];
  for (const t of scoreTables(scores)) parts.push(renderTable(t.columns, t.values));
  return parts.join("\n");
}

/** Markdown report: each table, separated by a blank line. */
export function renderScoresMarkdown(scores: Record<string, number>): string {
  return scoreTables(scores).map((t) => renderMarkdownTable(t.columns, t.values)).join("\n\n");
}
