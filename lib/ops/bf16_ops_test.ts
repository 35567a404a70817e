import { ok, strictEqual } from "node:assert/strict";
import { tf } from "../runtime/tf.ts";
import { useBackend } from "../kernels/backend.ts";
import { assertClose } from "../../testing/fixtures.ts";
import { assertWithinBf16Ulps, bf16Fixture } from "../../testing/bf16_assert.ts";
import { setGemmBlasDisabled, setOneDnnEnabled } from "../kernels/onednn.ts";
import { activation } from "../model/layers.ts";
import { bf16Round, isBf16Valued } from "./bf16.ts";
import {
  BF16,
  bf16AttentionContext,
  bf16AttentionScores,
  bf16Linear,
  F16,
  halfAttentionContext,
  halfAttentionScores,
  halfLinear,
  layerNormWeightGrad,
  packedBits,
} from "./bf16_ops.ts";
import { releaseSavedCopies, savedCopy } from "./saved_inputs.ts";
import {
  loadNativeKernels,
  nativeKernelsUnavailableReason,
  setNativeKernelsEnabled,
} from "../kernels/native_kernels.ts";
import { linear } from "./linear.ts";

const fx = bf16Fixture();
const t = (a: { shape: number[]; data: number[] }) => tf.tensor(a.data, a.shape, "float32");

/** `assertWithinBf16Ulps`, and every value is exactly a bf16 value (the output really is rounded). */
function assertBf16Output(actual: ArrayLike<number>, expected: ArrayLike<number>, what: string): number {
  for (let i = 0; i < actual.length; i++) {
    if (bf16Round(actual[i]) !== actual[i]) {
      throw new Error(`${what}[${i}] = ${actual[i]} is not a bf16 value`);
    }
  }
  return assertWithinBf16Ulps(actual, expected, what);
}

/** Matmul engines: oneDNN (when present), OpenBLAS on rounded copies, JS loops. */
const ENGINES = ["onednn", "openblas", "js"] as const;
function useEngine(e: (typeof ENGINES)[number]): void {
  setOneDnnEnabled(e === "onednn");
  setGemmBlasDisabled(e === "js");
}

for (const backend of ["cpu", "wasm"] as const) {
  for (const engine of ENGINES) {
    Deno.test(`\`bf16Linear()\` on ${backend} (${engine} matmuls) matches the PyTorch bf16 reference: bf16 y and grad_x, f32 grad_W and grad_b`, async () => {
      await useBackend(backend);
      useEngine(engine);
      try {
        for (const c of fx.linear) {
          const before = tf.memory().numTensors;
          tf.tidy(() => {
            const [x, w, b, dy] = [t(c.x), t(c.w), t(c.b), t(c.dy)];
            const f = (xx: tf.Tensor, ww: tf.Tensor, bb: tf.Tensor) =>
              bf16Linear(xx as tf.Tensor2D, ww as tf.Tensor2D, bb as tf.Tensor1D, {
                activation: c.activation,
              });
            const exactY = assertBf16Output(f(x, w, b).dataSync(), c.y.data, `${c.activation} y`);
            const [dx, dw, db] = tf.grads(f)([x, w, b], dy);
            const exactDx = assertBf16Output(dx.dataSync(), c.dx.data, `${c.activation} dx`);
            ok(exactY > 0.9 && exactDx > 0.9, `mostly bit-equal (y ${exactY}, dx ${exactDx})`);
            assertClose(dw.dataSync(), c.dw.data, 1e-5, `${c.activation} dW`, 1e-3);
            assertClose(db.dataSync(), c.db.data, 1e-5, `${c.activation} db`, 1e-3);
            ok(
              Array.from(db.dataSync()).some((v) => bf16Round(v) !== v),
              "db carries more than bf16 precision",
            );
          });
          strictEqual(tf.memory().numTensors, before, "no tensor leaks");
        }
      } finally {
        useEngine("onednn");
      }
    });

    Deno.test(`\`bf16AttentionScores()\` and \`bf16AttentionContext()\` on ${backend} (${engine} matmuls) match the PyTorch bf16 reference`, async () => {
      await useBackend(backend);
      useEngine(engine);
      try {
        const c = fx.attention;
        const shape = { batch: c.batch, seqLen: c.seqLen, heads: c.heads };
        const before = tf.memory().numTensors;
        tf.tidy(() => {
          const scores = (q: tf.Tensor, k: tf.Tensor) =>
            bf16AttentionScores(q as tf.Tensor2D, k as tf.Tensor2D, shape, c.scale);
          const [q, k] = [t(c.q), t(c.k)];
          assertBf16Output(scores(q, k).dataSync(), c.scores.data, "scores");
          const [dq, dk] = tf.grads(scores)([q, k], t(c.dyScores));
          assertBf16Output(dq.dataSync(), c.dq.data, "dq");
          assertBf16Output(dk.dataSync(), c.dk.data, "dk");

          const context = (p: tf.Tensor, v: tf.Tensor) =>
            bf16AttentionContext(p as tf.Tensor4D, v as tf.Tensor2D, shape);
          const [p, v] = [t(c.probs), t(c.v)];
          assertBf16Output(context(p, v).dataSync(), c.context.data, "context");
          const [dp, dv] = tf.grads(context)([p, v], t(c.dyContext));
          assertBf16Output(dp.dataSync(), c.dprobs.data, "dprobs");
          assertBf16Output(dv.dataSync(), c.dv.data, "dv");
        });
        strictEqual(tf.memory().numTensors, before, "no tensor leaks");
      } finally {
        useEngine("onednn");
      }
    });
  }
}

