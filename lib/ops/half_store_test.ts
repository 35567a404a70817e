/**
 * LayerNorm and the attention softmax in a half precision keep what their gradients need (x̂, p) as
 * 16-bit codes. Checked against float64 references written here from the closed-form gradients, with
 * x̂ and p rounded by independent code (`Math.f16round`; bf16 by bit arithmetic), and shown to differ
 * from the references without rounding by far more than the tolerance, so the test fails when the
 * float32 tensors are kept instead.
 */
import assert from "node:assert/strict";
import { tf } from "../runtime/tf.ts";
import { useBackend } from "../kernels/backend.ts";
import { skipBackend } from "../../testing/backends.ts";
import { attentionSoftmax, fusedLayerNorm, layerNormSource } from "./fused.ts";
import { halfOps } from "./precision.ts";
import { fp16KernelPath } from "./fp16_linear.ts";
import { nativeKernels, setNativeKernelsEnabled } from "../kernels/native_kernels.ts";
import { releaseSavedCopies, savedCopy } from "./saved_inputs.ts";
import { gemmWidensOperands } from "../kernels/mod.ts";

const bits = new DataView(new ArrayBuffer(4));
/** float32 → bfloat16, round to nearest even (finite inputs), as float64. */
function bf16(v: number): number {
  bits.setFloat32(0, v);
  const u = bits.getUint32(0);
  bits.setUint32(0, ((u + 0x7fff + ((u >>> 16) & 1)) >>> 16) << 16);
  return bits.getFloat32(0);
}
const ROUND = { bf16, fp16: (v: number) => Math.f16round(v), none: (v: number) => v };

/** Deterministic values in [-a, a) (an LCG), as float32. */
function values(n: number, seed: number, a = 1): Float32Array {
  let s = seed >>> 0;
  return Float32Array.from(
    { length: n },
    () => ((s = (Math.imul(s, 1664525) + 1013904223) >>> 0) / 2 ** 31 - 1) * a,
  );
}

function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
}

/** Row r of x [N, H] normalised in float64: (x − μ)/√(σ² + 1e-12), and 1/√(σ² + 1e-12). */
function normalizedRow(x: Float32Array, r: number, H: number): { xhat: number[]; rstd: number } {
  let mu = 0;
  for (let j = 0; j < H; j++) mu += x[r * H + j];
  mu /= H;
  let v = 0;
  for (let j = 0; j < H; j++) v += (x[r * H + j] - mu) ** 2;
  const rstd = 1 / Math.sqrt(v / H + 1e-12);
  return { xhat: Array.from({ length: H }, (_, j) => (x[r * H + j] - mu) * rstd), rstd };
}

/** How far x̂ can move in dγ-like sums when float32 noise rounds `v` the other way: the rounding step, or 0. */
function flipStep(v: number, round: (v: number) => number): number {
  return Math.abs(round(v * (1 + 2 ** -20)) - round(v * (1 - 2 ** -20)));
}

/**
 * LayerNorm gradients in float64 from x̂ as the backward pass sees it (`round`), and per column of dγ
 * the slack for x̂ values that lie within float32 noise of a rounding midpoint (a float32 x̂ a few ulps
 * off may round the other way; each such element may move dγ by |dy| times the rounding step).
 */
function layerNormRef(
  x: Float32Array,
  gamma: Float32Array,
  dy: Float32Array,
  N: number,
  H: number,
  round: (v: number) => number,
) {
  const dx = new Float64Array(N * H), dg = new Float64Array(H), db = new Float64Array(H);
  const slack = new Float64Array(H);
  for (let r = 0; r < N; r++) {
    const { xhat: exact, rstd } = normalizedRow(x, r, H);
    const xh = exact.map((v) => round(Math.fround(v)));
    exact.forEach((v, j) => slack[j] += Math.abs(dy[r * H + j]) * flipStep(v, round));
    const g = Array.from({ length: H }, (_, j) => dy[r * H + j] * gamma[j]);
    const mg = g.reduce((a, b) => a + b, 0) / H;
    const mgx = g.reduce((a, b, j) => a + b * xh[j], 0) / H;
    for (let j = 0; j < H; j++) {
      dx[r * H + j] = rstd * (g[j] - mg - xh[j] * mgx);
      dg[j] += dy[r * H + j] * xh[j];
      db[j] += dy[r * H + j];
    }
  }
  return { grads: [dx, dg, db], slack };
}

