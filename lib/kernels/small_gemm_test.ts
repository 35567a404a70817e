/**
 * The C kernels' batched small products (`native/small_gemm.h`) against a reference written out here:
 * operands rounded with the scalar rounding of lib/runtime (checked against numpy and torch), each
 * element summed in float32 in the inner index's order (Math.fround after every addition), then rounded
 * to the format and, with a post scale, scaled and rounded again. That order is the kernel's contract,
 * so the comparison is bit for bit. bf16 products on a CPU with AVX512_BF16 go by the dot-product
 * instruction instead, whose semantics Intel's manual gives (VDPBF16PS) and a probe of this project's
 * AMD EPYC confirmed: per pair of inner indices, the odd product onto the sum, then the even one, each
 * addition rounded to float32 (nearest even), subnormal inputs read as zero and subnormal sums flushed.
 * The reference follows that order for those, bit for bit too.
 */
import { deepStrictEqual, ok, strictEqual } from "node:assert/strict";
import { bf16Round, packBf16, roundBf16Array } from "../runtime/bfloat16.ts";
import { f16Round, packF16, roundF16Array } from "../runtime/float16.ts";
import { reportSkip, requireTool } from "../../testing/tools.ts";
import {
  halfBatchGemmFor,
  type HalfBatchOperand,
  type HalfType,
  loadNativeKernels,
  setNativeKernelsEnabled,
} from "./native_kernels.ts";
import { batchedGemmReadsCodes, gemm, gemmWidensOperands } from "./onednn.ts";

const ccSkip = await requireTool("cc");
reportSkip("the small batched gemm tests", ccSkip);
const kernels = ccSkip === null ? loadNativeKernels() : null;

const roundOf: Record<HalfType, (v: number) => number> = { bf16: bf16Round, f16: f16Round };
const packOf: Record<HalfType, (a: Float32Array) => Uint16Array> = { bf16: packBf16, f16: packF16 };
const roundArray: Record<HalfType, (a: Float32Array) => Float32Array> = {
  bf16: (a) => roundBf16Array(a),
  f16: (a) => roundF16Array(a),
};

/** Deterministic values in (-2, 2), a few of them tiny (binary16 subnormals), from a seed. */
function values(n: number, seed: number): Float32Array {
  const out = new Float32Array(n);
  let s = seed >>> 0;
  for (let i = 0; i < n; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    out[i] = ((s / 2 ** 32) * 4 - 2) * (i % 23 === 5 ? 1e-6 : 1);
  }
  return out;
}

interface Case {
  fmt: HalfType;
  ta: boolean;
  tb: boolean;
  batch: [number, number];
  m: number;
  n: number;
  k: number;
  /** How A and B are given: codes, float32 values to round, or float32 values already rounded. */
  kinds: ["codes" | "f32" | "rounded", "codes" | "f32" | "rounded"];
  postScale: number;
}

/** A stored operand of `rows` x `cols` per matrix with padding (ld = cols + 3) and batch strides. */
function layout(c: Case, rows: number, cols: number) {
  const ld = cols + 3;
  const s2 = rows * ld + 5, s1 = c.batch[1] * s2 + 7;
  return { ld, strides: [s1, s2] as [number, number], size: c.batch[0] * s1 };
}

/** The operand as the kernel takes it, and its values as the reference reads them (rounded). */
function operand(c: Case, kind: Case["kinds"][0], rows: number, cols: number, seed: number) {
  const { ld, strides, size } = layout(c, rows, cols);
  const raw = values(size, seed);
  const rounded = roundArray[c.fmt](raw);
  const data = kind === "codes" ? packOf[c.fmt](raw) : kind === "rounded" ? rounded : raw;
  return { op: { data, rounded: kind === "rounded", ld, strides } as HalfBatchOperand, rounded };
}

/** A float32 subnormal as zero (of its sign), as the dot-product instruction reads and writes them. */
const ftz = (v: number) => Math.abs(v) < 2 ** -126 ? (v < 0 ? -0 : 0) : v;

/**
 * The reference; `pairs`: the sums of the dot-product instruction (per pair, odd product then even,
 * subnormals flushed; a missing odd index of an odd k is a zero code).
 */
