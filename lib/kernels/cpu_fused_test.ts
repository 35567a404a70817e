import assert from "node:assert/strict";
import { tf } from "../runtime/tf.ts";
import { dropoutHash, erf, registerFusedCpuKernels, unregisterFusedCpuKernels } from "./cpu_fused.ts";
import {
  activationLinear,
  attentionSoftmax,
  fusedDropout,
  fusedGelu,
  fusedGeluNew,
  fusedLayerNorm,
} from "../ops/fused.ts";
import { assertClose } from "../../testing/fixtures.ts";
import { reportSkip, requireTool } from "../../testing/tools.ts";
import { AdamW } from "../train/adamw.ts";
import { registerFastCpuKernels, unregisterFastCpuKernels } from "./cpu_fast.ts";
import { setNativeKernelsEnabled } from "./native_kernels.ts";

// Reference: TF.js autodiff over the primitive ops these layers were written with before fusion
// (stock kernels of the cpu backend), not the fused code's own formulas.
await tf.setBackend("cpu");
const nativeSkip = await requireTool("cc");
const native = nativeSkip === null;
reportSkip("the C kernel tests", nativeSkip);
/** The implementations each cpu kernel has: the C library (when it builds here) and the JS loops. */
const IMPLS: [string, boolean][] = native ? [["C", true], ["JS", false]] : [["JS", false]];

const rnd = (shape: number[], seed: number, sd = 1) => tf.randomNormal(shape, 0, sd, "float32", seed);

function refLayerNorm(x: tf.Tensor, g: tf.Tensor, b: tf.Tensor, eps: number): tf.Tensor {
  const { mean, variance } = tf.moments(x, -1, true);
  return tf.add(tf.mul(tf.div(tf.sub(x, mean), tf.sqrt(tf.add(variance, eps))), g), b);
}
const refGelu = (x: tf.Tensor) => tf.mul(tf.mul(x, 0.5), tf.add(1, tf.erf(tf.mul(x, Math.SQRT1_2))));
/** GPT-2's gelu_new with x³ as x·x·x, in float32 TF.js ops. */
const refGeluNew = (x: tf.Tensor) =>
  tf.mul(
    tf.mul(x, 0.5),
    tf.add(1, tf.tanh(tf.mul(Math.sqrt(2 / Math.PI), tf.add(x, tf.mul(0.044715, tf.mul(tf.mul(x, x), x)))))),
  );
const refAttn = (s: tf.Tensor, m: tf.Tensor, scale: number) => tf.softmax(tf.add(tf.mul(s, scale), m), -1);

/** Value and the gradients of sum(op(xs) * w) with respect to the first `nGrad` inputs. */
function valueAndGrads(op: (...xs: tf.Tensor[]) => tf.Tensor, xs: tf.Tensor[], nGrad = xs.length) {
  return tf.tidy(() => {
    const y = op(...xs);
    const w = rnd(y.shape, 99);
    const f = (...ins: tf.Tensor[]) => tf.sum(tf.mul(op(...ins, ...xs.slice(nGrad)), w));
    const g = tf.grads(f)(xs.slice(0, nGrad));
    return [y, ...g].map((t) => ({ v: t.dataSync().slice(), s: t.shape }));
  });
}

function compare(
  what: string,
  fused: (...xs: tf.Tensor[]) => tf.Tensor,
  ref: (...xs: tf.Tensor[]) => tf.Tensor,
  xs: tf.Tensor[],
  nGrad: number,
  tol: number,
) {
  const want = valueAndGrads(ref, xs, nGrad);
  // the cpu kernels (C, then JS loops), then the TF.js-op path other backends use
  const paths: [string, boolean, boolean][] = [
    ...IMPLS.map(([n, c]): [string, boolean, boolean] => [n, true, c]),
    [
      "tf ops",
      false,
      false,
    ],
  ];
  for (const [label, kernels, c] of paths) {
    if (kernels) registerFusedCpuKernels();
    else unregisterFusedCpuKernels();
    setNativeKernelsEnabled(c);
    const got = valueAndGrads(fused, xs, nGrad);
    assert.equal(got.length, want.length);
    for (let i = 0; i < got.length; i++) {
      assert.deepEqual(got[i].s, want[i].s, `${what} output ${i} shape`);
      assertClose(got[i].v, want[i].v, tol, `${what} (${label}) output ${i}`);
    }
  }
  setNativeKernelsEnabled(true);
  registerFusedCpuKernels();
}