/** Softmax gradient ds = scale·p·(dp − Σ dp·p) in float64 from p as the backward pass sees it. */
function softmaxRef(
  s: Float32Array,
  dp: Float32Array,
  rows: number,
  L: number,
  scale: number,
  round: (v: number) => number,
) {
  const ds = new Float64Array(rows * L);
  for (let r = 0; r < rows; r++) {
    const z = Array.from({ length: L }, (_, j) => s[r * L + j] * scale);
    const m = Math.max(...z);
    const e = z.map((v) => Math.exp(v - m));
    const sum = e.reduce((a, b) => a + b, 0);
    const p = e.map((v) => round(Math.fround(v / sum)));
    const dot = p.reduce((a, b, j) => a + b * dp[r * L + j], 0);
    for (let j = 0; j < L; j++) ds[r * L + j] = scale * p[j] * (dp[r * L + j] - dot);
  }
  return ds;
}

for (const backend of ["cpu", "wasm"] as const) {
  for (const precision of ["bf16", "fp16"] as const) {
    const store = halfOps(precision).store;
    Deno.test({
      name:
        `${precision} on ${backend}: LayerNorm keeps x̂ and the attention softmax keeps p as 16-bit codes; values unchanged, gradients those of the rounded x̂ and p`,
      ignore: skipBackend(backend),
      fn: async () => {
        await useBackend(backend);
        const [N, H] = [24, 96];
        const xv = values(N * H, 1, 3), gv = values(H, 2), bv = values(H, 3), dyv = values(N * H, 4);
        const x = tf.tensor2d(xv, [N, H]), gamma = tf.tensor1d(gv), beta = tf.tensor1d(bv);
        const dy = tf.tensor2d(dyv, [N, H]);
        const ln = (st?: typeof store) => {
          const f = (a: tf.Tensor, g: tf.Tensor, b: tf.Tensor) => fusedLayerNorm(a, g, b, 1e-12, st);
          const y = f(x, gamma, beta);
          const grads = tf.grads(f)([x, gamma, beta], dy);
          const out = [y, ...grads].map((t) => t.dataSync().slice());
          tf.dispose([y, ...grads]);
          return out;
        };
        const { grads: want, slack } = layerNormRef(xv, gv, dyv, N, H, ROUND[precision]);
        const plain = layerNormRef(xv, gv, dyv, N, H, ROUND.none).grads;
        // On cpu the gradient kernel reads x̂'s codes: in C a row at a time, in the JS loops unpacked.
        for (const impl of backend === "cpu" && nativeKernels() ? ["C", "JS"] : ["one"]) {
          setNativeKernelsEnabled(impl !== "JS");
          const before = tf.memory().numTensors;
          const [y16, dx16, dg16, db16] = ln(store), [y32] = ln();
          setNativeKernelsEnabled(true);
          assert.equal(tf.memory().numTensors, before, "LayerNorm: no tensor leaked");
          assert.deepEqual(y16, y32, "LayerNorm: the forward value does not depend on what is saved");
          // float32 arithmetic of the kernel (or of the TF.js ops on wasm) against float64
          for (
            const [i, [got, name, rel]]
              of ([[dx16, "dx", 1e-4], [dg16, "dγ", 2e-5], [db16, "dβ", 2e-5]] as const).entries()
          ) {
            const tol = rel * Math.max(1, ...Array.from(want[i], Math.abs));
            const over = Array.from(got, (g, j) => Math.abs(g - want[i][j]) - (name === "dγ" ? slack[j] : 0));
            const err = Math.max(...over);
            assert.ok(
              err <= tol,
              `LayerNorm ${name} (${impl}): off by ${err} from the reference with x̂ rounded (tol ${tol})`,
            );
            if (name === "dγ") { // Σ dy·x̂ shows x̂'s rounding directly; in dx it is mostly projected out
              const gap = maxAbsDiff(plain[i], want[i]);
              assert.ok(
                gap > 10 * tol,
                `LayerNorm ${name}: rounding x̂ moves it by ${gap}, not enough to tell`,
              );
            }
          }
        }

        const [B, nh, L] = [3, 2, 16], scale = 0.25;
        const sv = values(B * nh * L * L, 5, 8), dpv = values(B * nh * L * L, 6);
        const scores = tf.tensor4d(sv, [B, nh, L, L]), mask = tf.zeros([B, 1, 1, L]);
        const dp = tf.tensor4d(dpv, [B, nh, L, L]);
        const sm = (st?: typeof store) => {
          const f = (s: tf.Tensor) => attentionSoftmax(s, mask, scale, st);
          const p = f(scores);
          const ds = tf.grad(f)(scores, dp);
          const out = [p.dataSync().slice(), ds.dataSync().slice()];
          tf.dispose([p, ds]);
          return out;
        };
        const [p16, ds16] = sm(store), [p32] = sm();
        assert.deepEqual(p16, p32, "softmax: the forward value does not depend on what is saved");
        const wantDs = softmaxRef(sv, dpv, B * nh * L, L, scale, ROUND[precision]);
        const tol = 1e-6 * Math.max(1, ...Array.from(wantDs, Math.abs));
        const err = maxAbsDiff(ds16, wantDs);
        assert.ok(err <= tol, `softmax ds: off by ${err} from the reference with p rounded (tol ${tol})`);
        const gap = maxAbsDiff(softmaxRef(sv, dpv, B * nh * L, L, scale, ROUND.none), wantDs);
        assert.ok(gap > 10 * tol, `softmax ds: rounding p moves it by ${gap}, not enough to tell`);
        tf.dispose([x, gamma, beta, dy, scores, mask, dp]);
      },
    });
  }
}