function rnd(shape: number[], seed: number, std = 1): tf.Tensor {
  return tf.randomNormal(shape, 0, std, "float32", seed);
}

for (const act of ["none", "gelu", "gelu_new", "relu"] as const) {
  Deno.test(`\`bf16Linear()\` (${act}) output and gradients agree with the fp32 ops within bf16 tolerance on random inputs`, async () => {
    await useBackend("cpu");
    tf.tidy(() => {
      const x = rnd([64, 48], 1), w = rnd([48, 40], 2, 0.15), b = rnd([40], 3, 0.1), dy = rnd([64, 40], 4);
      const f16 = (xx: tf.Tensor, ww: tf.Tensor, bb: tf.Tensor) =>
        bf16Linear(xx as tf.Tensor2D, ww as tf.Tensor2D, bb as tf.Tensor1D, { activation: act });
      const f32 = (xx: tf.Tensor, ww: tf.Tensor, bb: tf.Tensor) => {
        const z = linear(xx as tf.Tensor2D, ww as tf.Tensor2D, bb as tf.Tensor1D);
        return act === "none" ? z : activation(act, z);
      };
      assertClose(f16(x, w, b).dataSync(), f32(x, w, b).dataSync(), 3e-2, "y", 1);
      const g16 = tf.grads(f16)([x, w, b], dy), g32 = tf.grads(f32)([x, w, b], dy);
      const tol = act === "relu" ? 8e-2 : 3e-2;
      for (const [i, name] of ["dx", "dW", "db"].entries()) {
        assertClose(g16[i].dataSync(), g32[i].dataSync(), tol, name, 1);
      }
    });
  });
}

for (const fmt of [BF16, F16]) {
  for (const act of ["gelu", "gelu_new", "relu"] as const) {
    Deno.test(`${fmt.type} Linear(${act}) → Linear on cpu: the second Linear keeps the first one's z codes and recomputes its input; same bits as keeping a copy of it`, async () => {
      await useBackend("cpu");
      for (const engine of ENGINES) {
        useEngine(engine);
        try {
          tf.tidy(() => {
            const x = rnd([64, 48], 11), w1 = rnd([48, 96], 12, 0.15), b1 = rnd([96], 13, 0.1);
            const w2 = rnd([96, 40], 14, 0.1), b2 = rnd([40], 15, 0.1), dy = rnd([64, 40], 16);
            // `copyInput`: the second Linear reads a clone of y (another tensor), so it packs its own copy.
            const ffn =
              (copyInput: boolean) =>
              (xx: tf.Tensor, a: tf.Tensor, c: tf.Tensor, d: tf.Tensor, e: tf.Tensor) => {
                const y = halfLinear(fmt, xx as tf.Tensor2D, a as tf.Tensor2D, c as tf.Tensor1D, {
                  activation: act,
                });
                return halfLinear(
                  fmt,
                  (copyInput ? tf.clone(y) : y) as tf.Tensor2D,
                  d as tf.Tensor2D,
                  e as tf.Tensor1D,
                );
              };
            const before = tf.memory().numDataBuffers;
            const shared = tf.grads(ffn(false))([x, w1, b1, w2, b2], dy);
            const copied = tf.grads(ffn(true))([x, w1, b1, w2, b2], dy);
            for (const [i, name] of ["dx", "dW1", "db1", "dW2", "db2"].entries()) {
              strictEqual(
                Array.from(shared[i].dataSync()).join(),
                Array.from(copied[i].dataSync()).join(),
                `${engine}: ${name}`,
              );
            }
            strictEqual(tf.memory().numDataBuffers, before + 10, `${engine}: only the gradients are new`);
          });
        } finally {
          useEngine("onednn");
        }
      }
    });
  }
}

