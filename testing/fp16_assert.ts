/**
 * Test helpers for the fp16 ops: the `testdata/fp16/ops.json` fixture (written by
 * `reference/make_fp16_fixtures.py`) and a comparison in binary16 ulps.
 *
 * @module
 */
import { readFixture } from "./fixtures.ts";
import type { ArrayFixture } from "./fixtures.ts";

export interface LinearCase {
  activation: "none" | "gelu" | "gelu_new" | "relu";
  x: ArrayFixture;
  w: ArrayFixture;
  b: ArrayFixture;
  dy: ArrayFixture;
  y: ArrayFixture;
  dx: ArrayFixture;
  dw: ArrayFixture;
  db: ArrayFixture;
}

export interface MatmulCase {
  transposeA: boolean;
  transposeB: boolean;
  a: ArrayFixture;
  b: ArrayFixture;
  dy: ArrayFixture;
  y: ArrayFixture;
  da: ArrayFixture;
  db: ArrayFixture;
}

export interface AttentionCase {
  batch: number;
  seqLen: number;
  heads: number;
  scale: number;
  q: ArrayFixture;
  k: ArrayFixture;
  v: ArrayFixture;
  probs: ArrayFixture;
  dyScores: ArrayFixture;
  dyContext: ArrayFixture;
  scores: ArrayFixture;
  dq: ArrayFixture;
  dk: ArrayFixture;
  context: ArrayFixture;
  dprobs: ArrayFixture;
  dv: ArrayFixture;
}

export interface Fp16Fixture {
  linear: LinearCase[];
  matmul: MatmulCase[];
  attention: AttentionCase;
}

/** The fp16 op fixture. */
export function fp16Fixture(): Fp16Fixture {
  return readFixture<Fp16Fixture>("fp16/ops.json", "simcse-fp16-fixture", 1);
}

/** Spacing of binary16 values at |v| (2^-24 in the subnormal range). */
export function halfUlp(v: number): number {
  const a = Math.abs(v);
  if (a < 2 ** -14) return 2 ** -24;
  return 2 ** (Math.floor(Math.log2(a)) - 10);
}

/**
 * Every `actual[i]` equals `expected[i]` or a neighbour of it in a 16-bit format (|diff| <= `ulps`
 * spacings `ulp(expected)`): what an fp32 sum in another order can change after rounding. Returns the
 * fraction of exactly equal entries.
 */
export function assertWithinUlps(
  ulp: (v: number) => number,
  format: string,
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
    if (!(Math.abs(a - e) <= ulps * ulp(e) * (1 + 1e-9))) {
      throw new Error(`${what}[${i}]: ${a} is not within ${ulps} ${format} ulp of ${e}`);
    }
  }
  return equal / Math.max(1, expected.length);
}

/** {@link assertWithinUlps} in binary16 ulps. */
export function assertWithinHalfUlps(
  actual: ArrayLike<number>,
  expected: ArrayLike<number>,
  what: string,
  ulps = 1,
): number {
  return assertWithinUlps(halfUlp, "fp16", actual, expected, what, ulps);
}
