/** Tests for spearman.ts against scipy values in testdata/eval/stats.json (reference/make_eval_fixtures.py). */
import { deepStrictEqual as assertEquals, ok as assert, throws as assertThrows } from "node:assert/strict";
import { pearson, rankAverage, spearman } from "./spearman.ts";

interface StatsCase {
  name: string;
  pearson: number | null;
  spearman: number | null;
  x?: (number | null)[];
  y?: (number | null)[];
  rank_x?: (number | null)[];
  rank_y?: (number | null)[];
  n?: number;
}
const fixture: { cases: StatsCase[] } = JSON.parse(
  await Deno.readTextFile(new URL("../../testdata/eval/stats.json", import.meta.url)),
);
const num = (v: number | null): number => (v === null ? NaN : v);
const arr = (a: (number | null)[]): number[] => a.map(num);

function assertAlmostEquals(actual: number, expected: number, tol: number, what: string) {
  assert(Math.abs(actual - expected) <= tol, `${what}: ${actual} vs ${expected}`);
}

function expectClose(actual: number, expected: number | null, what: string) {
  if (expected === null) assert(Number.isNaN(actual), `${what}: expected NaN, got ${actual}`);
  else assertAlmostEquals(actual, expected, 1e-12, what);
}

Deno.test("`rankAverage()` gives ties average ranks (hand-computed)", () => {
  assertEquals(Array.from(rankAverage([10, 20, 20, 5])), [2, 3.5, 3.5, 1]);
  assertEquals(Array.from(rankAverage([-1, -1, -1])), [2, 2, 2]);
  assertEquals(Array.from(rankAverage([0, -0, Infinity, -Infinity])), [2.5, 2.5, 4, 1]);
  assertEquals(rankAverage([]).length, 0);
});

Deno.test("`rankAverage()` matches scipy rankdata('average') and NaN propagates", () => {
  for (const c of fixture.cases) {
    if (!c.x) continue;
    const rx = Array.from(rankAverage(arr(c.x)));
    const ry = Array.from(rankAverage(arr(c.y!)));
    assertEquals(rx.map((v) => (Number.isNaN(v) ? null : v)), c.rank_x!.map((v) => v), `${c.name} x`);
    assertEquals(ry.map((v) => (Number.isNaN(v) ? null : v)), c.rank_y!.map((v) => v), `${c.name} y`);
  }
});

Deno.test("`spearman()` and `pearson()` match scipy on ties, negatives, constant and NaN input", () => {
  for (const c of fixture.cases) {
    if (!c.x) continue;
    const x = arr(c.x);
    const y = arr(c.y!);
    expectClose(spearman(x, y), c.spearman, `${c.name} spearman`);
    expectClose(pearson(x, y), c.pearson, `${c.name} pearson`);
  }
});

Deno.test("`spearman()` matches scipy on a generated n=200000 case with many ties", () => {
  const c = fixture.cases.find((k) => k.name === "large_generated_n200000")!;
  const n = c.n!;
  const x = new Float64Array(n);
  const y = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    x[i] = ((i * 7919 + 17) % 1009) - 504;
    y[i] = ((i * 104729 + 3) % 997) * 0.5 + x[i] * 0.25;
  }
  expectClose(spearman(x, y), c.spearman, "large spearman");
  expectClose(pearson(x, y), c.pearson, "large pearson");
});

Deno.test("`pearson()` is NaN below 2 points and rejects length mismatch", () => {
  assert(Number.isNaN(pearson([1], [2])));
  assert(Number.isNaN(spearman([], [])));
  assertThrows(() => spearman([1, 2], [1]), RangeError);
  assertEquals(spearman([1, 2, 3], [3, 2, 1]), -1);
});
