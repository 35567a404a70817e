/**
 * Tests for sts_eval.ts. The end-to-end check runs `evaluate()` over the real data with the
 * deterministic fake embedding defined in reference/make_eval_fixtures.py and compares every
 * table cell, correlation and count with that script's independent SentEval re-implementation
 * (testdata/eval/sts_fake.json).
 */
import { deepStrictEqual as assertEquals, ok as assert, rejects as assertRejects } from "node:assert/strict";
import { InputError } from "../runtime/errors.ts";
import { formatFixed2 } from "./py_format.ts";
import { loadStsBenchmark } from "./sts_data.ts";
import { cosineNanToNum, type EvalTask, evaluate, scoreRecord, type TaskResult } from "./sts_eval.ts";

const DATA_DIR = Deno.env.get("SIMCSE_DATA_DIR") ??
  decodeURIComponent(new URL("../../../shared/data", import.meta.url).pathname);
const HAVE_DATA = await Deno.stat(`${DATA_DIR}/senteval/STS`).then(() => true, () => false);
if (!HAVE_DATA) console.warn(`sts_eval_test: no data in ${DATA_DIR}; real-data tests are skipped`);

interface CorrFixture {
  n: number;
  spearman: number;
  pearson: number;
  name: string;
  spearman_raw_text?: number;
}
interface Fixture {
  batch_size: number;
  tasks: Record<
    string,
    Record<string, CorrFixture & { subsets?: CorrFixture[]; mean_spearman?: number; wmean_spearman?: number }>
  >;
  scores: { test: Record<string, string>; dev: Record<string, string> };
}
const fixture: Fixture = JSON.parse(
  await Deno.readTextFile(new URL("../../testdata/eval/sts_fake.json", import.meta.url)),
);

const ALL: EvalTask[] = [
  "STS12",
  "STS13",
  "STS14",
  "STS15",
  "STS16",
  "STSBenchmark",
  "SICKRelatedness",
  "LCQMC",
  "PAWSX",
  "STSB-zh",
];

/** The fake embedding of make_eval_fixtures.py: code-point histogram + batch-position mark. */
function fakeEmbed(sentences: string[]): Promise<Float32Array[]> {
  return Promise.resolve(sentences.map((text, k) => {
    const v = new Float32Array(16);
    let i = 0;
    for (const ch of text) {
      v[(ch.codePointAt(0)! + 3 * i) % 16] += 1;
      i++;
    }
    v[k % 16] += 0.5;
    return v;
  }));
}

function close(actual: number, expected: number, what: string, tol = 1e-9) {
  assert(Math.abs(actual - expected) <= tol, `${what}: ${actual} vs ${expected}`);
}

function checkTask(r: TaskResult, want: CorrFixture, what: string) {
  assertEquals(r.n, want.n, `${what} n`);
  close(r.spearman, want.spearman, `${what} spearman`);
  close(r.pearson, want.pearson, `${what} pearson`);
}

Deno.test({
  name: "`evaluate()` reproduces SentEval's table with a fake embedding (mode test, all tasks)",
  ignore: !HAVE_DATA,
  fn: async () => {
    const t0 = performance.now();
    const r = await evaluate(fakeEmbed, {
      dataDir: DATA_DIR,
      mode: "test",
      tasks: ALL,
      chineseText: "spaced",
    });
    const ms = performance.now() - t0;
    assertEquals(r.skipped, []);
    assertEquals(r.tasks.map((t) => t.task), ALL);
    for (const t of r.tasks) {
      const want = fixture.tasks[t.task].test;
      assertEquals(t.split, "test");
      checkTask(t, want, t.task);
      if (want.subsets) {
        assertEquals(t.subsets!.map((s) => s.name), want.subsets.map((s) => s.name));
        t.subsets!.forEach((s, i) => checkTask({ ...t, ...s }, want.subsets![i], `${t.task} ${s.name}`));
        close(t.meanSpearman!, want.mean_spearman!, `${t.task} mean`);
        close(t.wmeanSpearman!, want.wmean_spearman!, `${t.task} wmean`);
      }
    }
    assertEquals(Object.keys(r.scores), Object.keys(fixture.scores.test));
    for (const [k, v] of Object.entries(r.scores)) assertEquals(formatFixed2(v), fixture.scores.test[k], k);
    assert(ms < 20000, `evaluation took ${ms} ms`);
  },
});

Deno.test({
  name: "`evaluate()` in dev mode scores STS-B/SICK dev and Chinese valid, skips STS12–16, no Avg.",
  ignore: !HAVE_DATA,
  fn: async () => {
    const r = await evaluate(fakeEmbed, {
      dataDir: DATA_DIR,
      mode: "dev",
      tasks: ALL,
      chineseText: "spaced",
    });
    assertEquals(r.skipped.map((s) => s.task), ["STS12", "STS13", "STS14", "STS15", "STS16"]);
    assertEquals(r.tasks.map((t) => [t.task, t.split]), [
      ["STSBenchmark", "dev"],
      ["SICKRelatedness", "dev"],
      ["LCQMC", "valid"],
      ["PAWSX", "valid"],
      ["STSB-zh", "valid"],
    ]);
    for (const t of r.tasks) checkTask(t, fixture.tasks[t.task][t.split], `${t.task} ${t.split}`);
    assertEquals(Object.keys(r.scores), Object.keys(fixture.scores.dev));
    for (const [k, v] of Object.entries(r.scores)) assertEquals(formatFixed2(v), fixture.scores.dev[k], k);
  },
});