Deno.test("outside a gradient tape nothing is packed: evaluation pays no 16-bit copies", async () => {
  for (const backend of ["wasm", "cpu"] as const) {
    await useBackend(backend);
    let packs = 0;
    const store = halfOps("bf16").store;
    const counting = { ...store, pack: (t: tf.Tensor) => (packs++, store.pack(t)) };
    const x = tf.tensor2d(values(8 * 32, 7), [8, 32]);
    const before = tf.memory().numTensors;
    tf.tidy(() => {
      const y = fusedLayerNorm(x, tf.ones([32]), tf.zeros([32]), 1e-12, counting);
      assert.equal(layerNormSource(y), undefined, `${backend}: no x̂ codes registered`);
    });
    tf.tidy(() => void attentionSoftmax(tf.reshape(x, [2, 2, 8, 8]), tf.zeros([2, 1, 1, 8]), 1, counting));
    assert.equal(packs, 0, `${backend}: no gradient tape, nothing packed`);
    assert.equal(tf.memory().numTensors, before, `${backend}: nothing kept`);
    tf.tidy(() =>
      void tf.grad((a: tf.Tensor) => {
        const y = fusedLayerNorm(a, tf.ones([32]), tf.zeros([32]), 1e-12, counting);
        // cpu: the codes are made outside the op and registered for y; elsewhere the op packs them
        if (backend === "cpu") assert.equal(layerNormSource(y)?.type, "bf16", "cpu: x̂ codes registered");
        return y;
      })(x)
    );
    assert.equal(packs, backend === "cpu" ? 0 : 1, `${backend}: under a tape, x̂ packed once`);
    x.dispose();
  }
});

