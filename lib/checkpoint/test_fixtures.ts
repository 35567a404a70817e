/**
 * Test support for the checkpoint readers (imported by `*_test.ts` only): fixture paths under
 * `testdata/checkpoint/`, the values `reference/make_checkpoint_fixtures.py` recorded with PyTorch
 * and numpy, an exact tensor comparison, a seeded PRNG for fuzz loops, and an assertion that a
 * failure is a clean {@link InputError} naming the file.
 *
 * @example
 * ```ts
 * import { fixturePath, loadExpected } from "./test_fixtures.ts";
 * const expected = await loadExpected();
 * console.log(fixturePath("state_dict.bin"), Object.keys(expected.torch).length);
 * ```
 * @module
 */

import { ok as assert } from "node:assert/strict";
import { InputError } from "../runtime/errors.ts";
import type { NamedTensor } from "./state_dict.ts";
import { toFloat32 } from "./state_dict.ts";

/** What the Python script recorded for one tensor (I64 values as strings; non-finite floats as "inf"/"nan"). */
export interface ExpectedTensor {
  dtype: string;
  shape: number[];
  values: (number | string)[];
}

/** The whole `expected.json`. */
export interface Expected {
  torch: Record<string, ExpectedTensor>;
  safetensors: Record<string, ExpectedTensor>;
  safetensors_metadata: Record<string, string>;
  sharded: Record<string, ExpectedTensor>;
  /** legacy.bin (`{w: ones(2)}`) and legacy_view.bin (storage views), as torch.load returns them. */
  legacy: Record<string, ExpectedTensor>;
  legacy_view: Record<string, ExpectedTensor>;
  pickles: { hex: string; value: unknown }[];
}

/** Absolute path of a file under `testdata/checkpoint/`. */
export function fixturePath(name: string): string {
  return decodeURIComponent(new URL(`../../testdata/checkpoint/${name}`, import.meta.url).pathname);
}

/** Parse `expected.json`. */
export async function loadExpected(): Promise<Expected> {
  return JSON.parse(await Deno.readTextFile(fixturePath("expected.json")));
}

/** Assert dtype, shape and every value are exactly the recorded ones (-0 and NaN included). */
export function assertTensorMatches(
  actual: NamedTensor | undefined,
  expected: ExpectedTensor,
  key: string,
): void {
  assert(actual, `${key}: missing`);
  assert(actual.dtype === expected.dtype, `${key}: dtype ${actual.dtype} != ${expected.dtype}`);
  assert(
    JSON.stringify(actual.shape) === JSON.stringify(expected.shape),
    `${key}: shape [${actual.shape}] != [${expected.shape}]`,
  );
  assert(actual.data.length === expected.values.length, `${key}: ${actual.data.length} values`);
  const values: ArrayLike<number | bigint> = actual.dtype === "BF16" ? toFloat32(actual) : actual.data;
  for (let i = 0; i < expected.values.length; i++) {
    const want = expected.values[i], got = values[i];
    const same: boolean = actual.dtype === "I64"
      ? got === BigInt(want as string)
      : want === "nan"
      ? Number.isNaN(got)
      : Object.is(got, want === "inf" ? Infinity : want === "-inf" ? -Infinity : want);
    assert(same, `${key}[${i}]: got ${got}, expected ${want}`);
  }
}

/** Assert `e` is an InputError whose message names `file` (and contains `fragment`, if given). */
export function assertInputError(e: unknown, file: string, fragment?: string): void {
  assert(e instanceof InputError, `expected InputError, got ${(e as Error)?.name}: ${(e as Error)?.message}`);
  assert(e.message.includes(file), `message does not name ${file}: ${e.message}`);
  if (fragment) assert(e.message.includes(fragment), `message lacks "${fragment}": ${e.message}`);
}

/** Run `f`, which must throw an InputError naming `file`; returns the message. */
export function expectInputError(f: () => unknown, file: string, fragment?: string): string {
  try {
    f();
  } catch (e) {
    assertInputError(e, file, fragment);
    return (e as Error).message;
  }
  throw new Error(`expected an InputError${fragment ? ` (${fragment})` : ""}, but it succeeded`);
}

/** mulberry32: a small seeded PRNG returning floats in [0, 1). */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** A copy of `bytes` with 1-4 random bits flipped in [from, to). */
export function flipBits(bytes: Uint8Array, rand: () => number, from = 0, to = bytes.length): Uint8Array {
  const out = bytes.slice();
  const flips = 1 + Math.floor(rand() * 4);
  for (let i = 0; i < flips; i++) {
    const at = from + Math.floor(rand() * (to - from));
    out[at] ^= 1 << Math.floor(rand() * 8);
  }
  return out;
}
