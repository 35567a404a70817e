import { deepStrictEqual, ok } from "node:assert/strict";
import { configDifferences, runOverrides, unpublishedReason } from "./preset_runs.ts";
import { reproductionTable } from "../../experiments/reproduction/tables.ts";
import { preset } from "../../experiments/reproduction/config.ts";

Deno.test("`configDifferences()` lists the recorded keys that differ from the preset; keys the record lacks do not count", () => {
  const base = { lr: 5e-4, steps: 187, note: undefined, tasks: ["STS12"], fp16: false };
  deepStrictEqual(configDifferences({ lr: 5e-4, steps: 187, tasks: ["STS12"] }, base), []);
  // A flag the config no longer has counts only when it was switched on.
  deepStrictEqual(configDifferences({ lr: 5e-4, oldFlag: false }, base), []);
  deepStrictEqual(configDifferences({ lr: 5e-4, oldFlag: true, maxSteps: 12 }, base), [
    "maxSteps=12",
    "oldFlag=true",
  ]);
  deepStrictEqual(
    configDifferences({ lr: 1e-3, steps: 12, tasks: ["STS12", "STS13"], note: "x", fp16: false }, base),
    ["lr=0.001", "note=x", "steps=12", 'tasks=["STS12","STS13"]'],
  );
  deepStrictEqual(runOverrides({ overrides: ["maxSteps=12"], lr: 1 }, [base]), ["maxSteps=12"]);
  deepStrictEqual(runOverrides({ overrides: [], lr: 1 }, [base]), [], "recorded overrides win");
  deepStrictEqual(runOverrides({ lr: 1e-3 }, [{ lr: 2e-3 }, { lr: 1e-3 }]), [], "the closest preset");
  deepStrictEqual(runOverrides({ lr: 1, overrides: [] }, []), ["not a known preset"]);
  deepStrictEqual(unpublishedReason([], "completed"), null);
  deepStrictEqual(
    unpublishedReason(["maxSteps=12"], "interrupted"),
    "modified preset: `maxSteps=12`; interrupted",
  );
});

/** A run record as `train()` writes it (the fields the tables read). */
async function writeRun(root: string, runId: string, config: object, status = "completed") {
  const dir = `${root}/reproduction/${runId}`;
  await Deno.mkdir(dir, { recursive: true });
  await Deno.writeTextFile(`${dir}/config.json`, JSON.stringify({ runId, config, backend: "cpu" }));
  await Deno.writeTextFile(
    `${dir}/summary.json`,
    JSON.stringify({
      runId,
      status,
      bestMetric: 55.5,
      bestStep: 25,
      steps: 187,
      finalScores: { STS12: 40, "Avg.": 44.44 },
      stepsPerSecond: 1.5,
      wallSeconds: 100,
      peakRssBytes: 1e9,
      backend: "cpu",
      trainExamples: 100,
    }),
  );
}

Deno.test('the reproduction table publishes only completed runs of the unmodified preset as "ours: SimCSE"', async () => {
  const root = await Deno.makeTempDir();
  const cpu = JSON.parse(JSON.stringify(preset("cpu", "/data", false)));
  await writeRun(root, "20260101-000001-a", { ...cpu, overrides: [] });
  await writeRun(root, "20260101-000002-b", { ...cpu, maxSteps: 12, overrides: ["maxSteps=12"] });
  // A record from before overrides were recorded, of a 12-step run with another learning rate.
  await writeRun(root, "20260101-000003-c", { ...cpu, maxSteps: 12, learningRate: 0.01 });
  await writeRun(root, "20260101-000004-d", { ...cpu, overrides: [] }, "interrupted");
  await writeRun(root, "20260101-000005-e", { ...cpu, preset: "mine", overrides: [] });
  const md = await reproductionTable(root);
  // The cpu-random-init preset trains from scratch, so its rows say so (never presented as the reproduction).
  const ours = md.split("\n").filter((l) =>
    l.startsWith("| ours, from scratch (random init, not comparable with the targets): SimCSE")
  );
  deepStrictEqual(ours.length, 1, md);
  ok(
    ours[0].startsWith(
      "| ours, from scratch (random init, not comparable with the targets): SimCSE, `20260101-000001-a` (cpu-random-init, cpu, completed) | 55.50 |",
    ),
    ours[0],
  );
  const rest = md.slice(md.indexOf("Runs that are not results of their preset"));
  ok(
    rest.includes(
      "| `20260101-000002-b` (cpu-random-init, cpu) | modified preset: `maxSteps=12` | 55.50 | 44.44 |",
    ),
    rest,
  );
  ok(
    rest.includes(
      "| `20260101-000003-c` (cpu-random-init, cpu) | modified preset: `learningRate=0.01`, `maxSteps=12` |",
    ),
    rest,
  );
  ok(rest.includes("| `20260101-000004-d` (cpu-random-init, cpu) | interrupted |"), rest);
  ok(rest.includes("| `20260101-000005-e` (mine, cpu) | modified preset: `not a known preset` |"), rest);
  await Deno.remove(root, { recursive: true });
});

Deno.test("the GPT-2 and Chinese tables list runs of a modified preset apart, with their overrides", async () => {
  const { gpt2Table } = await import("../../experiments/gpt2-wavg/tables.ts");
  const { chineseTable } = await import("../../experiments/chinese-transfer/tables.ts");
  const root = await Deno.makeTempDir();
  for (
    const [exp, id, preset, pooler] of [
      ["gpt2-wavg", "20260101-000001-cpu-avg", "cpu-avg", "avg"],
      ["chinese-transfer", "20260101-000001-cpu-lcqmc-cls", "cpu-lcqmc-cls", "cls"],
    ]
  ) {
    const dir = `${root}/${exp}/${id}`;
    await Deno.mkdir(dir, { recursive: true });
    const config = { preset, poolerType: pooler, maxSteps: 12, overrides: ["maxSteps=12"] };
    await Deno.writeTextFile(`${dir}/config.json`, JSON.stringify({ runId: id, config }));
    await Deno.writeTextFile(
      `${dir}/summary.json`,
      JSON.stringify({
        runId: id,
        status: "completed",
        bestMetric: 50,
        steps: 12,
        finalScores: { LCQMC: 30, "Avg.": 30 },
        initialScores: { LCQMC: 20 },
        stepsPerSecond: 1,
        backend: "cpu",
      }),
    );
  }
  const g = await gpt2Table(root);
  ok(!g.split("\n").some((l) => l.startsWith("| ours")), g);
  ok(
    g.includes(
      "| `20260101-000001-cpu-avg` (cpu) | cpu | avg | modified preset: `maxSteps=12` | 50.00 | 30.00 |",
    ),
    g,
  );
  const z = await chineseTable(root);
  ok(!z.split("\n").some((l) => l.startsWith("| ours")), z);
  ok(z.includes("| `20260101-000001-cpu-lcqmc-cls` (cpu-lcqmc-cls) | modified preset: `maxSteps=12` |"), z);
  await Deno.remove(root, { recursive: true });
});

Deno.test("`configDifferences()` compares paths by their last segment (machines keep data and caches elsewhere)", () => {
  const preset = {
    modelDir: "/home/u/.cache/simcse-ts/models/gpt2-random",
    randomInit: { tokenizerDir: "/c/v" },
  };
  deepStrictEqual(
    configDifferences(
      { modelDir: "data/models/gpt2-random", randomInit: { tokenizerDir: "data/v" } },
      preset,
    ),
    [],
  );
  deepStrictEqual(configDifferences({ modelDir: "data/models/gpt2" }, preset), ["modelDir=data/models/gpt2"]);
});
