/**
 * Generates the table in `experiments/gpt2-wavg/RESULTS.md` from the run records in
 * `results/gpt2-wavg/*` (`summary.json`, `config.json`, and `cross_pooler.json` where `run.ts` wrote
 * one) and the seed's numbers in `reference.json`. Only the region between the generated markers is
 * rewritten; missing cells show "—". Only completed runs of an unmodified preset are "ours" rows; the
 * others are listed apart with their overrides (`lib/results/preset_runs.ts`).
 * `deno run -A experiments/gpt2-wavg/tables.ts [--check]`.
 *
 * @module
 */
import { writeFileAtomic } from "../../lib/runtime/atomic_write.ts";
import {
  GPT2_POOLERS,
  type Gpt2Pooler,
  preset as gpt2Preset,
  type PresetName,
  presetOf,
  PRESETS,
} from "./config.ts";
import { runOverrides, unpublishedReason } from "../../lib/results/preset_runs.ts";
import { STS_TASKS } from "../../lib/eval/sts_eval.ts";

const HERE = new URL(".", import.meta.url).pathname;
const ROOT = new URL("../../", import.meta.url).pathname;
export const EXPERIMENT = "gpt2-wavg";
export const CROSS_POOLER_FILE = "cross_pooler.json";
const COLS = [...STS_TASKS, "Avg."];
export const BEGIN = "<!-- generated:begin (deno run -A experiments/gpt2-wavg/tables.ts; do not edit) -->";
export const END = "<!-- generated:end -->";

interface Summary {
  runId: string;
  status: string;
  bestMetric: number | null;
  bestStep: number | null;
  steps: number;
  finalScores?: Record<string, number>;
  stepsPerSecond: number;
  backend: string;
}

interface CrossPooler {
  evalPooler: string;
  stsbDev?: number;
  finalScores?: Record<string, number>;
}

/** One run record of this experiment. */
export interface Gpt2Run {
  summary: Summary;
  preset: string;
  pooler: string;
  cross?: CrossPooler;
  /** Why it is not a published result of its preset (overrides, status), or null. */
  unpublished: string | null;
}

interface ReferenceRow {
  name: string;
  model: string;
  pooler: string;
  stsbDev: number;
  avg: number;
}

const cell = (v: number | null | undefined) => v === null || v === undefined ? "—" : v.toFixed(2);

async function readJson<T>(path: string): Promise<T | undefined> {
  try {
    return JSON.parse(await Deno.readTextFile(path)) as T;
  } catch {
    return undefined;
  }
}

/** Every finished run record (with a summary) of the experiment, ordered by preset, pooler, run id. */
export async function readGpt2Runs(resultsDir = `${ROOT}results`): Promise<Gpt2Run[]> {
  const out: Gpt2Run[] = [];
  const root = `${resultsDir}/${EXPERIMENT}`;
  try {
    for await (const e of Deno.readDir(root)) {
      if (!e.isDirectory) continue;
      const dir = `${root}/${e.name}`;
      const summary = await readJson<Summary>(`${dir}/summary.json`);
      const config = await readJson<{ config?: Record<string, unknown> }>(`${dir}/config.json`);
      if (!summary || !config?.config) continue; // in progress, or not a run record
      const pooler = String(config.config.poolerType ?? "?");
      const name = presetOf(String(config.config.preset ?? "?"), pooler);
      const known = (PRESETS as readonly string[]).includes(name) &&
        (GPT2_POOLERS as readonly string[]).includes(pooler);
      const presets = known
        ? [gpt2Preset(name as PresetName, pooler as Gpt2Pooler, String(config.config.dataDir))]
        : [];
      out.push({
        summary,
        pooler,
        preset: name,
        cross: await readJson<CrossPooler>(`${dir}/${CROSS_POOLER_FILE}`),
        unpublished: unpublishedReason(runOverrides(config.config, presets), summary.status),
      });
    }
  } catch { /* no results yet */ }
  const rank = (p: string) => {
    const i = (GPT2_POOLERS as readonly string[]).indexOf(p);
    return i < 0 ? GPT2_POOLERS.length : i;
  };
  return out.sort((a, b) =>
    a.preset.localeCompare(b.preset) || rank(a.pooler) - rank(b.pooler) ||
    a.summary.runId.localeCompare(b.summary.runId)
  );
}

/** The markdown of the generated region. */
export async function gpt2Table(resultsDir?: string): Promise<string> {
  const ref = JSON.parse(await Deno.readTextFile(`${HERE}reference.json`)) as { rows: ReferenceRow[] };
  const lines = [
    `| run | model | train pooler | eval pooler | STS-B dev | ${COLS.join(" | ")} | steps/s |`,
    `|---|---|---|---|---|${COLS.map(() => "---").join("|")}|---|`,
  ];
  for (const r of ref.rows) {
    const scores: Record<string, number> = { "Avg.": r.avg };
    lines.push(
      `| ${r.name} (reference, OurFP16) | ${r.model} | ${r.pooler} | ${r.pooler} | ${cell(r.stsbDev)} | ${
        COLS.map((c) => cell(scores[c])).join(" | ")
      } | — |`,
    );
  }
  const others: string[] = [];
  for (const { summary: s, preset, pooler, cross, unpublished } of await readGpt2Runs(resultsDir)) {
    if (unpublished !== null) {
      others.push(
        `| \`${s.runId}\` (${s.backend}) | ${preset} | ${pooler} | ${unpublished.replaceAll("|", "\\|")} | ${
          cell(s.bestMetric)
        } | ${cell(s.finalScores?.["Avg."])} |`,
      );
      continue;
    }
    lines.push(
      `| ours \`${s.runId}\` (${s.backend}, ${s.status}) | ${preset} | ${pooler} | ${pooler} | ${
        cell(s.bestMetric)
      } | ${COLS.map((c) => cell(s.finalScores?.[c])).join(" | ")} | ${s.stepsPerSecond.toFixed(2)} |`,
    );
    if (cross) {
      lines.push(
        `| ↳ same checkpoint, other weighting | ${preset} | ${pooler} | ${cross.evalPooler} | ${
          cell(cross.stsbDev)
        } | ${COLS.map((c) => cell(cross.finalScores?.[c])).join(" | ")} | — |`,
      );
    }
  }
  if (others.length > 0) {
    lines.push(
      "",
      "Runs that are not results of their preset (overrides or unfinished), not comparable with the rows above:",
      "",
      "| run | model | pooler | why | STS-B dev | Avg. |",
      "|---|---|---|---|---|---|",
      ...others,
    );
  }
  return lines.join("\n");
}

/** Rewrite the generated region of RESULTS.md; returns true when the file changed. */
export async function writeResultsMarkdown(
  check = false,
  resultsDir?: string,
  path = `${HERE}RESULTS.md`,
): Promise<boolean> {
  const old = await Deno.readTextFile(path);
  const a = old.indexOf(BEGIN), b = old.indexOf(END);
  if (a < 0 || b < a) throw new Error(`${path}: generated-region markers are missing`);
  const next = old.slice(0, a + BEGIN.length) + "\n" + (await gpt2Table(resultsDir)) + "\n" + old.slice(b);
  if (next === old) return false;
  if (!check) await writeFileAtomic(path, next);
  return true;
}

if (import.meta.main) {
  const check = Deno.args.includes("--check");
  const changed = await writeResultsMarkdown(check);
  if (check && changed) {
    console.error(
      "experiments/gpt2-wavg/RESULTS.md is stale: run `deno run -A experiments/gpt2-wavg/tables.ts`",
    );
    Deno.exit(1);
  }
}
