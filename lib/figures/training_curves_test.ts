import { deepStrictEqual, strictEqual, throws } from "node:assert/strict";
import { bestCheckpoint, devTaskOf, parseMetrics, trainingCurvesFigure } from "./training_curves.ts";
import { InputError } from "../runtime/errors.ts";

const METRICS = [
  '{"step":0,"kind":"initial_test","STS12":20.5}',
  '{"step":0,"kind":"eval","STSBenchmark":55.25}',
  '{"step":1,"kind":"train","loss":3.5,"lr":3e-5}',
  '{"step":2,"kind":"train","loss":2.75,"lr":2e-5}',
  '{"step":2,"kind":"eval","STSBenchmark":61.5,"improved":true}',
  "",
  '{"step":3,"kind":"train","loss":2.5}',
  '{"step":4,"kind":"train","loss":2.0}',
  '{"step":4,"kind":"eval","STSBenchmark":61.5,"improved":false}',
  '{"step":5,"kind":"diverged","loss":null}',
].join("\n");

Deno.test("`trainingCurvesFigure()` plots loss per train step (left) and STS-B dev per eval (right), best marked", () => {
  const fig = trainingCurvesFigure(parseMetrics(METRICS));
  deepStrictEqual(fig.data.map((t) => t.name), ["training loss", "STS-B dev", "best checkpoint"]);
  const [loss, dev, best] = fig.data;
  deepStrictEqual([loss.x, loss.y, loss.yaxis], [[1, 2, 3, 4], [3.5, 2.75, 2.5, 2.0], "y"]);
  deepStrictEqual([dev.x, dev.y, dev.yaxis], [[0, 2, 4], [55.25, 61.5, 61.5], "y2"]);
  // The first maximum (step 2): a tie later does not replace the kept checkpoint.
  deepStrictEqual([best.x, best.y, best.yaxis], [[2], [61.5], "y2"]);
  const y2 = fig.layout.yaxis2 as Record<string, unknown>;
  deepStrictEqual([y2.overlaying, y2.side], ["y", "right"]);
  strictEqual((fig.layout.title as { text: string }).text, "Training loss and STS-B dev");
});

Deno.test("`trainingCurvesFigure()` follows the selection task (LCQMC) and has no best marker without evals", () => {
  strictEqual(devTaskOf("lcqmc_spearman"), "LCQMC");
  strictEqual(devTaskOf(undefined), "STSBenchmark");
  const fig = trainingCurvesFigure(
    parseMetrics(
      '{"step":5,"kind":"eval","LCQMC":70.25,"STSBenchmark":1}\n{"step":6,"kind":"train","loss":1}',
    ),
    { devTask: "LCQMC", title: "zh" },
  );
  deepStrictEqual(fig.data[1].y, [70.25]);
  strictEqual(fig.data[1].name, "LCQMC dev");
  const noEval = trainingCurvesFigure(parseMetrics('{"step":1,"kind":"train","loss":1}'));
  strictEqual(noEval.data.length, 2);
});

Deno.test("`parseMetrics()` names the file and line of a bad metrics line", () => {
  throws(
    () => parseMetrics('{"step":1}\n{"step":2,\n', "runs/x/metrics.jsonl"),
    (e) => e instanceof InputError && e.message.startsWith("runs/x/metrics.jsonl:2: not valid JSON"),
  );
  throws(
    () => parseMetrics('{"step":1}\n\n{"kind":"train"}', "m.jsonl"),
    (e) => e instanceof InputError && e.message.startsWith("m.jsonl:3: each line must be"),
  );
});

Deno.test("the best-checkpoint star is never the untrained model's step-0 evaluation", () => {
  // The committed cpu run: dev falls from the untrained 50.06 while training, and the kept checkpoint is
  // the best of the trained ones (the trainer keeps none at step 0).
  const entries = parseMetrics([
    '{"step":0,"kind":"eval","STSBenchmark":50.06}',
    '{"step":25,"kind":"eval","STSBenchmark":20.5,"improved":true}',
    '{"step":50,"kind":"eval","STSBenchmark":31.25,"improved":true}',
    '{"step":75,"kind":"eval","STSBenchmark":30,"improved":false}',
  ].join("\n"));
  const best = trainingCurvesFigure(entries).data[2];
  deepStrictEqual([best.x, best.y], [[50], [31.25]]);
  // without `improved` (older records): the first maximum after step 0
  const old = entries.map(({ improved: _, ...e }) => e);
  strictEqual(bestCheckpoint(old, "STSBenchmark")?.step, 50);
  strictEqual(bestCheckpoint(old.slice(0, 1), "STSBenchmark"), null);
});
