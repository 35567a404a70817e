import assert from "node:assert/strict";
import { tf } from "../../runtime/tf.ts";
import { useBackend } from "../backend.ts";
import { skipBackend } from "../../../testing/backends.ts";
import { assertClose } from "../../../testing/fixtures.ts";
import {
  activationLinear,
  attentionSoftmax,
  FUSED_KERNELS,
  fusedGelu,
  fusedGeluNew,
  fusedLayerNorm,
  hasFusedKernel,
} from "../../ops/fused.ts";
import { maskLayout } from "./layer_kernels.ts";

// References, all in float64 JS and independent of the kernels: the forward formulas as torch defines
// the layers (erf by Simpson's rule, not the kernels' rational fit), and every gradient by central
// differences of that float64 forward, not by the closed-form gradients the kernels use.

/** A deterministic pseudo-random float32 array (sin hash), sd ≈ `sd`, mean `mean`. */
function rand(n: number, seed: number, sd = 1, mean = 0): Float32Array {
  return Float32Array.from({ length: n }, (_, i) => {
    const v = Math.sin((i + 1) * 12.9898 + seed * 78.233) * 43758.5453;
    return mean + sd * 3.4 * (v - Math.floor(v) - 0.5); // uniform, sd ≈ sd
  });
}

/** erf(x) = 2/√π ∫₀ˣ e^(−t²) dt by composite Simpson (4000 intervals): ~1e-12 on |x| ≤ 12. */
function erf64(x: number): number {
  const n = 4000, h = x / n;
  let s = 1 + Math.exp(-x * x);
  for (let i = 1; i < n; i++) s += (i % 2 ? 4 : 2) * Math.exp(-((i * h) ** 2));
  return (2 / Math.sqrt(Math.PI)) * (h / 3) * s;
}

const geluMemo = new Map<number, number>();
/** x·Φ(x) in float64 (memoised: the numeric gradients evaluate it at the same points again and again). */
function gelu64(v: number): number {
  let y = geluMemo.get(v);
  if (y === undefined) geluMemo.set(v, y = 0.5 * v * (1 + erf64(v / Math.SQRT2)));
  return y;
}
const geluNew64 = (v: number) =>
  0.5 * v * (1 + Math.tanh(Math.sqrt(2 / Math.PI) * (v + 0.044715 * v * v * v)));

/** ∂/∂x_i of loss(x) for every i, by central differences in float64. */
function numericGrad(loss: (x: Float64Array) => number, x: ArrayLike<number>, h = 1e-5): Float64Array {
  const xs = Float64Array.from(x), g = new Float64Array(xs.length);
  for (let i = 0; i < xs.length; i++) {
    const v = xs[i];
    xs[i] = v + h;
    const up = loss(xs);
    xs[i] = v - h;
    g[i] = (up - loss(xs)) / (2 * h);
    xs[i] = v;
  }
  return g;
}

/** torch.nn.LayerNorm over rows of length H, in float64. */
function layerNorm64(
  x: ArrayLike<number>,
  g: ArrayLike<number>,
  b: ArrayLike<number>,
  H: number,
  eps: number,
) {
  const y = new Float64Array(x.length);
  for (let o = 0; o < x.length; o += H) {
    let mu = 0;
    for (let j = 0; j < H; j++) mu += x[o + j] / H;
    let v = 0;
    for (let j = 0; j < H; j++) v += (x[o + j] - mu) ** 2 / H;
    for (let j = 0; j < H; j++) y[o + j] = (x[o + j] - mu) / Math.sqrt(v + eps) * g[j] + b[j];
  }
  return y;
}

/** softmax(s·scale + m) over rows of length L, the mask row given by `maskAt(row, j)`, in float64. */
function softmax64(s: ArrayLike<number>, L: number, scale: number, maskAt: (r: number, j: number) => number) {
  const p = new Float64Array(s.length);
  for (let r = 0, o = 0; o < s.length; r++, o += L) {
    let mx = -Infinity;
    for (let j = 0; j < L; j++) mx = Math.max(mx, s[o + j] * scale + maskAt(r, j));
    let z = 0;
    for (let j = 0; j < L; j++) z += p[o + j] = Math.exp(s[o + j] * scale + maskAt(r, j) - mx);
    for (let j = 0; j < L; j++) p[o + j] /= z;
  }
  return p;
}

