/**
 * Generates the table in `experiments/reproduction/RESULTS.md` from the run records in
 * `results/reproduction/*` and the reference numbers in `reference.json` (each with its source).
 *
 * @module
 */
import { cell, markdownTable, readRuns, updateRegion } from "../../lib/results/markdown_tables.ts";

const HERE = new URL(".", import.meta.url).pathname;
const ROOT = new URL("../../", import.meta.url).pathname;
const COLS = ["STS12", "STS13", "STS14", "STS15", "STS16", "STSBenchmark", "SICKRelatedness", "Avg."];

interface Reference {
  rows: { name: string; source: string; stsbDev: number; scores: Record<string, number> }[];
}

/** The markdown of the generated region. */
export async function reproductionTable(resultsDir = `${ROOT}results`): Promise<string> {
  const ref = JSON.parse(await Deno.readTextFile(`${HERE}reference.json`)) as Reference;
  const rows: string[][] = ref.rows.map((r) => [
    `${r.name} (reference: ${r.source})`,
    cell(r.stsbDev),
    ...COLS.map((c) => cell(r.scores[c])),
    "—",
    "—",
  ]);
  for (const { summary: s, config } of await readRuns(resultsDir, "reproduction")) {
    const run = `\`${s.runId}\` (${config.preset}, ${s.backend}, ${s.status})`;
    if (s.initialScores) {
      rows.push([
        `ours: untrained model, ${run}`,
        "—",
        ...COLS.map((c) => cell(s.initialScores?.[c])),
        "—",
        "—",
      ]);
    }
    rows.push([
      `ours: SimCSE, ${run}`,
      cell(s.bestMetric),
      ...COLS.map((c) => cell(s.finalScores?.[c])),
      s.stepsPerSecond.toFixed(2),
      (s.peakRssBytes / 1e9).toFixed(2),
    ]);
  }
  return markdownTable(["run", "STS-B dev", ...COLS, "steps/s", "peak RSS (GB)"], rows);
}

/** Rewrite the generated region of RESULTS.md; returns true when it was stale. */
export async function writeResultsMarkdown(check = false, resultsDir?: string): Promise<boolean> {
  return await updateRegion(`${HERE}RESULTS.md`, await reproductionTable(resultsDir), check);
}