Deno.test("`bf16Linear()` gives the same forward value with and without a gradient tape; outputs and grad_x are marked bf16-valued", async () => {
  await useBackend("cpu");
  tf.tidy(() => {
    const x = rnd([8, 6], 5) as tf.Tensor2D,
      w = rnd([6, 4], 6) as tf.Tensor2D,
      b = rnd([4], 7) as tf.Tensor1D;
    const before = tf.memory().numTensors;
    const plain = bf16Linear(x, w, b, { activation: "gelu" });
    // With the C kernels and oneDNN, x's 16-bit copy stays for the other ops that read x at evaluation
    // (Q, K and V of a layer) until x is released: the codes of bf16(x), rounded here on the bits.
    const copy = savedCopy(x, "bf16");
    strictEqual(tf.memory().numTensors, before + 1 + (copy ? 1 : 0), "only the output (and x's copy) is new");
    if (copy) {
      const u = new Uint32Array(Float32Array.from(x.dataSync()).buffer);
      const want = Array.from(u, (v) => ((v + 0x7fff + ((v >>> 16) & 1)) >>> 16) & 0xffff);
      strictEqual(Array.from(packedBits(copy)).join(), want.join(), "x's copy holds bf16(x)'s codes");
      releaseSavedCopies(x);
      strictEqual(tf.memory().numTensors, before + 1, "the copy goes with x");
    }
    let taped: Float32Array | undefined;
    const dx = tf.grad((xx: tf.Tensor) => {
      const y = bf16Linear(xx as tf.Tensor2D, w, b, { activation: "gelu" });
      taped = y.dataSync() as Float32Array;
      return tf.sum(y);
    })(x);
    strictEqual(Array.from(taped!).join(), Array.from(plain.dataSync()).join());
    ok(isBf16Valued(plain) && isBf16Valued(dx));
  });
});

Deno.test("at evaluation, a Linear reading a variable uses its current values after the variable changes", async () => {
  await useBackend("cpu");
  tf.tidy(() => {
    const x = tf.variable(rnd([8, 6], 21)),
      w = rnd([6, 4], 22) as tf.Tensor2D,
      b = rnd([4], 23) as tf.Tensor1D;
    bf16Linear(x as unknown as tf.Tensor2D, w, b);
    const next = rnd([8, 6], 24);
    x.assign(next);
    const got = bf16Linear(x as unknown as tf.Tensor2D, w, b);
    const want = bf16Linear(tf.add(next, 0) as tf.Tensor2D, w, b);
    strictEqual(Array.from(got.dataSync()).join(), Array.from(want.dataSync()).join());
    x.dispose();
  });
});

Deno.test("at evaluation, attention products reading Q, K and V as the codes their Linears wrote give the values they give from float32 tensors", async () => {
  await useBackend("cpu");
  for (const fmt of [BF16, F16]) {
    tf.tidy(() => {
      const [B, L, H, nh] = [3, 5, 8, 2];
      const h = rnd([B * L, H], 11) as tf.Tensor2D, b = rnd([H], 12) as tf.Tensor1D;
      const w = (seed: number) => rnd([H, H], seed) as tf.Tensor2D;
      const q = halfLinear(fmt, h, w(13), b),
        k = halfLinear(fmt, h, w(14), b),
        v = halfLinear(fmt, h, w(15), b);
      const shape = { batch: B, seqLen: L, heads: nh };
      const scores = halfAttentionScores(fmt, q, k, shape, 0.5);
      const probs = tf.softmax(scores) as tf.Tensor4D;
      const ctx = halfAttentionContext(fmt, probs, v, shape);
      // The same values as tensors without codes (a copy is a new tensor).
      const [q2, k2, v2] = [q, k, v].map((x) => tf.add(x, 0) as tf.Tensor2D);
      ok(!savedCopy(q2, fmt.type), "the copies have no codes");
      const scores2 = halfAttentionScores(fmt, q2, k2, shape, 0.5);
      const ctx2 = halfAttentionContext(fmt, probs, v2, shape);
      strictEqual(
        Array.from(scores.dataSync()).join(),
        Array.from(scores2.dataSync()).join(),
        `${fmt.type} scores`,
      );
      strictEqual(
        Array.from(ctx.dataSync()).join(),
        Array.from(ctx2.dataSync()).join(),
        `${fmt.type} context`,
      );
      ok(scores.dataSync().some((x) => x !== 0), "the scores are not all zero");
    });
  }
});

