import { deepStrictEqual, throws } from "node:assert/strict";
import { paddedArrays, paddedLength } from "./padding.ts";

Deno.test("paddedLength: the longest row, at least padTo, rounded up to padToMultipleOf", () => {
  deepStrictEqual(paddedLength(5, {}), 5);
  deepStrictEqual(paddedLength(5, { padTo: 3 }), 5); // never shorter than a row
  deepStrictEqual(paddedLength(5, { padTo: 9 }), 9);
  deepStrictEqual(paddedLength(5, { padToMultipleOf: 8 }), 8);
  deepStrictEqual(paddedLength(16, { padToMultipleOf: 8 }), 16);
  deepStrictEqual(paddedLength(3, { padTo: 5, padToMultipleOf: 4 }), 8); // padTo first, then rounded
  for (const bad of [0, -1, 1.5, NaN]) {
    throws(() => paddedLength(3, { padTo: bad }), /padTo must be a positive integer/);
    throws(() => paddedLength(3, { padToMultipleOf: bad }), /padToMultipleOf must be a positive integer/);
  }
});

Deno.test("paddedArrays: ids all padId, masks and token types zero", () => {
  const a = paddedArrays(2, 3, 7);
  deepStrictEqual([...a.inputIds], [7, 7, 7, 7, 7, 7]);
  deepStrictEqual([...a.attentionMask], [0, 0, 0, 0, 0, 0]);
  deepStrictEqual([...a.tokenTypeIds], [0, 0, 0, 0, 0, 0]);
});