function reference(
  c: Case,
  a: ReturnType<typeof operand>,
  b: ReturnType<typeof operand>,
  cLd: number,
  pairs = false,
) {
  const r = roundOf[c.fmt];
  const [b1, b2] = c.batch;
  const out: number[] = [];
  for (let i1 = 0; i1 < b1; i1++) {
    for (let i2 = 0; i2 < b2; i2++) {
      const oa = i1 * a.op.strides[0] + i2 * a.op.strides[1],
        ob = i1 * b.op.strides[0] + i2 * b.op.strides[1];
      for (let i = 0; i < c.m; i++) {
        for (let j = 0; j < c.n; j++) {
          const av = (t: number) => a.rounded[oa + (c.ta ? t * a.op.ld + i : i * a.op.ld + t)];
          const bv = (t: number) => b.rounded[ob + (c.tb ? j * b.op.ld + t : t * b.op.ld + j)];
          let acc = 0;
          if (pairs) {
            for (let t = 0; t < c.k; t += 2) {
              const odd = t + 1 < c.k ? ftz(av(t + 1)) * ftz(bv(t + 1)) : 0 * bv(t); // exact in a double
              acc = ftz(Math.fround(ftz(acc) + odd));
              acc = ftz(Math.fround(acc + ftz(av(t)) * ftz(bv(t))));
            }
          } else {
            for (let t = 0; t < c.k; t++) acc = Math.fround(acc + Math.fround(av(t) * bv(t)));
          }
          let v = r(acc);
          if (c.postScale !== 1) v = r(Math.fround(v * c.postScale));
          out.push(v);
        }
        for (let j = c.n; j < cLd; j++) out.push(NaN); // padding the kernel must not write
      }
    }
  }
  return out;
}

/**
 * Runs the case through `run` into a NaN-filled output with padded rows; returns [got, want], want with
 * the dot-product sums when `pairs`.
 */
function check(
  c: Case,
  run: (
    a: HalfBatchOperand,
    b: HalfBatchOperand,
    out: { data: Float32Array; ld: number; strides: [number, number] },
  ) => void,
  pairs = false,
): [number[], number[]] {
  const a = operand(c, c.kinds[0], c.ta ? c.k : c.m, c.ta ? c.m : c.k, 11);
  const b = operand(c, c.kinds[1], c.tb ? c.n : c.k, c.tb ? c.k : c.n, 29);
  const cLd = c.n + 2;
  const out = new Float32Array(c.batch[0] * c.batch[1] * c.m * cLd).fill(NaN);
  run(a.op, b.op, { data: out, ld: cLd, strides: [c.batch[1] * c.m * cLd, c.m * cLd] });
  return [Array.from(out), reference(c, a, b, cLd, pairs)];
}

const SHAPES: Array<[number, number, number]> = [
  [32, 32, 64],
  [32, 64, 32],
  [5, 70, 7],
  [1, 33, 9],
  [9, 17, 3],
  [3, 16, 20], // transposed B: rows in 16-blocks, columns not
  [2, 20, 48], // and the other way
];

Deno.test({
  name:
    "small batched gemm: half(op(A)·op(B)) (and half(C·scale)) bit-exact with float32 sums in the inner index's order (bf16 with AVX512_BF16: the dot product's pairs), every transpose, operand kind and shape",
  ignore: kernels === null,
  fn() {
    for (const fmt of ["bf16", "f16"] as const) {
      const pairs = fmt === "bf16" && kernels!.bf16DotProducts;
      for (const [m, n, k] of SHAPES) {
        for (const [ta, tb] of [[false, false], [false, true], [true, false], [true, true]]) {
          for (
            const kinds of [["codes", "codes"], ["f32", "rounded"], ["rounded", "f32"]] as Case["kinds"][]
          ) {
            const c: Case = {
              fmt,
              ta,
              tb,
              batch: [2, 3],
              m,
              n,
              k,
              kinds,
              postScale: kinds[0] === "f32" ? 0.125 : 1,
            };
            const [got, want] = check(c, (a, b, out) => {
              ok(kernels!.halfBatchGemm(fmt, [ta, tb], c.batch, [m, n, k], a, b, out, c.postScale));
            }, pairs);
            deepStrictEqual(got, want, `${JSON.stringify(c)}`);
          }
        }
      }
    }
  },
});

