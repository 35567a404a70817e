import { deepStrictEqual, throws } from "node:assert/strict";
import fc from "fast-check";
import { selectTopK } from "./top_k.ts";
import { InputError } from "../runtime/errors.ts";

Deno.test("`selectTopK()` keeps scores >= threshold, highest first, at most topK (hand-computed)", () => {
  const scores = [0.2, 0.9, 0.6, 0.95, 0.59, 0.7];
  deepStrictEqual(selectTopK(scores).map((h) => h.index), [3, 1, 5, 2]); // defaults: topK 5, threshold 0.6
  deepStrictEqual(selectTopK(scores, { topK: 2 }).map((h) => h.index), [3, 1]);
  deepStrictEqual(selectTopK(scores, { threshold: 0.75 }).map((h) => h.index), [3, 1]);
  deepStrictEqual(selectTopK(scores, { threshold: -1, topK: 10 }).map((h) => h.index), [3, 1, 5, 2, 4, 0]);
  deepStrictEqual(selectTopK(scores, { topK: 0 }), []);
  deepStrictEqual(selectTopK([], { topK: 3 }), []);
});

Deno.test("`selectTopK()` breaks ties by index order (Python's stable sorted(reverse=True)) and drops NaN", () => {
  deepStrictEqual(selectTopK([0.8, NaN, 0.9, 0.8, 0.9, 0.8], { topK: 4 }).map((h) => h.index), [2, 4, 0, 3]);
  deepStrictEqual(selectTopK([0.8, 0.8, 0.8], { topK: 2 }).map((h) => h.index), [0, 1]);
});

Deno.test("`selectTopK()` maps positions to candidate ids when given", () => {
  deepStrictEqual(selectTopK([0.7, 0.9], { topK: 5 }, [42, 7]), [{ index: 7, score: 0.9 }, {
    index: 42,
    score: 0.7,
  }]);
});

Deno.test("`selectTopK()` rejects a negative or fractional topK and a NaN threshold with InputError", () => {
  throws(() => selectTopK([1], { topK: -1 }), InputError);
  throws(() => selectTopK([1], { topK: 1.5 }), InputError);
  throws(() => selectTopK([1], { threshold: NaN }), InputError);
});

Deno.test("`selectTopK()` equals filter + stable sort + slice on random scores", () => {
  fc.assert(
    fc.property(
      fc.array(fc.integer({ min: -20, max: 20 }), { maxLength: 60 }),
      fc.integer({ min: 0, max: 12 }),
      fc.integer({ min: -20, max: 20 }),
      (ints, topK, t) => {
        const scores = ints.map((x) => x / 20); // coarse grid: many exact ties
        const threshold = t / 20;
        const expected = scores.map((score, index) => ({ index, score }))
          .filter((h) => h.score >= threshold)
          .sort((a, b) => b.score - a.score || a.index - b.index)
          .slice(0, topK);
        deepStrictEqual(selectTopK(scores, { topK, threshold }), expected);
      },
    ),
    { numRuns: 300 },
  );
});
