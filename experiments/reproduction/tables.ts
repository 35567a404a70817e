/**
 * Generates the table in `experiments/reproduction/RESULTS.md` from the run records in
 * `results/reproduction/*` and the reference numbers in `reference.json` (each with its source).
 * Only the region between the generated markers is rewritten; missing cells show "—".
 *
 * @module
 */
import { writeFileAtomic } from "../../lib/io/atomic_write.ts";

const HERE = new URL(".", import.meta.url).pathname;
const ROOT = new URL("../../", import.meta.url).pathname;
const COLS = ["STS12", "STS13", "STS14", "STS15", "STS16", "STSBenchmark", "SICKRelatedness", "Avg."];
export const BEGIN = "<!-- generated:begin (deno task tables; do not edit) -->";
export const END = "<!-- generated:end -->";

interface Summary {
  runId: string;
  status: string;
  bestMetric: number | null;
  bestStep: number | null;
  steps: number;
  finalScores?: Record<string, number>;
  stepsPerSecond: number;
  wallSeconds: number;
  peakRssBytes: number;
  backend: string;
  trainExamples: number;
}

const cell = (v: number | null | undefined) => v === null || v === undefined ? "—" : v.toFixed(2);

/** Read every run record of an experiment (completed ones first by id). */
export async function readRuns(
  experiment: string,
  resultsDir = `${ROOT}results`,
): Promise<{ summary: Summary; config: Record<string, unknown> }[]> {
  const out = [];
  try {
    for await (const e of Deno.readDir(`${resultsDir}/${experiment}`)) {
      if (!e.isDirectory) continue;
      const dir = `${resultsDir}/${experiment}/${e.name}`;
      try {
        const summary = JSON.parse(await Deno.readTextFile(`${dir}/summary.json`)) as Summary;
        const config = JSON.parse(await Deno.readTextFile(`${dir}/config.json`));
        out.push({ summary, config });
      } catch { /* run without a summary yet (in progress) */ }
    }
  } catch { /* no results yet */ }
  return out.sort((a, b) => a.summary.runId.localeCompare(b.summary.runId));
}

/** The markdown of the generated region. */
export async function reproductionTable(resultsDir?: string): Promise<string> {
  const ref = JSON.parse(await Deno.readTextFile(`${HERE}reference.json`)) as {
    rows: { name: string; source: string; stsbDev: number; scores: Record<string, number> }[];
  };
  const lines = [
    `| run | STS-B dev | ${COLS.join(" | ")} | steps/s | peak RSS (GB) |`,
    `|---|---|${COLS.map(() => "---").join("|")}|---|---|`,
  ];
  for (const r of ref.rows) {
    lines.push(
      `| ${r.name} (reference) | ${cell(r.stsbDev)} | ${
        COLS.map((c) => cell(r.scores[c])).join(" | ")
      } | — | — |`,
    );
  }
  for (const { summary: s, config } of await readRuns("reproduction", resultsDir)) {
    const cfg = config.config as Record<string, unknown>;
    const name = `ours: ${cfg.preset} \`${s.runId}\` (${s.backend}, ${s.status})`;
    lines.push(
      `| ${name} | ${cell(s.bestMetric)} | ${COLS.map((c) => cell(s.finalScores?.[c])).join(" | ")} | ` +
        `${s.stepsPerSecond.toFixed(2)} | ${(s.peakRssBytes / 1e9).toFixed(2)} |`,
    );
  }
  return lines.join("\n");
}

/** Rewrite the generated region of RESULTS.md; returns true when the file changed. */
export async function writeResultsMarkdown(check = false, resultsDir?: string): Promise<boolean> {
  const path = `${HERE}RESULTS.md`;
  const old = await Deno.readTextFile(path);
  const a = old.indexOf(BEGIN), b = old.indexOf(END);
  if (a < 0 || b < a) throw new Error(`${path}: generated-region markers are missing`);
  const next = old.slice(0, a + BEGIN.length) + "\n" + (await reproductionTable(resultsDir)) + "\n" +
    old.slice(b);
  if (next === old) return false;
  if (!check) await writeFileAtomic(path, next);
  return true;
}

if (import.meta.main) {
  const check = Deno.args.includes("--check");
  const changed = await writeResultsMarkdown(check);
  if (check && changed) {
    console.error("experiments/reproduction/RESULTS.md is stale: run `deno task tables`");
    Deno.exit(1);
  }
}