const dot = (a: ArrayLike<number>, w: ArrayLike<number>) => {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += a[i] * w[i];
  return s;
};

/** The value of `op(...xs)` and the gradients of Σ op(...xs)·w for the first `nGrad` inputs, on webgpu. */
async function valueAndGrads(
  op: (...xs: tf.Tensor[]) => tf.Tensor,
  xs: tf.Tensor[],
  w: Float32Array,
  nGrad: number,
): Promise<Float32Array[]> {
  const outs = tf.tidy(() => {
    const y = op(...xs);
    const wt = tf.tensor(w, y.shape);
    const f = (...ins: tf.Tensor[]) => tf.sum(tf.mul(op(...ins, ...xs.slice(nGrad)), wt));
    return [y, ...tf.grads(f)(xs.slice(0, nGrad))];
  });
  const vals = await Promise.all(outs.map((t) => t.data() as Promise<Float32Array>));
  tf.dispose(outs);
  return vals;
}

/** The kernels a call of `f` ran (TF.js's profile), to show the WGSL kernel ran and nothing else did. */
async function kernelsOf(f: () => tf.Tensor): Promise<string[]> {
  const info = await tf.profile(async () => {
    const y = f();
    await y.data();
    y.dispose();
  });
  return info.kernelNames.filter((k) => k !== ""); // "": TF.js's entry for a tensor made from data
}

Deno.test({
  name:
    "webgpu LayerNorm kernels: one dispatch each; y, dx, dγ, dβ match float64 LayerNorm and its numeric gradients",
  ignore: skipBackend("webgpu"),
  fn: async () => {
    await useBackend("webgpu");
    assert.ok(hasFusedKernel(FUSED_KERNELS.layerNorm) && hasFusedKernel(FUSED_KERNELS.layerNormGrad));
    // [37, 24] and [3, 5, 16] as the cpu kernel's test; [5, 300] has rows longer than a workgroup; in
    // [4, 40] the variance (1e-6) is below ε = 1e-5, so ε must be added where torch adds it (mean 0
    // there: x − μ of values of mean 2 and sd 1e-3 loses 4 digits in float32, on any f32 kernel)
    const cases: [number[], number, number, number][] = [
      [[37, 24], 1e-12, 3, 2],
      [[3, 5, 16], 1e-5, 3, 2],
      [[5, 300], 1e-12, 3, 2],
      [[4, 40], 1e-5, 1e-3, 0],
    ];
    for (const [shape, eps, sd, mean] of cases) {
      const H = shape[shape.length - 1], n = shape.reduce((a, b) => a * b, 1);
      const xv = rand(n, 1, sd, mean), gv = rand(H, 2), bv = rand(H, 3), w = rand(n, 4);
      const x = tf.tensor(xv, shape), g = tf.tensor(gv), b = tf.tensor(bv);
      const op = (a: tf.Tensor, c: tf.Tensor, d: tf.Tensor) => fusedLayerNorm(a, c, d, eps);
      assert.deepEqual(await kernelsOf(() => op(x, g, b)), [FUSED_KERNELS.layerNorm]);
      const [y, dx, dg, db] = await valueAndGrads(op, [x, g, b], w, 3);
      const what = `layerNorm [${shape}] eps ${eps}`;
      assertClose(y, layerNorm64(xv, gv, bv, H, eps), 2e-5, `${what}: y`);
      const dxWant = numericGrad((t) => dot(layerNorm64(t, gv, bv, H, eps), w), xv, 1e-5 * Math.min(1, sd));
      assertClose(dx, dxWant, 2e-5, `${what}: dx`);
      assertClose(dg, numericGrad((t) => dot(layerNorm64(xv, t, bv, H, eps), w), gv), 2e-5, `${what}: dγ`);
      assertClose(db, numericGrad((t) => dot(layerNorm64(xv, gv, t, H, eps), w), bv), 2e-5, `${what}: dβ`);
      tf.dispose([x, g, b]);
    }
  },
});

