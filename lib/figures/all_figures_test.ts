import { deepStrictEqual, ok } from "node:assert/strict";
import { collectFigures } from "./all_figures.ts";

async function write(path: string, content: unknown) {
  await Deno.mkdir(path.slice(0, path.lastIndexOf("/")), { recursive: true });
  await Deno.writeTextFile(path, typeof content === "string" ? content : JSON.stringify(content));
}

Deno.test("`collectFigures()` builds training curves per experiment, the STS bars and the FP16 figure from records", async () => {
  const root = await Deno.makeTempDir();
  const res = `${root}/results`;
  await write(`${root}/reference.json`, {
    rows: [{ name: "Paper", source: "Table 5", scores: { STS12: 68.4 } }],
  });
  const run = `${res}/reproduction/20260101-000000`;
  await write(`${run}/config.json`, { config: { preset: "cpu" } });
  await write(`${run}/summary.json`, {
    runId: "20260101-000000",
    backend: "wasm",
    selectionMetric: "stsb_spearman",
    finalScores: { STS12: 25.5 },
  });
  await write(
    `${run}/metrics.jsonl`,
    '{"step":1,"kind":"train","loss":2}\n{"step":1,"kind":"eval","STSBenchmark":50}\n',
  );
  await write(`${res}/reproduction/20260102-000000/config.json`, { config: {} }); // in progress: ignored
  const zh = `${res}/chinese-transfer/20260103-000000`;
  await write(`${zh}/config.json`, { config: { preset: "cpu-lcqmc" } });
  await write(`${zh}/summary.json`, {
    runId: "20260103-000000",
    backend: "cpu",
    selectionMetric: "lcqmc_spearman",
  });
  await write(`${zh}/metrics.jsonl`, '{"step":2,"kind":"eval","LCQMC":61}\n');
  await Deno.mkdir(`${res}/empty-experiment`, { recursive: true });
  await write(`${res}/bench/fp16-20260101.json`, {
    kind: "fp16-bench",
    stepBench: {
      fp32: { stepsPerSecond: 1, peakTrackedBytes: 4 },
      fp16: { stepsPerSecond: 2, peakTrackedBytes: 3 },
    },
  });
  await write(`${res}/bench/other.json`, { kind: "search-bench" }); // not a precision record: ignored
  const { figures, notes } = await collectFigures(res, { referencePath: `${root}/reference.json` });
  deepStrictEqual(figures.map((f) => f.name), [
    "chinese-transfer-training",
    "reproduction-training",
    "reproduction-sts",
    "fp16-vs-fp32",
  ]);
  deepStrictEqual(figures[0].figure.data[1].y, [61]);
  deepStrictEqual(figures[0].figure.data[1].name, "LCQMC dev");
  deepStrictEqual(figures[1].figure.data[0].y, [2]);
  deepStrictEqual(figures[2].figure.data.map((t) => [t.name, t.y[0]]), [["Paper", 68.4], [
    "ours: 20260101-000000 (cpu, wasm)",
    25.5,
  ]]);
  deepStrictEqual(figures[3].figure.data[0].y, [1]);
  deepStrictEqual(notes.length, 1);
  ok(notes[0].startsWith("empty-experiment: no finished run"));
  const empty = await collectFigures(`${root}/nothing`, { referencePath: `${root}/reference.json` });
  deepStrictEqual(empty.figures.map((f) => f.name), ["reproduction-sts"]);
  deepStrictEqual(empty.notes.length, 2);
  await Deno.remove(root, { recursive: true });
});
