/** Tests for py_format.ts: expected strings are what Python 3 prints for `"%.2f" % x`. */
import { deepStrictEqual as assertEquals } from "node:assert/strict";
import { formatFixed2 } from "./py_format.ts";

Deno.test('`formatFixed2()` matches Python\'s "%.2f", ties to even', () => {
  // Produced with /usr/bin/python3: print('%.2f' % x) for each x.
  const cases: [number, string][] = [
    [0.125, "0.12"],
    [0.375, "0.38"],
    [76.125, "76.12"],
    [-0.125, "-0.12"],
    [2.675, "2.67"],
    [1.005, "1.00"],
    [0.5, "0.50"],
    [0.25, "0.25"],
    [-0, "-0.00"],
    [-0.001, "-0.00"],
    [68.40499999, "68.40"],
    [1e-9, "0.00"],
    [12.345, "12.35"],
    [99.995, "100.00"],
    [0.625, "0.62"],
    [0.875, "0.88"],
    [1.125, "1.12"],
  ];
  for (const [x, want] of cases) assertEquals(formatFixed2(x), want, `x=${x}`);
});

Deno.test("`formatFixed2()` writes NaN and infinities like Python", () => {
  assertEquals(formatFixed2(NaN), "nan");
  assertEquals(formatFixed2(Infinity), "inf");
  assertEquals(formatFixed2(-Infinity), "-inf");
});