/** The case as `gemm` takes it: a batched product rounded on the way out. */
function viaGemm(c: Case) {
  return (
    a: HalfBatchOperand,
    b: HalfBatchOperand,
    out: { data: Float32Array; ld: number; strides: [number, number] },
  ) =>
    gemm({
      type: c.fmt,
      transA: c.ta,
      transB: c.tb,
      m: c.m,
      n: c.n,
      k: c.k,
      batch: c.batch,
      a,
      b,
      c: out,
      roundOut: true,
      postScale: c.postScale,
    });
}

/** `gemm` runs the case on the small-matrix kernel, once (the route, seen on the kernels' object), with its bits. */
function checkRoutedToKernel(c: Case, pairs = false): void {
  let calls = 0;
  const take = kernels!.halfBatchGemm;
  kernels!.halfBatchGemm = (...args) => (calls++, take(...args));
  try {
    const [got, want] = check(c, viaGemm(c), pairs);
    deepStrictEqual(got, want);
    strictEqual(calls, 1);
  } finally {
    kernels!.halfBatchGemm = take;
  }
}

Deno.test({
  name:
    "gemm sends batched binary16 products rounded on the way out to the small-matrix kernel (its bits), and to the library kernels without the C kernels (within a binary16 step)",
  ignore: kernels === null || !gemmWidensOperands("f16"),
  fn() {
    const c: Case = {
      fmt: "f16",
      ta: false,
      tb: true,
      batch: [4, 2],
      m: 32,
      n: 32,
      k: 64,
      kinds: ["codes", "rounded"],
      postScale: 0.125,
    };
    ok(batchedGemmReadsCodes("f16", 64));
    checkRoutedToKernel(c);
    const [, want] = check(c, () => {});
    setNativeKernelsEnabled(false);
    try {
      ok(!batchedGemmReadsCodes("f16", 64));
      const [other] = check(c, viaGemm(c)); // a library kernel: its own sum order
      other.forEach((v, i) => {
        const w = want[i];
        ok(
          Number.isNaN(w) ? Number.isNaN(v) : Math.abs(v - w) <= Math.abs(w) * 2 ** -10 + 2 ** -24,
          `${i}: ${v} vs ${w}`,
        );
      });
    } finally {
      setNativeKernelsEnabled(true);
    }
  },
});

Deno.test({
  name:
    "gemm sends batched bf16 products to the small-matrix kernel where it has AVX512_BF16's dot products (their bits)",
  ignore: kernels === null || !kernels.bf16DotProducts,
  fn() {
    const c: Case = {
      fmt: "bf16",
      ta: true,
      tb: false,
      batch: [4, 2],
      m: 32,
      n: 64,
      k: 32,
      kinds: ["codes", "codes"],
      postScale: 1,
    };
    ok(batchedGemmReadsCodes("bf16", 64));
    checkRoutedToKernel(c, true);
  },
});

Deno.test({
  name:
    "small batched gemm: the same bits from the kernels built for a CPU without AVX-512 (the plain loops, -march=haswell)",
  ignore: kernels === null || Deno.build.arch !== "x86_64", // the -march name is x86's
  fn() {
    const built = halfBatchGemmFor("haswell");
    ok(!("error" in built), "error" in built ? built.error : "");
    try {
      const plain = built.gemm;
      for (const fmt of ["bf16", "f16"] as const) {
        for (const [m, n, k] of SHAPES) {
          for (const [ta, tb] of [[false, false], [false, true], [true, false], [true, true]]) {
            const c: Case = {
              fmt,
              ta,
              tb,
              batch: [2, 3],
              m,
              n,
              k,
              kinds: ["f32", "codes"],
              postScale: 0.125,
            };
            const [got, want] = check(c, (a, b, out) => {
              ok(plain(fmt, [ta, tb], c.batch, [m, n, k], a, b, out, c.postScale));
            });
            deepStrictEqual(got, want, JSON.stringify(c));
          }
        }
      }
    } finally {
      built.close();
    }
  },
});

Deno.test({
  name: "small batched gemm: false, not a crash or a hang, when the threads cannot have their tiles",
  ignore: kernels === null,
  fn() {
    const op = { data: new Uint16Array(4), ld: 1, strides: [0, 0] as [number, number] };
    const c = { data: new Float32Array(4), ld: 1, strides: [1, 0] as [number, number] };
    // k = 2^40: tiles of 4 TB each, which no allocator grants; nothing is read before that
    ok(!kernels!.halfBatchGemm("f16", [false, false], [4, 1], [1, 1, 2 ** 40], op, op, c, 1));
  },
});
