/**
 * Python's `"%.2f" % x` in TypeScript: the exact binary value rounded to 2 decimals, ties to even.
 * `Number.prototype.toFixed` already rounds the exact value, but breaks exact ties upward
 * (`(0.125).toFixed(2)` is "0.13", Python gives "0.12"), and writes -0 as "0.00" (Python "-0.00").
 * The official `evaluation.py` formats every score this way before averaging.
 *
 * @example
 * ```ts
 * import { formatFixed2 } from "./py_format.ts";
 * formatFixed2(76.125); // "76.12" (Python: '%.2f' % 76.125 == '76.12')
 * ```
 * @module
 */

/** `"%.2f" % x` exactly as Python prints it (NaN → "nan", ±Infinity → "inf"/"-inf"). */
export function formatFixed2(x: number): string {
  if (Number.isNaN(x)) return "nan";
  if (x === Infinity) return "inf";
  if (x === -Infinity) return "-inf";
  const sign = x < 0 || Object.is(x, -0) ? "-" : "";
  const a = Math.abs(x);
  // An exact tie at the third decimal means a = k + 0.005 exactly, which a double can hold only
  // when a = q/8 with q odd (then 100a = 12.5q is exact).
  const q = a * 8;
  if (a < 1e15 && Number.isInteger(q) && q % 2 === 1) {
    const lower = Math.floor(a * 100);
    const n = lower % 2 === 0 ? lower : lower + 1;
    return sign + (n / 100).toFixed(2);
  }
  return sign + a.toFixed(2);
}
