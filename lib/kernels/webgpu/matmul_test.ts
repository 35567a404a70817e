import { ok, strictEqual } from "node:assert/strict";
import { tf } from "../../runtime/tf.ts";
import { useBackend } from "../backend.ts";
import { skipBackend } from "../../../testing/backends.ts";
import { f16Round } from "../../ops/fp16.ts";
import { webgpuMatMul } from "./matmul.ts";
import { webgpuPackF16 } from "./fp16_round.ts";

/** Deterministic values in [-2, 2) (LCG), as float32. */
function values(n: number, seed: number): Float32Array {
  const out = new Float32Array(n);
  let s = seed >>> 0;
  for (let i = 0; i < n; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    out[i] = (s / 2 ** 32) * 4 - 2;
  }
  return out;
}

/** The reference: tf.matMul on the cpu backend (an independent implementation). */
async function cpuMatMul(
  a: Float32Array,
  aShape: number[],
  b: Float32Array,
  bShape: number[],
  ta: boolean,
  tb: boolean,
): Promise<Float32Array> {
  const prev = tf.getBackend();
  await useBackend("cpu");
  const x: tf.Tensor = tf.reshape(tf.tensor1d(a), aShape), y: tf.Tensor = tf.reshape(tf.tensor1d(b), bShape);
  const c = tf.matMul(x as tf.Tensor2D, y as tf.Tensor2D, ta, tb);
  const v = c.dataSync() as Float32Array;
  tf.dispose([x, y, c]);
  await useBackend(prev as "webgpu");
  return v;
}

/** Max |got - want| / max|want|. */
function relErr(got: Float32Array, want: Float32Array): number {
  let e = 0, m = 0;
  for (let i = 0; i < want.length; i++) {
    e = Math.max(e, Math.abs(got[i] - want[i]));
    m = Math.max(m, Math.abs(want[i]));
  }
  return e / m;
}

// Sizes off the 32×32×16 tiles, one exactly on them, 2-D and batched.
const SHAPES: [number, number, number, number][] = [[1, 5, 7, 3], [1, 32, 16, 32], [1, 70, 33, 45], [
  3,
  37,
  45,
  29,
]];

for (const [batch, M, K, N] of SHAPES) {
  for (const [ta, tb] of [[false, false], [false, true], [true, false], [true, true]]) {
    Deno.test({
      name:
        `tiled WGSL matmul f32 [${batch}×${M}×${K}×${N}] transposeA ${ta} transposeB ${tb} matches tf.matMul on cpu`,
      ignore: skipBackend("webgpu"),
      fn: async () => {
        await useBackend("webgpu");
        const lead = batch > 1 ? [batch] : [];
        const aShape = [...lead, ...(ta ? [K, M] : [M, K])], bShape = [...lead, ...(tb ? [N, K] : [K, N])];
        const a = values(batch * M * K, 1 + M), b = values(batch * K * N, 2 + N);
        const at = tf.tensor(a, aShape), bt = tf.tensor(b, bShape);
        const c = webgpuMatMul(at, bt, { transposeA: ta, transposeB: tb });
        strictEqual(c.shape.join(), [...lead, M, N].join());
        const got = await c.data() as Float32Array;
        tf.dispose([at, bt, c]);
        const want = await cpuMatMul(a, aShape, b, bShape, ta, tb);
        const err = relErr(got, want);
        ok(err < 1e-6, `relative error ${err}`);
      },
    });
  }
}

Deno.test({
  name:
    "tiled WGSL matmul on binary16 storage with bias and rounding = round(x16·W16 + b16), element by element",
  ignore: skipBackend("webgpu"),
  fn: async () => {
    await useBackend("webgpu");
    const [M, K, N] = [19, 40, 23];
    const x = values(M * K, 7).map(f16Round),
      w = values(K * N, 8).map(f16Round),
      bias = values(N, 9).map(f16Round);
    const xt = tf.tensor2d(x, [M, K]), wt = tf.tensor2d(w, [K, N]), bt = tf.tensor1d(bias);
    const xp = webgpuPackF16(xt), wp = webgpuPackF16(wt);
    const c = webgpuMatMul({ packed: xp, shape: [M, K] }, { packed: wp, shape: [K, N] }, {
      bias: bt,
      roundF16: true,
    });
    const got = await c.data() as Float32Array;
    tf.dispose([xt, wt, bt, xp, wp, c]);
    // Reference in float64: binary16 products are exact, so the f32 sum differs from it by rounding only;
    // after rounding to binary16 the two agree to within one half-ulp step.
    let off = 0;
    for (let i = 0; i < M; i++) {
      for (let j = 0; j < N; j++) {
        let s = bias[j];
        for (let k = 0; k < K; k++) s += x[i * K + k] * w[k * N + j];
        const want = f16Round(s), g = got[i * N + j];
        ok(f16Round(g) === g, "output is binary16-valued");
        if (g !== want) {
          off++;
          const ulp = Math.abs(f16Round(want * (1 + 2 ** -10)) - want) || 2 ** -24;
          ok(Math.abs(g - want) <= ulp * 1.01, `(${i}, ${j}): ${g} vs ${want}`);
        }
      }
    }
    ok(off <= M * N * 0.05, `${off} of ${M * N} values off by one ulp`);
  },
});
