/**
 * Generates the table in `experiments/reproduction/RESULTS.md` from the run records in
 * `results/reproduction/*` and the reference numbers in `reference.json` (each with its source). Only
 * completed runs of an unmodified preset are "ours" rows; runs with `--set` overrides or unfinished ones
 * are listed apart, with their overrides next to them (`lib/results/preset_runs.ts`).
 *
 * @module
 */
import { cell, markdownTable, readRuns, updateRegion } from "../../lib/results/markdown_tables.ts";
import { STS_TASKS } from "../../lib/eval/sts_eval.ts";
import { runOverrides, unpublishedReason } from "../../lib/results/preset_runs.ts";
import { preset } from "./config.ts";
import { precisionTable } from "../../lib/results/bench_table.ts";

const HERE = new URL(".", import.meta.url).pathname;
const ROOT = new URL("../../", import.meta.url).pathname;
const COLS = [...STS_TASKS, "Avg."];

interface Reference {
  rows: { name: string; source: string; stsbDev: number; scores: Record<string, number> }[];
}

/** The markdown of the generated region. */
export async function reproductionTable(resultsDir = `${ROOT}results`): Promise<string> {
  const ref = JSON.parse(await Deno.readTextFile(`${HERE}reference.json`)) as Reference;
  const rows: string[][] = ref.rows.map((r) => [
    `target: ${r.name} (reference: ${r.source})`,
    cell(r.stsbDev),
    ...COLS.map((c) => cell(r.scores[c])),
    "—",
    "—",
  ]);
  const others: string[][] = [];
  for (const { summary: s, config } of await readRuns(resultsDir, "reproduction")) {
    const why = unpublishedReason(runOverrides(config, presetsFor(config)), s.status);
    if (why !== null) {
      others.push([
        `\`${s.runId}\` (${config.preset}, ${s.backend})`,
        why.replaceAll("|", "\\|"),
        cell(s.bestMetric),
        cell(s.finalScores?.["Avg."]),
      ]);
      continue;
    }
    const run = `\`${s.runId}\` (${config.preset}, ${s.backend}, ${s.status})`;
    // A random-init preset shows the method at work from scratch; it is never the reproduction.
    const ours = config.randomInit
      ? "ours, from scratch (random init, not comparable with the targets)"
      : "ours";
    if (s.initialScores) {
      rows.push([
        `${ours}: untrained model, ${run}`,
        "—",
        ...COLS.map((c) => cell(s.initialScores?.[c])),
        "—",
        "—",
      ]);
    }
    rows.push([
      `${ours}: SimCSE, ${run}`,
      cell(s.bestMetric),
      ...COLS.map((c) => cell(s.finalScores?.[c])),
      s.stepsPerSecond.toFixed(2),
      (s.peakRssBytes / 1e9).toFixed(2),
    ]);
  }
  return markdownTable(["run", "STS-B dev", ...COLS, "steps/s", "peak RSS (GB)"], rows) +
    (others.length > 0
      ? "\n\nRuns that are not results of their preset (overrides or unfinished), not comparable with the rows " +
        "above:\n\n" + markdownTable(["run", "why", "STS-B dev", "Avg."], others)
      : "") +
    (await fp16Section(resultsDir)) + precisionSection(resultsDir);
}

/** The configs a recorded preset name stands for (for records that predate `config.overrides`). */
function presetsFor(config: Record<string, unknown>): object[] {
  const dataDir = String(config.dataDir);
  switch (config.preset) {
    case "paper":
      return [preset("paper", dataDir)];
    case "cpu":
      return [preset("cpu", dataDir, true)];
    case "cpu-random-init":
      return [preset("cpu", dataDir, false)];
    default:
      return [];
  }
}

interface Fp16Bench {
  date: string;
  command: string;
  backend: string;
  gpu: string;
  table: string;
  jittorReference?: {
    gpu: string;
    fp32: { itPerS: number; memGB: number };
    fp16: { itPerS: number; memGB: number };
  };
}

/** The newest FP32-vs-FP16 bench record (`bench/fp16_bench.ts`) as a section, or "" when there is none. */
async function fp16Section(resultsDir: string): Promise<string> {
  let names: string[] = [];
  try {
    names = [...Deno.readDirSync(`${resultsDir}/bench`)].map((e) => e.name).filter((n) =>
      /^fp16-.*\.json$/.test(n)
    ).sort();
  } catch { /* no bench records */ }
  if (names.length === 0) return "";
  const b = JSON.parse(await Deno.readTextFile(`${resultsDir}/bench/${names.at(-1)}`)) as Fp16Bench;
  const j = b.jittorReference;
  const ref = j
    ? `\n\nReference (SimCSE-Jittor README, ${j.gpu}): FP32 ${j.fp32.itPerS} it/s, ${j.fp32.memGB} GB; ` +
      `OurFP16 ${j.fp16.itPerS} it/s, ${j.fp16.memGB} GB (speed ×${
        (j.fp16.itPerS / j.fp32.itPerS).toFixed(2)
      }, ` +
      `memory ×${(j.fp16.memGB / j.fp32.memGB).toFixed(2)}).`
    : "";
  return `\n\n### FP32 vs FP16 training step (\`${names.at(-1)}\`, backend ${b.backend}, ${b.gpu})\n\n` +
    `${b.table.trim()}\n\nCommand: \`${portableCommand(b.command)}\`.${ref}`;
}

/** Our FP32, BF16 and FP16 training steps on CPU from `deno task bench`'s newest records, next to the seed's. */
function precisionSection(resultsDir: string): string {
  return "\n\n### FP32, BF16 and FP16 training on CPU (`deno task bench`, interleaved with PyTorch)\n\n" +
    precisionTable(`${resultsDir}/bench`) +
    '\n\nPyTorch peer: `torch.autocast("cpu", dtype=torch.bfloat16)` for BF16, FP32 otherwise. The seed\'s ' +
    "hand-written FP16 on an RTX 3090: speed ×1.32 and memory ×0.66 of its FP32 (SimCSE-Jittor README).";
}

/**
 * A recorded command line without the recording machine's paths: an absolute `--data-dir` becomes
 * `$SIMCSE_DATA_DIR`, and any other absolute path argument its last component.
 */
export function portableCommand(command: string): string {
  return command
    .replace(/(--data-dir[ =])\/\S*/g, "$1$SIMCSE_DATA_DIR")
    .replace(/(^|[ =])\/(?:[^\s/]+\/)*([^\s/]+)\/?(?=\s|$)/g, "$1$2");
}

/** Rewrite the generated region of RESULTS.md; returns true when it was stale. */
export async function writeResultsMarkdown(check = false, resultsDir?: string): Promise<boolean> {
  return await updateRegion(`${HERE}RESULTS.md`, await reproductionTable(resultsDir), check);
}
