/**
 * Test helpers for the bf16 ops: the `testdata/bf16/ops.json` fixture (written by
 * `reference/make_bf16_fixtures.py` with PyTorch bfloat16) and a comparison in bf16 ulps.
 *
 * @module
 */
import { readFixture } from "./fixtures.ts";
import type { AttentionCase, LinearCase } from "./fp16_assert.ts";

export interface Bf16Fixture {
  linear: LinearCase[];
  attention: AttentionCase;
}

/** The bf16 op fixture. */
export function bf16Fixture(): Bf16Fixture {
  return readFixture<Bf16Fixture>("bf16/ops.json", "simcse-bf16-fixture", 1);
}

/** Spacing of bf16 values at |v| (2^-133 in the subnormal range). */
export function bf16Ulp(v: number): number {
  const a = Math.abs(v);
  if (a < 2 ** -126) return 2 ** -133;
  return 2 ** (Math.floor(Math.log2(a)) - 7);
}

/**
 * Every `actual[i]` equals `expected[i]` or a bf16 neighbour of it (|diff| <= `ulps` bf16 ulps of the
 * expected value): what an f32 sum in another order can change after rounding to bf16. Returns the
 * fraction of exactly equal entries.
 */
export function assertWithinBf16Ulps(
  actual: ArrayLike<number>,
  expected: ArrayLike<number>,
  what: string,
  ulps = 1,
): number {
  if (actual.length !== expected.length) {
    throw new Error(`${what}: length ${actual.length} != ${expected.length}`);
  }
  let equal = 0;
  for (let i = 0; i < expected.length; i++) {
    const a = actual[i], e = expected[i];
    if (Object.is(a, e) || a === e) {
      equal++;
      continue;
    }
    if (!(Math.abs(a - e) <= ulps * bf16Ulp(e) * (1 + 1e-9))) {
      throw new Error(`${what}[${i}]: ${a} is not within ${ulps} bf16 ulp of ${e}`);
    }
  }
  return equal / Math.max(1, expected.length);
}
