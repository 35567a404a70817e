import { deepStrictEqual, rejects, strictEqual } from "node:assert/strict";
import { readStsReference, stsBarsFigure, stsRowsFromRecords } from "./sts_bars.ts";
import { readRuns } from "../results/markdown_tables.ts";
import { InputError } from "../runtime/errors.ts";

Deno.test("`stsBarsFigure()` draws one bar trace per row over the 8 task columns; missing cells are null, never 0", () => {
  const fig = stsBarsFigure([
    { name: "Paper", scores: { STS12: 68.4, STSBenchmark: 76.85, "Avg.": 76.25 }, source: "Table 5" },
    { name: "ours", scores: { STS12: 12.5, SICKRelatedness: NaN } },
  ]);
  strictEqual(fig.layout.barmode, "group");
  deepStrictEqual(fig.data[0].x, ["STS12", "STS13", "STS14", "STS15", "STS16", "STS-B", "SICK-R", "Avg."]);
  deepStrictEqual(fig.data[0].y, [68.4, null, null, null, null, 76.85, null, 76.25]);
  deepStrictEqual(fig.data[1].y, [12.5, null, null, null, null, null, null, null]);
  deepStrictEqual(fig.data[1].text, ["12.50", "—", "—", "—", "—", "—", "—", "—"]);
  deepStrictEqual(fig.data.map((t) => [t.type, t.name]), [["bar", "Paper"], ["bar", "ours"]]);
});

Deno.test("`stsRowsFromRecords()` lists the references, then each run with final scores", async () => {
  const dir = await Deno.makeTempDir();
  const ref = {
    rows: [
      { name: "Paper", source: "Gao et al. 2021", stsbDev: 82.5, scores: { STS12: 68.4 } },
      { name: "Seed", source: "jittor README", stsbDev: 81.7, scores: { STS12: 69.34 } },
    ],
  };
  await Deno.writeTextFile(`${dir}/reference.json`, JSON.stringify(ref));
  const run = (id: string, summary: Record<string, unknown>) =>
    Promise.all([
      Deno.mkdir(`${dir}/results/reproduction/${id}`, { recursive: true }).then(() =>
        Promise.all([
          Deno.writeTextFile(
            `${dir}/results/reproduction/${id}/summary.json`,
            JSON.stringify({ runId: id, ...summary }),
          ),
          Deno.writeTextFile(
            `${dir}/results/reproduction/${id}/config.json`,
            JSON.stringify({ config: { preset: "cpu" } }),
          ),
        ])
      ),
    ]);
  await run("20260101-000000", { backend: "wasm", finalScores: { STS12: 30.25, "Avg.": 40 } });
  await run("20260102-000000", { backend: "cpu", status: "stopped" }); // no final scores: no row
  const rows = stsRowsFromRecords(
    await readStsReference(`${dir}/reference.json`),
    await readRuns(`${dir}/results`, "reproduction"),
  );
  deepStrictEqual(rows.map((r) => r.name), ["Paper", "Seed", "ours: 20260101-000000 (cpu, wasm)"]);
  deepStrictEqual(rows[2].scores, { STS12: 30.25, "Avg.": 40 });
  strictEqual(rows[0].source, "Gao et al. 2021");
  await Deno.writeTextFile(`${dir}/bad.json`, '{"rows": [{"name": "x"}]}');
  await rejects(
    readStsReference(`${dir}/bad.json`),
    (e) => e instanceof InputError && /bad\.json \[rows\[0\]\]/.test(e.message),
  );
  await Deno.writeTextFile(`${dir}/broken.json`, "{");
  await rejects(
    readStsReference(`${dir}/broken.json`),
    (e) => e instanceof InputError && /broken\.json: not valid JSON/.test(e.message),
  );
  await Deno.remove(dir, { recursive: true });
});
