import { ok, strictEqual } from "node:assert/strict";
import { tf } from "../../runtime/tf.ts";
import { useBackend } from "../backend.ts";
import { skipBackend } from "../../../testing/backends.ts";
import { assertWithinHalfUlps, fp16Fixture } from "../../../testing/fp16_assert.ts";
import { assertClose } from "../../../testing/fixtures.ts";
import { f16Round } from "../../ops/fp16.ts";
import { fp16Linear } from "../../ops/fp16_linear.ts";
import { fp16AttentionContext, fp16AttentionScores } from "../../ops/fp16_matmul.ts";
import { type ViewStrides, webgpuGemm, webgpuGemmPipelines, webgpuMatMul } from "./matmul.ts";
import { setWebgpuF16, webgpuF16Support } from "./f16_device.ts";
import { webgpuPackF16 } from "./fp16_round.ts";

const fx = fp16Fixture();
const t = (a: { shape: number[]; data: number[] }) => tf.tensor(a.data, a.shape, "float32");

/** Dispatch counts per shader variant, to see which kernels a step ran. */
function dispatches(): Map<string, number> {
  return new Map([...webgpuGemmPipelines()].map(([k, v]) => [k, v.dispatches]));
}

/** Variants (parsed keys) dispatched since `before`. */
function ranSince(before: Map<string, number>): { f16: boolean; [k: string]: unknown }[] {
  return [...webgpuGemmPipelines()]
    .filter(([k, v]) => v.dispatches > (before.get(k) ?? 0))
    .map(([k]) => JSON.parse(k));
}

/** Does the adapter itself (not our bookkeeping) offer shader-f16? */
async function adapterHasF16(): Promise<boolean> {
  // deno-lint-ignore no-explicit-any
  const adapter = await (globalThis.navigator as any).gpu.requestAdapter();
  return adapter.features.has("shader-f16");
}

Deno.test({
  name:
    "webgpu fp16 kernels: where the adapter has shader-f16 the matmul runs a WGSL module that starts with `enable f16;` and holds f16 storage and tiles",
  ignore: skipBackend("webgpu"),
  fn: async () => {
    await useBackend("webgpu");
    const has = await adapterHasF16();
    strictEqual(webgpuF16Support().f16, has, `support ${JSON.stringify(webgpuF16Support())}`);
    if (!has) return;
    const before = dispatches();
    const a = tf.tensor2d([[1, 2, 3, 4]]), b = tf.tensor2d([[1], [2], [3], [4]]);
    const c = webgpuMatMul(a, b, { roundF16: true });
    strictEqual((await c.data())[0], 30);
    tf.dispose([a, b, c]);
    const ran = ranSince(before);
    strictEqual(ran.length, 1);
    ok(ran[0].f16, "the f16 variant ran");
    const src = webgpuGemmPipelines().get(JSON.stringify(ran[0]))!.source;
    ok(src.startsWith("enable f16;"), src.slice(0, 40));
    ok(/var<workgroup> tileA : array<array<vec4<f16>/.test(src), "f16 workgroup tiles");
    ok(/var<storage, read> A : array<vec4<f32>>/.test(src), "A: vec4 loads of f32, rounded to f16");
    ok(/vec4<f32>\(tileA\[k\]\[lid\.y\]\)/.test(src), "products formed in f32");
  },
});