for (const precision of ["bf16", "fp16"] as const) {
  Deno.test({
    name:
      `${precision} on cpu: a half Linear reading a LayerNorm's output saves the LayerNorm's x̂ codes, not a copy of its input, and forms dW = γ·(x̂ᵀg) + β·Σg (fp16: on its kernel path; the tf-ops path keeps the copy)`,
    ignore: skipBackend("cpu"),
    fn: async () => {
      await useBackend("cpu");
      const ops = halfOps(precision), round = ROUND[precision];
      const [N, H, O] = [40, 64, 24];
      const xv = values(N * H, 11, 3),
        gv = values(H, 12, 1.5),
        bv = values(H, 13, 0.5),
        wv = values(H * O, 14, 0.2);
      // dy in eighths, exact in both formats, so the Linear's g = half(dy) is dy itself
      const dyv = values(N * O, 15).map((v) => Math.round(v * 16) / 8);
      const x = tf.tensor2d(xv, [N, H]), gamma = tf.tensor1d(gv), beta = tf.tensor1d(bv);
      const w = tf.tensor2d(wv, [H, O]), b = tf.zeros([O]) as tf.Tensor1D, dy = tf.tensor2d(dyv, [N, O]);
      const run = (viaCopy: boolean) =>
        tf.tidy(() => {
          const f = (wt: tf.Tensor) => {
            const y = fusedLayerNorm(x, gamma, beta, 1e-12, ops.store) as tf.Tensor2D;
            return ops.linear(viaCopy ? tf.clone(y) : y, wt as tf.Tensor2D, b); // a clone is not the LayerNorm's output
          };
          // the value as the tape records it (the Linear's forward product then reads what it keeps)
          const { value: out, grad: dw } = tf.valueAndGrad(f)(w, dy);
          return [out.dataSync().slice(), dw.dataSync().slice()];
        });
      const [outLn, dwLn] = run(false), [outCopy, dwCopy] = run(true);
      assert.deepEqual(outLn, outCopy, "the forward value does not depend on what is saved");
      // float64 references: γ_i Σ_r x̂16[r,i]·dy[r,j] + β_i Σ_r dy[r,j], with slack for x̂ near a rounding midpoint
      const want = new Float64Array(H * O), slack = new Float64Array(H * O), colSum = new Float64Array(O);
      for (let r = 0; r < N; r++) for (let j = 0; j < O; j++) colSum[j] += dyv[r * O + j];
      for (let r = 0; r < N; r++) {
        const { xhat: exact } = normalizedRow(xv, r, H);
        for (let i = 0; i < H; i++) {
          const e = exact[i], q = round(Math.fround(e)), flip = flipStep(e, round);
          for (let j = 0; j < O; j++) {
            want[i * O + j] += gv[i] * q * dyv[r * O + j];
            slack[i * O + j] += Math.abs(gv[i] * dyv[r * O + j]) * flip;
          }
        }
      }
      for (let i = 0; i < H; i++) for (let j = 0; j < O; j++) want[i * O + j] += bv[i] * colSum[j];
      const tol = 1e-5 * Math.max(...Array.from(want, Math.abs));
      if (precision === "fp16" && !fp16KernelPath()) {
        // No oneDNN or OpenBLAS: fp16's Linear runs as TF.js ops (fp16_linear.ts), which save x16 themselves.
        assert.deepEqual(dwLn, dwCopy, "the tf-ops path forms y16ᵀ g for a LayerNorm's output too");
        tf.dispose([x, gamma, beta, w, b, dy]);
        return;
      }
      const err = Math.max(...Array.from(dwLn, (g, k) => Math.abs(g - want[k]) - slack[k]));
      assert.ok(err <= tol, `dW off by ${err} from γ·(x̂16ᵀ dy) + β·Σdy (tol ${tol})`);
      // the Linear on a copy forms y16ᵀ g: a different rounding, far outside that tolerance
      const gap = maxAbsDiff(dwCopy, want);
      assert.ok(gap > 10 * tol, `dW from a copy of y is only ${gap} away: the x̂ path cannot be told apart`);
      tf.dispose([x, gamma, beta, w, b, dy]);
    },
  });
}

