/**
 * Test helpers: read the versioned PyTorch fixtures under `testdata/`, compare arrays with a
 * relative tolerance (printing the max difference), and the deterministic "hash dropout" that the
 * reference generator (`reference/make_bert_fixtures.py`) uses, so TS and PyTorch share masks.
 *
 * @module
 */
import { tf } from "../lib/runtime/tf.ts";
import type { DropoutFn } from "../lib/ops/dropout.ts";

export const TESTDATA = new URL("../testdata/", import.meta.url).pathname;

export interface ArrayFixture {
  shape: number[];
  data: number[];
}

/** Load a JSON fixture, checking its format/version header. */
export function readFixture<T = Record<string, unknown>>(
  rel: string,
  format = "simcse-bert-fixture",
  version = 1,
): T {
  const json = JSON.parse(Deno.readTextFileSync(`${TESTDATA}${rel}`));
  if (json.format !== format || json.version !== version) {
    throw new Error(
      `${rel}: fixture format ${json.format} v${json.version}, expected ${format} v${version}; re-run \`deno task fixtures\``,
    );
  }
  return json as T;
}

/**
 * Assert |a - e| <= tol * max(|e|, scale) elementwise, where `scale` is the fixture's max magnitude
 * times `floor` (so near-zero entries are compared absolutely; `floor = 1` is relative to the tensor's max;
 * `floor = 0` with all-zero `expected` is absolute). Throws with the worst index.
 */
export function assertClose(
  actual: ArrayLike<number>,
  expected: ArrayLike<number>,
  tol: number,
  what: string,
  floor = 1e-2,
): number {
  if (actual.length !== expected.length) {
    throw new Error(`${what}: length ${actual.length} != ${expected.length}`);
  }
  let maxAbs = 0;
  for (let i = 0; i < expected.length; i++) maxAbs = Math.max(maxAbs, Math.abs(expected[i]));
  const scale = maxAbs * floor;
  let worst = 0, worstI = -1;
  for (let i = 0; i < expected.length; i++) {
    const err = Math.abs(actual[i] - expected[i]) /
      Math.max(Math.abs(expected[i]), scale, floor === 0 ? 1 : 1e-12);
    if (!(err <= worst)) {
      worst = err;
      worstI = i;
    }
  }
  if (!(worst <= tol)) {
    throw new Error(
      `${what}: max rel diff ${worst.toExponential(2)} > ${tol} at ${worstI} (got ${actual[worstI]}, want ${
        expected[worstI]
      })`,
    );
  }
  return worst;
}

/** float32 1/(1-p), as the reference scales kept values. */
function keepScale(p: number): number {
  return Math.fround(1 / (1 - p));
}

/**
 * The reference's deterministic dropout: element i at site k is kept iff
 * ((i * 2654435761 + k * 40503 + 12345) mod 2^32) mod 10 != 0.
 */
export function hashDropout(siteOffset = 0): DropoutFn {
  return (x: tf.Tensor, rate: number, site: number) => {
    const k = site + siteOffset;
    const n = x.size;
    const mask = new Float32Array(n);
    const s = keepScale(rate);
    for (let i = 0; i < n; i++) {
      const h = (Math.imul(i, 2654435761 | 0) + Math.imul(k, 40503) + 12345) >>> 0;
      mask[i] = h % 10 !== 0 ? s : 0;
    }
    return tf.mul(x, tf.tensor(mask, x.shape));
  };
}