Deno.test("fused LayerNorm matches autodiff over tf.moments (value, dx, dγ, dβ)", () => {
  // [300, 160]: a shape above the C kernels' parallel threshold (48 000 elements)
  for (
    const [shape, eps] of [[[37, 24], 1e-12], [[3, 5, 16], 1e-5], [[300, 160], 1e-12]] as [number[], number][]
  ) {
    const H = shape[shape.length - 1];
    const x = tf.add(rnd(shape, 1, 3), 2), g = rnd([H], 2), b = rnd([H], 3);
    compare(
      `layerNorm ${shape}`,
      (a, c, d) => fusedLayerNorm(a, c, d, eps),
      (a, c, d) => refLayerNorm(a, c, d, eps),
      [
        x,
        g,
        b,
      ],
      3,
      2e-5,
    );
  }
});

Deno.test("fused GELU matches autodiff over tf.erf (value and gradient), incl. tails", () => {
  const x = tf.concat([rnd([500], 4, 3), tf.tensor1d([-12, -6, -3, -1e-4, 0, 1e-4, 3, 6, 12])]);
  compare("gelu", fusedGelu, refGelu, [x], 1, 1e-5);
});

Deno.test("activationLinear (act(x)·W + b, act recomputed in the backward pass) matches autodiff (value, dx, dW, db)", () => {
  const x = rnd([37, 24], 30, 2), w = rnd([24, 11], 31), b = rnd([11], 32);
  for (const [act, ref, tol] of [["gelu", refGelu, 1e-5], ["gelu_new", refGeluNew, 1e-4]] as const) {
    compare(
      `activationLinear ${act}`,
      (a, m, d) => activationLinear(act, a as tf.Tensor2D, m as tf.Tensor2D, d as tf.Tensor1D),
      (a, m, d) => tf.add(tf.matMul(ref(a), m), d),
      [x, w, b],
      3,
      tol,
    );
  }
});

Deno.test("fused gelu_new matches autodiff over the tanh formula with x·x·x (value and gradient)", () => {
  const x = tf.concat([rnd([500], 21, 3), tf.tensor1d([-12, -6, -3, -1e-4, 0, 1e-4, 3, 6, 12])]);
  // 1e-4: the float32 tf.tanh reference itself loses ~1e-6 absolute to cancellation (1 − t²) where
  // tanh saturates; the next test holds the kernels to a float64 evaluation at 1e-6.
  compare("gelu_new", fusedGeluNew, refGeluNew, [x], 1, 1e-4);
});

Deno.test("gelu_new kernels (C and JS) agree with the formula evaluated in float64 to 1e-6", () => {
  const c = Math.sqrt(2 / Math.PI);
  const xs = Array.from({ length: 401 }, (_, i) => -10 + i * 0.05);
  const x = tf.tensor1d(xs);
  const wantY = xs.map((v) => 0.5 * v * (1 + Math.tanh(c * (v + 0.044715 * v ** 3))));
  const wantD = xs.map((v) => {
    const t = Math.tanh(c * (v + 0.044715 * v ** 3));
    return 0.5 * (1 + t) + 0.5 * v * (1 - t * t) * c * (1 + 3 * 0.044715 * v * v);
  });
  registerFusedCpuKernels();
  for (const [label, native] of IMPLS) {
    setNativeKernelsEnabled(native);
    const y = fusedGeluNew(x).dataSync();
    const d = tf.grad((t: tf.Tensor) => tf.sum(fusedGeluNew(t)))(x).dataSync();
    for (let i = 0; i < xs.length; i++) {
      assert.ok(Math.abs(y[i] - wantY[i]) <= 1e-6 * Math.max(1, Math.abs(wantY[i])), `${label} y(${xs[i]})`);
      assert.ok(Math.abs(d[i] - wantD[i]) <= 1e-6, `${label} dy/dx(${xs[i]}): ${d[i]} vs ${wantD[i]}`);
    }
  }
  setNativeKernelsEnabled(true);
});

