/**
 * Test helpers for the bf16 ops: the `testdata/bf16/ops.json` fixture (written by
 * `reference/make_bf16_fixtures.py` with PyTorch bfloat16) and a comparison in bf16 ulps.
 *
 * @module
 */
import { type ArrayFixture, readFixture } from "./fixtures.ts";
import { assertWithinUlps, type AttentionCase, type LinearCase } from "./fp16_assert.ts";

/** bf16Linear(act) then bf16Linear: inputs, output and gradients (`halfFeedForward`). */
export interface FeedForwardCase {
  activation: "gelu" | "gelu_new" | "relu";
  x: ArrayFixture;
  w1: ArrayFixture;
  b1: ArrayFixture;
  w2: ArrayFixture;
  b2: ArrayFixture;
  dy: ArrayFixture;
  y: ArrayFixture;
  dx: ArrayFixture;
  dw1: ArrayFixture;
  db1: ArrayFixture;
  dw2: ArrayFixture;
  db2: ArrayFixture;
}

export interface Bf16Fixture {
  linear: LinearCase[];
  attention: AttentionCase;
  feedForward: FeedForwardCase[];
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

/** `assertWithinUlps` in bf16 ulps. */
export function assertWithinBf16Ulps(
  actual: ArrayLike<number>,
  expected: ArrayLike<number>,
  what: string,
  ulps = 1,
): number {
  return assertWithinUlps(bf16Ulp, "bf16", actual, expected, what, ulps);
}