for (const f16 of [true, false]) {
  const path = f16 ? "WGSL f16" : "the f32 emulation";
  for (const c of fx.linear) {
    Deno.test({
      name:
        `fp16Linear (${c.activation}) on webgpu with ${path} matches the numpy fp16 reference (values and gradients)`,
      ignore: skipBackend("webgpu"),
      fn: async () => {
        await useBackend("webgpu");
        if (f16 && !webgpuF16Support().f16) return;
        setWebgpuF16(f16);
        try {
          const before = dispatches();
          const out = tf.tidy(() => {
            const [x, w, b, dy] = [t(c.x), t(c.w), t(c.b), t(c.dy)];
            const f = (xx: tf.Tensor, ww: tf.Tensor, bb: tf.Tensor) =>
              fp16Linear(xx as tf.Tensor2D, ww as tf.Tensor2D, bb as tf.Tensor1D, {
                activation: c.activation,
              });
            return [f(x, w, b), ...tf.grads(f)([x, w, b], dy)];
          });
          const [y, dx, dw, db] = await Promise.all(out.map((o) => o.data() as Promise<Float32Array>));
          tf.dispose(out);
          const ran = ranSince(before);
          ok(ran.length > 0 && ran.every((v) => v.f16 === f16), `ran ${JSON.stringify(ran)}`);
          // GELU+Linear is one dispatch with WGSL f16: the forward variant carries the activation.
          if (f16 && c.activation !== "none") ok(ran.some((v) => v.act === c.activation && v.saveZ));
          assertWithinHalfUlps(y, c.y.data, "y");
          assertWithinHalfUlps(dx, c.dx.data, "dx");
          assertClose(dw, c.dw.data, 1e-5, "dW", 1e-3);
          assertClose(db, c.db.data, 1e-5, "db", 1e-3);
        } finally {
          setWebgpuF16(true);
        }
      },
    });
  }

  Deno.test({
    name:
      `fp16 attention QKᵀ·scale and P·V on webgpu with ${path} match the numpy fp16 reference (values and gradients)`,
    ignore: skipBackend("webgpu"),
    fn: async () => {
      await useBackend("webgpu");
      if (f16 && !webgpuF16Support().f16) return;
      setWebgpuF16(f16);
      try {
        const c = fx.attention;
        const shape = { batch: c.batch, seqLen: c.seqLen, heads: c.heads };
        const before = dispatches();
        const out = tf.tidy(() => {
          const scores = (q: tf.Tensor, k: tf.Tensor) =>
            fp16AttentionScores(q as tf.Tensor2D, k as tf.Tensor2D, shape, c.scale);
          const context = (p: tf.Tensor, v: tf.Tensor) =>
            fp16AttentionContext(p as tf.Tensor4D, v as tf.Tensor2D, shape);
          return [
            scores(t(c.q), t(c.k)),
            ...tf.grads(scores)([t(c.q), t(c.k)], t(c.dyScores)),
            context(t(c.probs), t(c.v)),
            ...tf.grads(context)([t(c.probs), t(c.v)], t(c.dyContext)),
          ];
        });
        const [s, dq, dk, ctx, dp, dv] = await Promise.all(out.map((o) => o.data() as Promise<Float32Array>));
        tf.dispose(out);
        const ran = ranSince(before);
        ok(ran.length > 0 && ran.every((v) => v.f16 === f16), `ran ${JSON.stringify(ran)}`);
        assertWithinHalfUlps(s, c.scores.data, "scores");
        assertWithinHalfUlps(dq, c.dq.data, "dq");
        assertWithinHalfUlps(dk, c.dk.data, "dk");
        assertWithinHalfUlps(ctx, c.context.data, "context");
        assertWithinHalfUlps(dp, c.dprobs.data, "dprobs");
        assertWithinHalfUlps(dv, c.dv.data, "dv");
      } finally {
        setWebgpuF16(true);
      }
    },
  });
}

/** Deterministic binary16 values: LCG in [-2, 2) times `scale`, rounded. */
function halves(n: number, seed: number, scale = 1): Float32Array {
  const out = new Float32Array(n);
  let s = seed >>> 0;
  for (let i = 0; i < n; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    out[i] = f16Round(((s / 2 ** 32) * 4 - 2) * scale);
  }
  return out;
}

/**
 * The reference, by hand in float64: C[z](m, n) = Σ_k A(z, m, k)·B(z, k, n) over strided views (the
 * products of binary16 values are exact, so only the f32 summation order can move the kernel's
 * result, by at most one binary16 step after rounding).
 */
