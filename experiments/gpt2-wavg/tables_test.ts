import { equal, ok } from "node:assert/strict";
import { BEGIN, END, writeResultsMarkdown } from "./tables.ts";

async function writeRun(
  root: string,
  runId: string,
  preset: string,
  pooler: string,
  extra: Record<string, unknown>,
) {
  const dir = `${root}/gpt2-wavg/${runId}`;
  await Deno.mkdir(dir, { recursive: true });
  await Deno.writeTextFile(
    `${dir}/config.json`,
    JSON.stringify({ runId, config: { preset, poolerType: pooler } }),
  );
  await Deno.writeTextFile(
    `${dir}/summary.json`,
    JSON.stringify({ runId, status: "completed", steps: 10, stepsPerSecond: 0.5, backend: "wasm", ...extra }),
  );
}

Deno.test("`writeResultsMarkdown()` lists the seed's rows, then each run by preset and pooler, with its cross-pooler row", async () => {
  const root = await Deno.makeTempDir();
  await writeRun(root, "20260101-000002-cpu-wavg", "cpu-wavg", "wavg", {
    bestMetric: 40.123,
    finalScores: { STS12: 30, "Avg.": 35.5 },
  });
  await Deno.writeTextFile(
    `${root}/gpt2-wavg/20260101-000002-cpu-wavg/cross_pooler.json`,
    JSON.stringify({ evalPooler: "wavg_jittor", stsbDev: 38, finalScores: { "Avg.": 33.25 } }),
  );
  await writeRun(root, "20260101-000001-cpu-avg", "cpu-avg", "avg", {
    bestMetric: 30,
    finalScores: { "Avg.": 25 },
  });
  await Deno.mkdir(`${root}/gpt2-wavg/in-progress`); // no summary: skipped
  const md = `${root}/RESULTS.md`;
  await Deno.writeTextFile(md, `# t\n\n${BEGIN}\nold\n${END}\ntail\n`);
  equal(await writeResultsMarkdown(false, root, md), true);
  const text = await Deno.readTextFile(md);
  const rows = text.split("\n").filter((l) => l.startsWith("| ")); // header, then data rows
  ok(rows[1].startsWith("| Seed: gpt2-small avg (reference, OurFP16) | gpt2 | avg | avg | 64.50 |"), rows[1]);
  ok(rows[1].endsWith("| 54.17 | — |"), rows[1]);
  ok(rows[2].includes("| wavg_jittor | wavg_jittor | 76.20 |") && rows[2].includes("| 65.87 |"), rows[2]);
  ok(
    rows[5].startsWith("| ours `20260101-000001-cpu-avg` (wasm, completed) | cpu | avg | avg | 30.00 |"),
    rows[5],
  );
  ok(
    rows[6].startsWith(
      "| ours `20260101-000002-cpu-wavg` (wasm, completed) | cpu | wavg | wavg | 40.12 | 30.00 |",
    ),
    rows[6],
  );
  ok(rows[6].endsWith("| 35.50 | 0.50 |"), rows[6]);
  ok(
    rows[7].startsWith("| ↳ same checkpoint, other weighting | cpu | wavg | wavg_jittor | 38.00 |"),
    rows[7],
  );
  equal(rows.length, 8);
  ok(text.endsWith(`${END}\ntail\n`) && !text.includes("old"));
  equal(await writeResultsMarkdown(true, root, md), false); // up to date
  await Deno.remove(root, { recursive: true });
});