Deno.test({
  name:
    "webgpu GELU and gelu_new kernels: one dispatch each; value and gradient match float64 (erf by quadrature), incl. tails",
  ignore: skipBackend("webgpu"),
  fn: async () => {
    await useBackend("webgpu");
    const tails = [-12, -6, -3, -1e-4, 0, 1e-4, 3, 6, 12];
    const xv = Float32Array.from([...rand(500, 5, 3), ...tails]), w = rand(xv.length, 6);
    const x = tf.tensor1d(xv);
    for (
      const [what, op, f64, kernel] of [
        ["gelu", fusedGelu, gelu64, FUSED_KERNELS.gelu],
        ["gelu_new", fusedGeluNew, geluNew64, FUSED_KERNELS.geluNew],
      ] as const
    ) {
      assert.deepEqual(await kernelsOf(() => op(x)), [kernel]);
      const [y, dx] = await valueAndGrads(op, [x], w, 1);
      const want = Array.from(xv, f64);
      const wantD = Array.from(xv, (v, i) => w[i] * (f64(v + 1e-5) - f64(v - 1e-5)) / 2e-5);
      // 1e-5 relative (floor 1e-2 of the largest), the cpu kernels' tolerance against float32 autodiff
      assertClose(y, want, 1e-5, `${what}: y`);
      assertClose(dx, wantD, 1e-5, `${what}: dx`);
    }
    x.dispose();
  },
});

Deno.test({
  name: "webgpu gelu_new kernels agree with the formula evaluated in float64 to 1e-6 (as the cpu kernels)",
  ignore: skipBackend("webgpu"),
  fn: async () => {
    await useBackend("webgpu");
    const c = Math.sqrt(2 / Math.PI);
    const xs = Array.from({ length: 401 }, (_, i) => -10 + i * 0.05);
    const x = tf.tensor1d(xs);
    const yT = fusedGeluNew(x), dT = tf.grad((t: tf.Tensor) => tf.sum(fusedGeluNew(t)))(x);
    const [y, d] = await Promise.all([yT.data(), dT.data()]);
    tf.dispose([x, yT, dT]);
    for (let i = 0; i < xs.length; i++) {
      const v = Math.fround(xs[i]);
      const t = Math.tanh(c * (v + 0.044715 * v ** 3));
      const wantY = 0.5 * v * (1 + t);
      const wantD = 0.5 * (1 + t) + 0.5 * v * (1 - t * t) * c * (1 + 3 * 0.044715 * v * v);
      assert.ok(
        Math.abs(y[i] - wantY) <= 1e-6 * Math.max(1, Math.abs(wantY)),
        `y(${v}): ${y[i]} vs ${wantY}`,
      );
      assert.ok(Math.abs(d[i] - wantD) <= 1e-6, `dy/dx(${v}): ${d[i]} vs ${wantD}`);
    }
  },
});

Deno.test({
  name: "webgpu activationLinear (GELU + Linear) matches float64 (value, dx, dW, db)",
  ignore: skipBackend("webgpu"),
  fn: async () => {
    await useBackend("webgpu");
    const [N, I, O] = [9, 12, 5];
    const xv = rand(N * I, 30, 2), wv = rand(I * O, 31), bv = rand(O, 32), w = rand(N * O, 33);
    const f64 = (x: ArrayLike<number>, W: ArrayLike<number>, b: ArrayLike<number>) => {
      const y = new Float64Array(N * O);
      for (let n = 0; n < N; n++) {
        for (let o = 0; o < O; o++) {
          let s = b[o];
          for (let i = 0; i < I; i++) s += gelu64(x[n * I + i]) * W[i * O + o];
          y[n * O + o] = s;
        }
      }
      return y;
    };
    const x = tf.tensor2d(xv, [N, I]), W = tf.tensor2d(wv, [I, O]), b = tf.tensor1d(bv);
    const [y, dx, dW, db] = await valueAndGrads(
      (a, m, d) => activationLinear("gelu", a as tf.Tensor2D, m as tf.Tensor2D, d as tf.Tensor1D),
      [x, W, b],
      w,
      3,
    );
    assertClose(y, f64(xv, wv, bv), 1e-5, "y");
    assertClose(dx, numericGrad((t) => dot(f64(t, wv, bv), w), xv), 1e-5, "dx");
    assertClose(dW, numericGrad((t) => dot(f64(xv, t, bv), w), wv), 1e-5, "dW");
    assertClose(db, numericGrad((t) => dot(f64(xv, wv, t), w), bv), 1e-5, "db");
    tf.dispose([x, W, b]);
  },
});