function reference(
  a: Float32Array,
  sa: ViewStrides,
  b: Float32Array,
  sb: ViewStrides,
  d: { batch: number; zInner: number; M: number; N: number; K: number },
  round: boolean,
  absSums?: Float64Array,
): Float64Array {
  const out = new Float64Array(d.batch * d.M * d.N);
  for (let z = 0; z < d.batch; z++) {
    const z1 = Math.floor(z / d.zInner), z2 = z % d.zInner;
    for (let m = 0; m < d.M; m++) {
      for (let n = 0; n < d.N; n++) {
        let s = 0, abs = 0;
        for (let k = 0; k < d.K; k++) {
          const p = a[z1 * sa[0] + z2 * sa[1] + m * sa[2] + k * sa[3]] *
            b[z1 * sb[0] + z2 * sb[1] + k * sb[2] + n * sb[3]];
          s += p;
          abs += Math.abs(p);
        }
        out[(z * d.M + m) * d.N + n] = round ? f16Round(s) : s;
        if (absSums) absSums[(z * d.M + m) * d.N + n] = abs;
      }
    }
  }
  return out;
}

interface EdgeCase {
  name: string;
  batch: number;
  zInner: number;
  M: number;
  N: number;
  K: number;
  /** Storage sizes and strides of A and B. */
  a: [number, ViewStrides];
  b: [number, ViewStrides];
  /** Expected load paths (vec axis of A and B). */
  vec: [string, string];
}

const row = (r: number, c: number): [number, ViewStrides] => [r * c, [0, 0, c, 1]];
const col = (r: number, c: number): [number, ViewStrides] => [r * c, [0, 0, 1, r]];
const EDGES: EdgeCase[] = [
  {
    name: "K, N multiples of 4, off the tiles",
    batch: 1,
    zInner: 1,
    M: 37,
    N: 44,
    K: 36,
    a: row(37, 36),
    b: row(36, 44),
    vec: ["col", "col"],
  },
  {
    name: "K, N not multiples of 4",
    batch: 1,
    zInner: 1,
    M: 33,
    N: 45,
    K: 37,
    a: row(33, 37),
    b: row(37, 45),
    vec: ["none", "none"],
  },
  {
    name: "transposed A (vec along M), N = 9",
    batch: 1,
    zInner: 1,
    M: 36,
    N: 9,
    K: 21,
    a: col(36, 21),
    b: row(21, 9),
    vec: ["row", "none"],
  },
  {
    name: "transposed B (vec along K), M = 5",
    batch: 1,
    zInner: 1,
    M: 5,
    N: 23,
    K: 40,
    a: row(5, 40),
    b: col(40, 23),
    vec: ["col", "row"],
  },
  {
    name: "K = 3 (one partial K tile)",
    batch: 1,
    zInner: 1,
    M: 6,
    N: 8,
    K: 3,
    a: row(6, 3),
    b: row(3, 8),
    vec: ["none", "col"],
  },
  {
    // QKᵀ over heads of [B·L, H] rows: B = 2, L = 13, 3 heads of 8.
    name: "attention heads (strided batch), QKᵀ",
    batch: 6,
    zInner: 3,
    M: 13,
    N: 13,
    K: 8,
    a: [26 * 24, [13 * 24, 8, 24, 1]],
    b: [26 * 24, [13 * 24, 8, 1, 24]],
    vec: ["col", "row"],
  },
];