Deno.test("fused attention softmax matches autodiff (broadcast [B,1,1,L] mask, scores and grads)", () => {
  const [B, h, L] = [3, 2, 7];
  const mask = tf.reshape(
    tf.mul(
      tf.sub(1, tf.tensor2d([[1, 1, 1, 1, 1, 1, 1], [1, 1, 1, 0, 0, 0, 0], [1, 1, 0, 0, 0, 0, 0]])),
      -10000,
    ),
    [B, 1, 1, L],
  );
  const s = rnd([B, h, L, L], 5, 4);
  compare(
    "attnSoftmax",
    (a, m) => attentionSoftmax(a, m, 0.125),
    (a, m) => refAttn(a, m, 0.125),
    [s, mask],
    1,
    1e-5,
  );
  // a mask of the scores' own shape works too
  const full = tf.mul(tf.cast(tf.greater(rnd([B, h, L, L], 6), 1), "float32"), -10000);
  compare(
    "attnSoftmax full mask",
    (a, m) => attentionSoftmax(a, m, 0.5),
    (a, m) => refAttn(a, m, 0.5),
    [s, full],
    1,
    1e-5,
  );
});

Deno.test("attention softmax is within 1e-6 (and the float32 rounding of x - max) of a float64 softmax of the same float32 logits, and gives masked keys exactly 0", () => {
  // Logits down to about -60 below each row's maximum (the exponential's reduced range, not only its
  // polynomial), 37 keys (a vector tail); batch 1 masks keys 25.. with -10000, as BERT's mask does.
  const [B, h, L] = [2, 3, 37];
  const s = rnd([B, h, L, L], 11, 12);
  const m = new Float32Array(B * L);
  for (let j = 25; j < L; j++) m[L + j] = -10000;
  const mask = tf.tensor4d(m, [B, 1, 1, L]);
  const sv = s.dataSync();
  registerFusedCpuKernels();
  for (const [impl, on] of IMPLS) {
    setNativeKernelsEnabled(on);
    try {
      const p = attentionSoftmax(s, mask, 0.5).dataSync();
      let worst = 0;
      for (let r = 0; r < B * h * L; r++) {
        const b = Math.floor(r / (h * L));
        const v = Array.from(
          { length: L },
          (_, j) => Math.fround(Math.fround(sv[r * L + j] * 0.5) + m[b * L + j]),
        );
        const mx = Math.max(...v);
        const e = v.map((x) => Math.exp(x - mx));
        const sum = e.reduce((a, c) => a + c, 0);
        for (let j = 0; j < L; j++) {
          const got = p[r * L + j], want = e[j] / sum;
          if (m[b * L + j] !== 0) {
            assert.equal(got, 0, `${impl}: row ${r}, masked key ${j}: ${got}`);
            continue;
          }
          // 1e-6, plus the rounding of x - max where it is taken in float32 (the C kernels, as PyTorch)
          const err = Math.abs(got - want), tol = (1e-6 + Math.abs(v[j] - mx) * 2 ** -24) * want + 1e-37;
          assert.ok(err <= tol, `${impl}: row ${r}, key ${j}: ${got} vs ${want}`);
          if (want > 1e-30) worst = Math.max(worst, err / want);
        }
      }
      assert.ok(worst > 0, `${impl}: the float32 softmax should differ from float64 somewhere`);
    } finally {
      setNativeKernelsEnabled(true);
    }
  }
  tf.dispose([s, mask]);
});

Deno.test("erf matches tabulated values (Abramowitz & Stegun Table 7.1) to 2e-7", () => {
  const table: [number, number][] = [
    [0, 0],
    [0.1, 0.1124629160],
    [0.5, 0.5204998778],
    [1, 0.8427007929],
    [
      1.5,
      0.9661051465,
    ],
    [2, 0.9953222650],
    [3, 0.9999779095],
  ];
  for (const [x, want] of table) {
    assert.ok(Math.abs(erf(x) - want) < 2e-7, `erf(${x})`);
    assert.ok(Math.abs(erf(-x) + want) < 2e-7, `erf(${-x})`);
  }
});

