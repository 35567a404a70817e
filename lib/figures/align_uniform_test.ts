import { deepStrictEqual, strictEqual } from "node:assert/strict";
import { alignUniformFigure, alignUniformPoints } from "./align_uniform.ts";
import { parseMetrics } from "./training_curves.ts";
import { collectFigures } from "./all_figures.ts";

const METRICS = [
  '{"step":0,"kind":"initial_test","STS12":20.5,"align":9,"uniform":9}',
  '{"step":0,"kind":"eval","STSBenchmark":50,"align":0.12,"uniform":-0.8}',
  '{"step":1,"kind":"train","loss":3.5}',
  '{"step":50,"kind":"eval","STSBenchmark":31,"align":0.35,"uniform":-2.5,"improved":true}',
  '{"step":25,"kind":"eval","STSBenchmark":20,"align":0.3,"uniform":-2.0,"improved":true}',
  '{"step":75,"kind":"eval","STSBenchmark":30}',
].join("\n");

Deno.test("`alignUniformFigure()` plots dev evaluations in step order: x = ℓ_uniform, y = ℓ_align, untrained first", () => {
  const entries = parseMetrics(METRICS);
  deepStrictEqual(
    alignUniformPoints(entries).map((p) => p.step),
    [0, 25, 50],
    "evals with both metrics only",
  );
  const fig = alignUniformFigure(entries)!;
  const [t] = fig.data;
  deepStrictEqual([t.x, t.y, t.text], [[-0.8, -2.0, -2.5], [0.12, 0.3, 0.35], [
    "untrained",
    "step 25",
    "step 50",
  ]]);
  strictEqual(alignUniformFigure(parseMetrics('{"step":5,"kind":"eval","STSBenchmark":1}')), null);
});

Deno.test("`collectFigures()` adds <experiment>-align-uniform only for runs that logged the metrics", async () => {
  const root = await Deno.makeTempDir();
  const run = `${root}/results/reproduction/20260101-000000-cpu`;
  await Deno.mkdir(run, { recursive: true });
  await Deno.writeTextFile(`${run}/metrics.jsonl`, METRICS + "\n");
  await Deno.writeTextFile(`${run}/config.json`, JSON.stringify({ preset: "cpu" }));
  await Deno.writeTextFile(
    `${run}/summary.json`,
    JSON.stringify({ runId: "20260101-000000-cpu", status: "completed", backend: "wasm" }),
  );
  await Deno.writeTextFile(`${root}/reference.json`, JSON.stringify({ rows: [] }));
  const { figures } = await collectFigures(`${root}/results`, { referencePath: `${root}/reference.json` });
  deepStrictEqual(
    figures.map((f) => f.name).filter((n) => n.startsWith("reproduction-")).slice(0, 2),
    ["reproduction-training", "reproduction-align-uniform"],
  );
  await Deno.remove(root, { recursive: true });
});
