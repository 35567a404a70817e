/**
 * Generates the before/after table in `experiments/chinese-transfer/RESULTS.md` from the run records in
 * `results/chinese-transfer/*` (the newest completed run of each unmodified preset) and `reference.json`;
 * runs with `--set` overrides or unfinished ones are listed apart (`lib/results/preset_runs.ts`).
 *
 * @module
 */
import { cell, markdownTable, readRuns, updateRegion } from "../../lib/results/markdown_tables.ts";
import { runOverrides, unpublishedReason } from "../../lib/results/preset_runs.ts";
import { preset, type ZhPooler, type ZhPreset, type ZhTask } from "./config.ts";

const HERE = new URL(".", import.meta.url).pathname;
const ROOT = new URL("../../", import.meta.url).pathname;

interface Reference {
  rows: { name: string; source: string; LCQMC?: number; PAWSX?: number }[];
}

export async function chineseTable(resultsDir = `${ROOT}results`): Promise<string> {
  const ref = JSON.parse(await Deno.readTextFile(`${HERE}reference.json`)) as Reference;
  const rows = ref.rows.map((r) => [`${r.name} (reference: ${r.source})`, cell(r.LCQMC), cell(r.PAWSX)]);
  const newest = new Map<string, Awaited<ReturnType<typeof readRuns>>[number]>();
  const others: string[][] = [];
  for (const run of await readRuns(resultsDir, "chinese-transfer")) {
    const why = unpublishedReason(runOverrides(run.config, presetsFor(run.config)), run.summary.status);
    if (why === null) newest.set(String(run.config.preset), run);
    else others.push([`\`${run.summary.runId}\` (${run.config.preset})`, why.replaceAll("|", "\\|")]);
  }
  const notes = new Set<string>();
  for (const [presetName, { summary: s }] of [...newest].sort()) {
    const task = (s.finalScores && Object.keys(s.finalScores)[0]) ??
      (presetName.includes("pawsx") ? "PAWSX" : "LCQMC");
    const col = (v?: number) => task === "LCQMC" ? [cell(v), "—"] : ["—", cell(v)];
    const mark = s.note ? " †" : "";
    if (s.note) notes.add(`† ${s.note.replace(/^the (LCQMC|PAWSX) train split/, "the train split")}.`);
    rows.push([
      `ours: ${presetName} before training (${s.evalPooler})${mark}`,
      ...col(s.initialScores?.[task]),
    ]);
    rows.push([
      `ours: ${presetName} SimCSE (${s.evalPooler}), \`${s.runId}\`${mark}`,
      ...col(s.finalScores?.[task]),
    ]);
  }
  return markdownTable(["model (test Spearman × 100)", "LCQMC", "PAWS-X"], rows) +
    (notes.size ? "\n\n" + [...notes].join("\n") : "") +
    (others.length > 0
      ? "\n\nRuns that are not results of their preset (overrides or unfinished), not listed above:\n\n" +
        markdownTable(["run", "why"], others)
      : "");
}

/** The configs a recorded preset name (`cpu-lcqmc-cls`) stands for, with either train split. */
function presetsFor(config: Record<string, unknown>): object[] {
  const m = /^(seed|cpu)-(lcqmc|pawsx)-(cls|avg)$/.exec(String(config.preset));
  if (!m) return [];
  const [, name, task, pooler] = m as unknown as [string, ZhPreset, ZhTask, ZhPooler];
  const dataDir = String(config.dataDir);
  return (["train", "valid"] as const).map((split) => preset(name, task, pooler, dataDir, split));
}

export async function writeResultsMarkdown(check = false, resultsDir?: string): Promise<boolean> {
  return await updateRegion(`${HERE}RESULTS.md`, await chineseTable(resultsDir), check);
}