Deno.test("`bf16Linear()` needs no loss scaling: gradients far beyond fp16's range stay finite, and f32 overflow still shows as Inf", async () => {
  await useBackend("cpu");
  tf.tidy(() => {
    const x = tf.ones([2, 3]) as tf.Tensor2D,
      w = tf.fill([3, 2], 2) as tf.Tensor2D,
      b = tf.zeros([2]) as tf.Tensor1D;
    const f = (xx: tf.Tensor, ww: tf.Tensor) => bf16Linear(xx as tf.Tensor2D, ww as tf.Tensor2D, b);
    const [dx, dw] = tf.grads(f)([x, w], tf.fill([2, 2], 1e6));
    ok(
      Array.from(dx.dataSync()).every((v) => v === 4e6 - 4e6 % 2 ** 15 || v === bf16Round(4e6)),
      `${dx.dataSync()}`,
    );
    ok(Array.from(dw.dataSync()).every((v) => v === 2 * bf16Round(1e6)), "grad_W accumulated in f32");
    const [dxInf] = tf.grads(f)([x, w], tf.fill([2, 2], 1e38));
    ok(Array.from(dxInf.dataSync()).every((v) => v === Infinity), "4e38 overflows bf16 as it does f32");
  });
});

Deno.test("bf16 ops reject shapes that do not chain", async () => {
  await useBackend("cpu");
  const errs: string[] = [];
  for (
    const f of [
      () =>
        bf16Linear(
          tf.ones([2, 3]) as tf.Tensor2D,
          tf.ones([4, 2]) as tf.Tensor2D,
          tf.zeros([2]) as tf.Tensor1D,
        ),
      () =>
        bf16AttentionScores(tf.ones([6, 4]) as tf.Tensor2D, tf.ones([6, 4]) as tf.Tensor2D, {
          batch: 2,
          seqLen: 3,
          heads: 3,
        }, 1),
      () =>
        bf16AttentionContext(tf.ones([2, 2, 3, 3]) as tf.Tensor4D, tf.ones([6, 4]) as tf.Tensor2D, {
          batch: 2,
          seqLen: 3,
          heads: 1,
        }),
    ]
  ) {
    try {
      tf.tidy(() => void f());
    } catch (e) {
      errs.push(String(e));
    }
  }
  strictEqual(errs.length, 3, errs.join(" | "));
});

Deno.test("`layerNormWeightGrad`: γ·dw + β·db with exact double products and one rounding, with and without the C kernels", () => {
  const [nIn, nOut] = [48, 1024]; // over two blocks of 16384 elements: split across threads in C
  const vals = (n: number, seed: number) => {
    const out = new Float32Array(n);
    let s = seed;
    for (let i = 0; i < n; i++) {
      s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
      // many mantissa bits and a wide exponent range, so that the products need double and the sum rounds
      out[i] = ((s / 2 ** 32) * 2 - 1) * 2 ** ((s % 41) - 20);
    }
    return out;
  };
  const dw0 = vals(nIn * nOut, 1), g = vals(nIn, 2), b = vals(nIn, 3), db = vals(nOut, 4);
  dw0[0] = -0, g[1] = 0, b[2] = -0, db[5] = 3.4e38, dw0[7] = 1e-45;
  const want = new Float32Array(nIn * nOut);
  for (let i = 0; i < nIn; i++) {
    for (let j = 0; j < nOut; j++) want[i * nOut + j] = g[i] * dw0[i * nOut + j] + b[i] * db[j];
  }
  const k = loadNativeKernels();
  if (!k) {
    console.warn(
      `layerNormWeightGrad: the C half of this test needs gcc: ${nativeKernelsUnavailableReason()}`,
    );
  }
  for (const on of k ? [true, false] : [false]) {
    setNativeKernelsEnabled(on);
    try {
      const dw = dw0.slice();
      layerNormWeightGrad(dw, g, b, db, nIn, nOut);
      for (let o = 0; o < dw.length; o++) {
        if (!Object.is(dw[o], want[o])) throw new Error(`kernels ${on}: [${o}] ${dw[o]} against ${want[o]}`);
      }
    } finally {
      setNativeKernelsEnabled(true);
    }
  }
});
