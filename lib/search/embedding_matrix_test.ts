import { deepStrictEqual, ok, throws } from "node:assert/strict";
import { EmbeddingMatrix, unitVector } from "./embedding_matrix.ts";
import { InputError } from "../runtime/errors.ts";

Deno.test("`EmbeddingMatrix.scores()` gives the cosine of a unit query with every appended row (hand-computed)", () => {
  const m = new EmbeddingMatrix(2, 1); // starts with room for 1 row: appending grows it
  m.append([new Float32Array([3, 4]), new Float32Array([0, 2]), new Float32Array([-5, 0])]);
  m.append([new Float32Array([0, 0])]);
  deepStrictEqual(m.count, 4);
  deepStrictEqual(Array.from(m.row(0)), [Math.fround(0.6), Math.fround(0.8)]);
  const s = m.scores(new Float32Array([0, 1]));
  deepStrictEqual(Array.from(s), [Math.fround(0.8), 1, 0, 0]); // -5,0 is orthogonal; the zero row scores 0
  const s2 = m.scores(unitVector([1, 1]));
  const r = Math.SQRT1_2;
  for (const [i, want] of [0.6 * r + 0.8 * r, r, -r, 0].entries()) {
    ok(Math.abs(s2[i] - want) < 1e-6, `row ${i}`);
  }
});

Deno.test("`EmbeddingMatrix` handles sizes not divisible by 4 in its unrolled loop", () => {
  const m = new EmbeddingMatrix(7);
  m.append([new Float32Array([1, 2, 3, 4, 5, 6, 7])]);
  const q = new Float32Array([1, 1, 1, 1, 1, 1, 1]);
  const want = 28 / Math.sqrt(140); // (1+...+7) / |(1..7)|, query not normalised here
  ok(Math.abs(m.scores(q)[0] - want) < 1e-5);
});

Deno.test("`EmbeddingMatrix` rejects vectors of the wrong size with InputError", () => {
  const m = new EmbeddingMatrix(3);
  throws(() => m.append([new Float32Array(2)]), InputError);
  throws(() => m.scores(new Float32Array(4)), InputError);
  throws(() => new EmbeddingMatrix(0), InputError);
  throws(() => EmbeddingMatrix.fromData(3, new Float32Array(4)), InputError);
});