for (const precision of ["fp16", "f32"] as const) {
  for (const packed of precision === "fp16" ? [true, false] : [false]) {
    for (const e of EDGES) {
      const what = precision === "f32"
        ? "f32"
        : packed
        ? "fp16 (packed operands)"
        : "fp16 (f32 operands rounded on load)";
      Deno.test({
        name: `tiled WGSL matmul ${what}, ${e.name} matches the float64 sum`,
        ignore: skipBackend("webgpu"),
        fn: async () => {
          await useBackend("webgpu");
          const av = halves(e.a[0], 3 + e.M), bv = halves(e.b[0], 5 + e.N);
          const at = tf.tensor1d(av), bt = tf.tensor1d(bv);
          const ap = packed ? webgpuPackF16(at) : at, bp = packed ? webgpuPackF16(bt) : bt;
          const before = dispatches();
          const { out } = webgpuGemm({
            batch: e.batch,
            zInner: e.zInner,
            M: e.M,
            N: e.N,
            K: e.K,
            a: { tensor: ap, packed, strides: e.a[1] },
            b: { tensor: bp, packed, strides: e.b[1] },
            precision,
            round: precision === "fp16",
          });
          const got = await out.data() as Float32Array;
          tf.dispose([at, bt, ap, bp, out]);
          const ran = ranSince(before) as unknown as {
            a: { vec: string };
            b: { vec: string };
            f16: boolean;
          }[];
          strictEqual(ran.length, 1);
          strictEqual(`${ran[0].a.vec},${ran[0].b.vec}`, e.vec.join(), "load path");
          strictEqual(ran[0].f16, precision === "fp16" && webgpuF16Support().f16);
          const abs = new Float64Array(got.length);
          const want = reference(av, e.a[1], bv, e.b[1], e, precision === "fp16", abs);
          if (precision === "fp16") assertWithinHalfUlps(got, want, "C");
          else {
            // f32 summation of K exact products: |error| <= K·2^-24·Σ|products| (the standard bound).
            for (let i = 0; i < got.length; i++) {
              const bound = e.K * 2 ** -24 * abs[i];
              ok(Math.abs(got[i] - want[i]) <= bound, `C[${i}] = ${got[i]}, want ${want[i]} ± ${bound}`);
            }
          }
        },
      });
    }
  }
}

Deno.test({
  name: "tiled WGSL fp16 matmul keeps binary16 subnormals (inputs and results below 2^-14) exactly",
  ignore: skipBackend("webgpu"),
  fn: async () => {
    await useBackend("webgpu");
    const [M, K, N] = [8, 8, 12];
    // A: multiples of 2^-20 (some subnormal), B: small; products and sums of order 2^-20..2^-14.
    const a = halves(M * K, 11, 2 ** -10), b = halves(K * N, 12, 2 ** -4);
    for (let i = 0; i < a.length; i += 3) a[i] = f16Round(a[i] * 2 ** -6); // subnormal inputs
    const at = tf.tensor2d(a, [M, K]), bt = tf.tensor2d(b, [K, N]);
    const ap = webgpuPackF16(at);
    const c = webgpuMatMul({ packed: ap, shape: [M, K] }, bt, { roundF16: true });
    const got = await c.data() as Float32Array;
    tf.dispose([at, bt, ap, c]);
    const want = reference(a, [0, 0, K, 1], b, [0, 0, N, 1], { batch: 1, zInner: 1, M, N, K }, true);
    ok(Array.from(a).some((v) => v !== 0 && Math.abs(v) < 2 ** -14), "subnormal inputs");
    ok(Array.from(want).filter((v) => v !== 0 && Math.abs(v) < 2 ** -14).length > 10, "subnormal results");
    assertWithinHalfUlps(got, want, "C");
  },
});

Deno.test({
  name:
    "tiled WGSL fp16 matmul: WGSL f16 and the f32 emulation give bit-identical results (exact products, same f32 sums)",
  ignore: skipBackend("webgpu"),
  fn: async () => {
    await useBackend("webgpu");
    if (!webgpuF16Support().f16) return;
    const [M, K, N] = [45, 72, 52];
    const x = tf.tensor2d(halves(M * K, 21), [M, K]), w = tf.tensor2d(halves(K * N, 22, 0.1), [K, N]);
    const bias = tf.tensor1d(halves(N, 23));
    const run = async (on: boolean) => {
      setWebgpuF16(on);
      try {
        const { out } = webgpuGemm({
          batch: 1,
          M,
          N,
          K,
          a: { tensor: x, strides: [0, 0, K, 1] },
          b: { tensor: w, strides: [0, 0, N, 1] },
          precision: "fp16",
          bias,
          round: true,
          activation: "gelu",
        });
        const v = await out.data() as Float32Array;
        out.dispose();
        return v;
      } finally {
        setWebgpuF16(true);
      }
    };
    const [native, emulated] = [await run(true), await run(false)];
    tf.dispose([x, w, bias]);
    strictEqual(native.length, M * N);
    ok(native.every((v, i) => Object.is(v, emulated[i])), "bit-identical");
  },
});