Deno.test({
  name:
    "webgpu attention softmax kernels: one dispatch each; broadcast [B,1,1,L] and full masks match float64 (probs and d scores)",
  ignore: skipBackend("webgpu"),
  fn: async () => {
    await useBackend("webgpu");
    const [B, h, L] = [3, 2, 7];
    const keep = [[1, 1, 1, 1, 1, 1, 1], [1, 1, 1, 0, 0, 0, 0], [1, 1, 0, 0, 0, 0, 0]];
    const n = B * h * L * L;
    const sv = rand(n, 5, 4), w = rand(n, 7);
    const s = tf.tensor4d(sv, [B, h, L, L]);
    const fullV = Float32Array.from(rand(n, 6), (v) => v > 0.9 ? -10000 : 0);
    const cases: [string, tf.Tensor, (r: number, j: number) => number, number][] = [
      [
        "[B,1,1,L] mask",
        tf.tensor4d(keep.flat().map((k) => (1 - k) * -10000), [B, 1, 1, L]),
        (r, j) => (1 - keep[Math.floor(r / (h * L))][j]) * -10000,
        0.125,
      ],
      ["full mask", tf.tensor4d(fullV, [B, h, L, L]), (r, j) => fullV[r * L + j], 0.5],
      // causal [1,1,L,L] (GPT-2): broadcast over batch and heads, not over query rows
      [
        "[1,1,L,L] mask",
        tf.tensor4d(fullV.slice(0, L * L), [1, 1, L, L]),
        (r, j) => fullV[(r % L) * L + j],
        0.3,
      ],
    ];
    for (const [what, mask, maskAt, scale] of cases) {
      const op = (a: tf.Tensor, m: tf.Tensor) => attentionSoftmax(a, m, scale);
      assert.deepEqual(await kernelsOf(() => op(s, mask)), [FUSED_KERNELS.attnSoftmax]);
      const [p, ds] = await valueAndGrads(op, [s, mask], w, 1);
      assertClose(p, softmax64(sv, L, scale, maskAt), 1e-5, `${what}: probs`);
      const want = numericGrad((t) => dot(softmax64(t, L, scale, maskAt), w), sv, 1e-4);
      assertClose(ds, want, 1e-5, `${what}: d scores`);
      mask.dispose();
    }
    s.dispose();
  },
});

Deno.test("maskLayout merges the rows' axes into three blocks with the mask's strides (0 = broadcast)", () => {
  assert.deepEqual(maskLayout([3, 2, 7, 7], [3, 1, 1, 7]), { d: [1, 3, 14], s: [0, 7, 0], inner: 1 });
  assert.deepEqual(maskLayout([3, 2, 7, 7], [3, 2, 7, 7]), { d: [1, 1, 42], s: [0, 0, 7], inner: 1 });
  assert.deepEqual(maskLayout([3, 2, 7, 7], [1, 1, 7, 7]), { d: [1, 6, 7], s: [0, 0, 7], inner: 1 });
  assert.deepEqual(maskLayout([2, 5], [1]), { d: [1, 1, 2], s: [0, 0, 0], inner: 0 });
  assert.throws(() => maskLayout([2, 3, 4], [3, 3, 4]), /does not broadcast/);
});
