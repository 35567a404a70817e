/**
 * Tests for `seeded_rng.ts` against `testdata/data/rng_reference.json` (an independent Python
 * implementation, `reference/make_data_fixtures.py`) and the widely published first output of
 * mulberry32 seeded with 0.
 *
 * @module
 */

import { deepStrictEqual as assertEquals, ok as assert, throws } from "node:assert/strict";
import { int64Words, mixSeed, Mulberry32 } from "./seeded_rng.ts";

const fixture = JSON.parse(
  await Deno.readTextFile(new URL("../../testdata/data/rng_reference.json", import.meta.url)),
);

Deno.test("`Mulberry32` seeded with 0 starts at 0.26642920868471265 (the published value)", () => {
  assertEquals(new Mulberry32(0).nextFloat(), 0.26642920868471265);
});

Deno.test("`Mulberry32.nextUint32()` equals the Python re-implementation", () => {
  for (const c of fixture.mulberry32 as { seed: number; uint32: number[] }[]) {
    const r = new Mulberry32(c.seed);
    assertEquals(c.uint32.map(() => r.nextUint32()), c.uint32, `seed ${c.seed}`);
  }
});

Deno.test("`Mulberry32.nextBelow()` equals the Python rejection sampler and checks its bound", () => {
  for (const c of fixture.nextBelow as { seed: number; bound: number; values: number[] }[]) {
    const r = new Mulberry32(c.seed);
    assertEquals(c.values.map(() => r.nextBelow(c.bound)), c.values, `seed ${c.seed} bound ${c.bound}`);
  }
  const r = new Mulberry32(1);
  throws(() => r.nextBelow(0), RangeError);
  throws(() => r.nextBelow(2.5), RangeError);
  throws(() => r.nextBelow(2 ** 32 + 1), RangeError);
});

Deno.test("`mixSeed()` equals the Python re-implementation", () => {
  for (const c of fixture.mixSeed as { words: number[]; value: number }[]) {
    assertEquals(mixSeed(c.words), c.value, JSON.stringify(c.words));
  }
});

Deno.test("`int64Words()` splits two's-complement 64-bit words", () => {
  assertEquals(int64Words(0), [0, 0]);
  assertEquals(int64Words(42), [42, 0]);
  assertEquals(int64Words(-1), [0xffffffff, 0xffffffff]);
  assertEquals(int64Words(2 ** 40 + 3), [3, 256]);
  throws(() => int64Words(1.5), RangeError);
  throws(() => int64Words(2 ** 60), RangeError);
  assert(true);
});