for (const precision of ["bf16", "fp16"] as const) {
  Deno.test({
    name:
      `${precision} on cpu: a half Linear reading an attention context keeps the context op's P and V codes, not a copy of its input, and recomputes the context for dW (where the products read 16-bit codes in place)`,
    ignore: skipBackend("cpu"),
    fn: async () => {
      await useBackend("cpu");
      const ops = halfOps(precision), round = ROUND[precision];
      const [B, nh, L, dh, O] = [2, 2, 8, 8, 12];
      const H = nh * dh, N = B * L, shape = { batch: B, seqLen: L, heads: nh };
      // P in sixteenths and V in eighths, exact in both formats and in every partial sum: only the
      // context's own rounding shapes it
      const pv = values(B * nh * L * L, 21).map((v) => Math.round((v + 1) * 8) / 16);
      const vv = values(N * H, 22, 3).map((v) => Math.round(v * 8) / 8);
      const wv = values(H * O, 23, 0.2);
      const dyv = values(N * O, 24).map((v) => Math.round(v * 16) / 8); // g = half(dy) = dy
      const p = tf.tensor4d(pv, [B, nh, L, L]), v = tf.tensor2d(vv, [N, H]);
      const w = tf.tensor2d(wv, [H, O]), b = tf.zeros([O]) as tf.Tensor1D, dy = tf.tensor2d(dyv, [N, O]);
      // Whether the packed copy the Linear made of its input outlives the forward pass (some op saved it).
      const run = (viaCopy: boolean) =>
        tf.tidy(() => {
          let copyKept: boolean | undefined;
          const f = (wt: tf.Tensor) => {
            const ctx = ops.attentionContext(p, v, shape);
            const x = viaCopy ? tf.clone(ctx) : ctx; // a clone is not the context op's output
            const y = ops.linear(x, wt as tf.Tensor2D, b);
            const copy = savedCopy(x, precision === "bf16" ? "bf16" : "f16");
            for (const t of new Set([x, ctx])) { // as the models release them (model/layers.ts)
              releaseSavedCopies(t);
              t.dispose();
            }
            copyKept = copy && (tf.backend() as unknown as { data: { has(id: unknown): boolean } }).data.has(
              copy.dataId,
            );
            return y;
          };
          const dw = tf.grad(f)(w, dy).dataSync().slice();
          return { dw, copyKept };
        });
      const viaCtx = run(false), viaCopy = run(true);
      assert.deepEqual(viaCtx.dw, viaCopy.dw, "dW does not depend on what is saved");
      // float64 reference: ctx16 = half(P·V) per head, dW = ctx16ᵀ dy
      const ctx = new Float64Array(N * H);
      for (let bi = 0; bi < B; bi++) {
        for (let h = 0; h < nh; h++) {
          for (let i = 0; i < L; i++) {
            for (let d = 0; d < dh; d++) {
              let s = 0;
              for (let j = 0; j < L; j++) {
                s += pv[((bi * nh + h) * L + i) * L + j] * vv[(bi * L + j) * H + h * dh + d];
              }
              ctx[(bi * L + i) * H + h * dh + d] = round(s);
            }
          }
        }
      }
      const want = new Float64Array(H * O);
      for (let r = 0; r < N; r++) {
        for (let i = 0; i < H; i++) {
          for (let j = 0; j < O; j++) want[i * O + j] += ctx[r * H + i] * dyv[r * O + j];
        }
      }
      const tol = 1e-5 * Math.max(...Array.from(want, Math.abs));
      const err = maxAbsDiff(viaCtx.dw, want);
      assert.ok(err <= tol, `dW off by ${err} from half(P·V)ᵀ dy (tol ${tol})`);
      // the Linear on a copy keeps that copy's codes for its backward pass; on the context it keeps none
      // where the products read 16-bit codes in place (bf16 on oneDNN); where they widen them (binary16,
      // the fallbacks) or run as TF.js ops (fp16 without a gemm kernel), it keeps its copy
      const type = precision === "bf16" ? "bf16" : "f16";
      const recomputes = !gemmWidensOperands(type) && (precision === "bf16" || fp16KernelPath());
      if (!recomputes) {
        console.warn(`${precision} here: the Linear keeps its copy of the context (widened products)`);
      }
      assert.equal(viaCopy.copyKept, true, "the Linear on a copy of the context keeps its packed copy");
      assert.equal(
        viaCtx.copyKept,
        !recomputes,
        recomputes
          ? "the Linear on the context keeps the context op's P and V, not a copy"
          : "it keeps its copy",
      );
      tf.dispose([p, v, w, b, dy]);
    },
  });
}