Deno.test("fused dropout: y = x·keep/(1−p), dx = dy·keep/(1−p), ~p dropped, mask fixed by (seed, index)", () => {
  registerFusedCpuKernels();
  const x = tf.add(rnd([200, 50], 7), 5); // no zeros, so y = 0 marks a dropped element
  const rate = 0.1;
  const y1 = fusedDropout(x, rate, 1234)!.dataSync();
  const y2 = fusedDropout(x, rate, 1234)!.dataSync();
  const y3 = fusedDropout(x, rate, 1235)!.dataSync();
  const xv = x.dataSync();
  let dropped = 0, differ = 0;
  for (let i = 0; i < xv.length; i++) {
    const kept = dropoutHash(1234, i) >= Math.floor(rate * 2 ** 32);
    if (!kept) dropped++;
    assert.equal(y1[i], kept ? Math.fround(xv[i] * (1 / (1 - rate))) : 0, `element ${i}`);
    assert.equal(y1[i], y2[i]);
    if ((y1[i] === 0) !== (y3[i] === 0)) differ++;
  }
  const frac = dropped / xv.length;
  assert.ok(Math.abs(frac - rate) < 0.01, `dropped fraction ${frac}`);
  assert.ok(differ > 0.1 * xv.length, "another seed gives another mask");
  const w = rnd([200, 50], 8);
  const dx = tf.grad((t: tf.Tensor) => tf.sum(tf.mul(fusedDropout(t, rate, 1234)!, w)))(x).dataSync();
  const wv = w.dataSync();
  for (let i = 0; i < xv.length; i++) {
    assert.ok(Math.abs(dx[i] - (y1[i] === 0 ? 0 : wv[i] / (1 - rate))) < 1e-6, `grad ${i}`);
  }
  // the hash is murmur3's fmix32 of (i·0x9e3779b1) xor seed: spot values computed with Python integers
  assert.equal(dropoutHash(0, 1), 301794027);
  assert.equal(dropoutHash(1234, 5), 312024737);
  assert.equal(dropoutHash(0xdeadbeef, 123456), 3111342883);
});

Deno.test({
  name:
    "C kernels: dropout masks identical to the JS loops; AdamW (with a gradient scale) and add equal to the JS loops; Sum/Mean against float64 sums" +
    (native ? "" : ` [skipped: ${nativeSkip}]`),
  ignore: !native,
  fn() {
    registerFusedCpuKernels();
    const x = tf.add(rnd([301, 37], 11), 5);
    const run = (c: boolean) => {
      setNativeKernelsEnabled(c);
      const y = fusedDropout(x, 0.1, 987654321)!;
      const v = y.dataSync().slice();
      y.dispose();
      return v;
    };
    const cy = run(true), jy = run(false);
    setNativeKernelsEnabled(true);
    for (let i = 0; i < cy.length; i++) assert.equal(cy[i], jy[i], `dropout element ${i}`);

    const n = 1000;
    const p0 = rnd([n], 12).dataSync() as Float32Array, g = rnd([n], 13).dataSync() as Float32Array;
    const adam = (c: boolean) => {
      setNativeKernelsEnabled(c);
      const p = tf.variable(tf.tensor1d(p0));
      const opt = new AdamW({ weightDecay: 0.01 });
      const grads = new Map([["w", tf.tensor1d(g)]]);
      for (let s = 0; s < 3; s++) opt.step(new Map([["w", p]]), grads, 1e-3, s === 1 ? 0.37 : 1);
      const v = p.dataSync().slice();
      p.dispose();
      return v;
    };
    const ca = adam(true), ja = adam(false);
    setNativeKernelsEnabled(true);
    assertClose(ca, ja, 1e-6, "AdamW C vs JS");

    registerFastCpuKernels(); // its Add calls the C add for same-shape inputs, its Sum/Mean the C reduction
    for (
      const [shape, axis] of [[[300, 37], 0], [[5, 64, 3], 1], [[4, 6, 5], [0, 1]]] as [
        number[],
        number | number[],
      ][]
    ) {
      const x = rnd(shape, 16);
      const xv = x.dataSync(), red = tf.sum(x, axis).dataSync(), mean = tf.mean(x, axis).dataSync();
      const ax = Array.isArray(axis) ? axis : [axis];
      const inner = shape.slice(ax[ax.length - 1] + 1).reduce((p, q) => p * q, 1);
      const redN = ax.reduce((p, a) => p * shape[a], 1);
      for (let o = 0; o < red.length / inner; o++) { // float64 sums by hand
        for (let i = 0; i < inner; i++) {
          let want = 0;
          for (let r = 0; r < redN; r++) want += xv[(o * redN + r) * inner + i];
          const k = o * inner + i;
          assert.ok(Math.abs(red[k] - want) <= 1e-5 * Math.max(1, Math.abs(want)), `sum ${shape} ${k}`);
          assert.ok(Math.abs(mean[k] - want / redN) <= 1e-6, `mean ${shape} ${k}`);
        }
      }
      x.dispose();
    }
    const a = rnd([64, 33], 14), b = rnd([64, 33], 15);
    const sum = tf.add(a, b).dataSync(), av = a.dataSync(), bv = b.dataSync();
    for (let i = 0; i < sum.length; i++) assert.equal(sum[i], Math.fround(av[i] + bv[i]));
    unregisterFastCpuKernels();
  },
});