Deno.test({
  name: '`evaluate()` with chineseText "raw" gives the encoder the unspaced sentences',
  ignore: !HAVE_DATA,
  fn: async () => {
    for (const mode of ["test", "dev"] as const) {
      const r = await evaluate(fakeEmbed, {
        dataDir: DATA_DIR,
        mode,
        tasks: ["LCQMC", "PAWSX", "STSB-zh"],
        chineseText: "raw",
      });
      for (const t of r.tasks) close(t.spearman, fixture.tasks[t.task][t.split].spearman_raw_text!, t.task);
    }
  },
});

Deno.test({
  name: "`evaluate()` batches like SentEval: batch of first sentences, then its second sentences",
  ignore: !HAVE_DATA,
  fn: async () => {
    const calls: string[][] = [];
    const progress: [number, number][] = [];
    const embed = (s: string[]) => {
      calls.push(s);
      return fakeEmbed(s);
    };
    await evaluate(embed, {
      dataDir: DATA_DIR,
      mode: "dev",
      tasks: ["STSBenchmark"],
      batchSize: 100,
      onProgress: (d, t) => progress.push([d, t]),
    });
    const dev = await loadStsBenchmark(DATA_DIR, "dev");
    assertEquals(calls.length, 30); // 1500 pairs / 100, two calls per batch
    for (let b = 0; b < 15; b++) {
      assertEquals(calls[2 * b], dev.s1.slice(100 * b, 100 * b + 100));
      assertEquals(calls[2 * b + 1], dev.s2.slice(100 * b, 100 * b + 100));
    }
    assertEquals(progress.length, 15);
    assertEquals(progress[0], [100, 1500]);
    assertEquals(progress[14], [1500, 1500]);

    // Default batch size 128: 1379 STS-B test pairs -> 10 full batches and one of 99.
    const sizes: number[] = [];
    await evaluate((s) => {
      sizes.push(s.length);
      return fakeEmbed(s);
    }, { dataDir: DATA_DIR, mode: "test", tasks: ["STSBenchmark"] });
    assertEquals(sizes, [...Array(20).fill(128), 99, 99]);
  },
});

Deno.test("`cosineNanToNum()` follows SentEval's nan_to_num cosine (hand-computed)", () => {
  close(cosineNanToNum(new Float32Array([1, 2, 2]), new Float32Array([2, 1, 2])), 8 / 9, "cos");
  assertEquals(cosineNanToNum(new Float32Array(3), new Float32Array([1, 2, 3])), 0);
  // NaN entries count as 0: [NaN, 1] ~ [0, 1].
  close(cosineNanToNum(new Float32Array([NaN, 1]), new Float32Array([1, 1])), Math.SQRT1_2, "nan entry");
  close(cosineNanToNum(new Float32Array([Infinity, 0]), new Float32Array([1, 0])), 1, "inf entry");
});

function fakeResult(task: EvalTask, spearman100: number): TaskResult {
  return { task, split: "test", n: 1, spearman: spearman100 / 100, pearson: 0, spearman100 };
}

Deno.test('`scoreRecord()` rounds like "%.2f" and averages the rounded values (Python-computed)', () => {
  // Python: ['%.2f' % x for x in v] -> 68.41 82.41 74.38 80.91 76.12 76.84 72.23, Avg. '75.90'.
  const v = [68.405, 82.414999, 74.375, 80.905, 76.125, 76.845, 72.235];
  const en = ["STS12", "STS13", "STS14", "STS15", "STS16", "STSBenchmark", "SICKRelatedness"] as const;
  const rec = scoreRecord(en.map((t, i) => fakeResult(t, v[i])), "test");
  assertEquals(rec, {
    STS12: 68.41,
    STS13: 82.41,
    STS14: 74.38,
    STS15: 80.91,
    STS16: 76.12,
    STSBenchmark: 76.84,
    SICKRelatedness: 72.23,
    "Avg.": 75.9,
  });
  // A missing task is not counted as 0: no Avg. at all.
  const partial = scoreRecord(en.slice(0, 6).map((t, i) => fakeResult(t, v[i])), "test");
  assert(!("Avg." in partial));
  assert(!("Avg." in scoreRecord(en.map((t, i) => fakeResult(t, v[i])), "dev")));
});

Deno.test("`evaluate()` rejects bad options and bad embeddings, and checks data before embedding", async () => {
  let called = 0;
  const counting = (s: string[]) => {
    called++;
    return fakeEmbed(s);
  };
  await assertRejects(
    evaluate(counting, { dataDir: "/nonexistent-simcse-data", mode: "test", tasks: ["STS12"] }),
    (e) =>
      e instanceof InputError && e.message.includes("/nonexistent-simcse-data/senteval/STS/STS12-en-test"),
  );
  assertEquals(called, 0);
  await assertRejects(
    evaluate(counting, { dataDir: DATA_DIR, mode: "test", tasks: ["STS17" as EvalTask] }),
    RangeError,
  );
  await assertRejects(
    evaluate(counting, { dataDir: DATA_DIR, mode: "test", tasks: ["STS12"], batchSize: 0 }),
    RangeError,
  );
  if (HAVE_DATA) {
    await assertRejects(
      evaluate((s) => fakeEmbed(s.slice(1)), { dataDir: DATA_DIR, mode: "dev", tasks: ["STSBenchmark"] }),
      /returned 127 vectors, expected 128/,
    );
    // A NaN or infinite embedding is an error naming the task and the sentence, never cosine 0.
    for (const bad of [NaN, Infinity]) {
      await assertRejects(
        evaluate(async (s) => {
          const v = await fakeEmbed(s);
          v[3][1] = bad;
          return v;
        }, { dataDir: DATA_DIR, mode: "dev", tasks: ["STSBenchmark"] }),
        (e) =>
          e instanceof InputError &&
          new RegExp(`^STSBenchmark: the embedding of "[^"]+" has ${bad} at dimension 1`).test(e.message),
      );
    }
  }
});
