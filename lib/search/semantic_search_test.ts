import { deepStrictEqual, ok, throws } from "node:assert/strict";
import { InputError } from "../runtime/errors.ts";
import { cosSim, semanticSearch } from "./semantic_search.ts";

Deno.test("`cosSim()` gives hand-computed cosines (scale-free, zero rows give 0)", () => {
  const s = cosSim([[3, 4], [0, 0]], [[4, 3], [-3, -4], [0, 2]]);
  const want = [[24 / 25, -1, 0.8], [0, 0, 0]];
  s.forEach((row, i) =>
    row.forEach((v, j) => ok(Math.abs(v - want[i][j]) < 1e-6, `[${i}][${j}] ${v} vs ${want[i][j]}`))
  );
  throws(() => cosSim([[1, 2]], [[1, 2, 3]]), InputError);
  throws(() => cosSim([], [[1]]), InputError);
});

Deno.test("`semanticSearch()` keeps scores >= threshold, highest first, at most topK per query", () => {
  const corpus = [[1, 0], [0.8, 0.6], [0, 1], [-1, 0]];
  const hits = semanticSearch([[1, 0], [0, 1]], corpus, { topK: 2, threshold: 0.5 });
  deepStrictEqual(hits.map((h) => h.map((x) => x.index)), [[0, 1], [2, 1]]);
  ok(Math.abs(hits[0][1].score - 0.8) < 1e-6 && Math.abs(hits[1][1].score - 0.6) < 1e-6);
  deepStrictEqual(semanticSearch([[1, 0]], corpus)[0].map((h) => h.index), [0, 1], "defaults: top 5, >= 0.6");
});
