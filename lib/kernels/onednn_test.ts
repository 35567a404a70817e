import { deepStrictEqual, ok, strictEqual } from "node:assert/strict";
import { bf16BitsToF32, f32ToBf16Bits, packBf16, roundBf16Array } from "../ops/bf16.ts";
import { f16Round, packF16 } from "../ops/fp16.ts";
import {
  describeMatmul,
  f16WithoutKernelNote,
  gemm,
  gemmEngine,
  type GemmType,
  gemmWidensOperands,
  loadOneDnn,
  oneDnnUnavailableReason,
  packHalfFast,
  roundHalfFast,
  setGemmBlasDisabled,
  setOneDnnEnabled,
} from "./onednn.ts";
import { loadNativeKernels, setNativeKernelsEnabled } from "./native_kernels.ts";

/** Deterministic values in (-2, 2) with many mantissa bits (so rounding matters). */
function values(n: number, seed: number): Float32Array {
  const out = new Float32Array(n);
  let s = seed >>> 0;
  for (let i = 0; i < n; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    out[i] = (s / 2 ** 32) * 4 - 2;
  }
  return out;
}

const roundOf: Record<GemmType, (v: number) => number> = {
  f32: Math.fround,
  bf16: (v) => bf16BitsToF32(f32ToBf16Bits(v)),
  f16: f16Round,
};

/**
 * The reference, written out here: operands rounded element by element with the scalar rounding of
 * bf16.ts / fp16.ts (checked against torch and Float16Array), products summed in float64.
 */
function reference(
  type: GemmType,
  tA: boolean,
  tB: boolean,
  m: number,
  n: number,
  k: number,
  a: Float32Array,
  oa: number,
  lda: number,
  b: Float32Array,
  ob: number,
  ldb: number,
): Float64Array {
  const r = roundOf[type];
  const out = new Float64Array(m * n);
  for (let i = 0; i < m; i++) {
    for (let j = 0; j < n; j++) {
      let acc = 0;
      for (let p = 0; p < k; p++) {
        acc += r(a[oa + (tA ? p * lda + i : i * lda + p)]) * r(b[ob + (tB ? j * ldb + p : p * ldb + j)]);
      }
      out[i * n + j] = acc;
    }
  }
  return out;
}

/** |got - want| <= f32 accumulation error bound (k · 2^-23 · Σ|products| is loose; use a relative 1e-5 of the row scale). */
function assertNear(got: number, want: number, scale: number, what: string): void {
  if (!(Math.abs(got - want) <= 2e-6 * scale + 1e-30)) throw new Error(`${what}: ${got} vs ${want}`);
}

const ENGINES = ["onednn", "openblas", "js"] as const;

/** Why the oneDNN tests cannot run here, or null: one line naming what to install. */
const oneDnnSkip = loadOneDnn() === null
  ? `needs oneDNN and a C compiler (apt-get install libdnnl2 libdnnl-dev gcc): ${oneDnnUnavailableReason()}`
  : null;
if (oneDnnSkip) console.warn(`skipped the oneDNN gemm tests: ${oneDnnSkip}`);

function useEngine(e: (typeof ENGINES)[number]): boolean {
  setOneDnnEnabled(e === "onednn");
  setGemmBlasDisabled(e === "js");
  return e !== "onednn" || loadOneDnn() !== null;
}

for (const engine of ENGINES) {
  for (const type of ["f32", "bf16", "f16"] as GemmType[]) {
    Deno.test({
      name:
        `\`gemm()\` ${type} on ${engine}: all transposes, strides and both batch axes match a float64 sum of ${type}-rounded operands`,
      ignore: engine === "onednn" && oneDnnSkip !== null,
      fn: () => {
        useEngine(engine);
        try {
          const [B1, B2, M, N, K] = [2, 3, 5, 7, 33];
          for (const tA of [false, true]) {
            for (const tB of [false, true]) {
              // A: [B1, B2, M, K] (or K x M) stored with padded rows; B interleaved like heads in [L, H].
              const lda = (tA ? M : K) + 3, ldb = (tB ? K : N) * B2;
              const aRows = tA ? K : M, bRows = tB ? N : K;
              const sa: [number, number] = [B2 * aRows * lda, aRows * lda];
              const sb: [number, number] = [bRows * ldb, tB ? K : N];
              const a = values(1 + B1 * sa[0], 11), b = values(B1 * sb[0], 12);
              const ldc = N * B2 + 1;
              const sc: [number, number] = [M * ldc, N];
              const c = values(B1 * sc[0], 13);
              const before = c.slice();
              gemm({
                type,
                transA: tA,
                transB: tB,
                m: M,
                n: N,
                k: K,
                batch: [B1, B2],
                a: { data: a, offset: 1, ld: lda, strides: sa },
                b: { data: b, ld: ldb, strides: sb },
                c: { data: c, ld: ldc, strides: sc },
                alpha: 0.5,
                beta: 2,
              });
              const written = new Uint8Array(c.length);
              for (let i1 = 0; i1 < B1; i1++) {
                for (let i2 = 0; i2 < B2; i2++) {
                  const want = reference(
                    type,
                    tA,
                    tB,
                    M,
                    N,
                    K,
                    a,
                    1 + i1 * sa[0] + i2 * sa[1],
                    lda,
                    b,
                    i1 * sb[0] + i2 * sb[1],
                    ldb,
                  );
                  for (let i = 0; i < M; i++) {
                    for (let j = 0; j < N; j++) {
                      const o = i1 * sc[0] + i2 * sc[1] + i * ldc + j;
                      written[o] = 1;
                      assertNear(
                        c[o],
                        0.5 * want[i * N + j] + 2 * before[o],
                        4 * K,
                        `${tA}/${tB} [${i1},${i2},${i},${j}]`,
                      );
                    }
                  }
                }
              }
              for (let o = 0; o < c.length; o++) {
                if (!written[o]) strictEqual(c[o], before[o], `gap ${o} untouched`);
              }
            }
          }
        } finally {
          useEngine("onednn");
        }
      },
    });
  }

  Deno.test({
    name:
      `\`gemm()\` on ${engine}: 16-bit operands, output rounding with a second scaled rounding, and a k = 0 product`,
    ignore: engine === "onednn" && oneDnnSkip !== null,
    fn: () => {
      useEngine(engine);
      try {
        const [M, N, K] = [4, 6, 40];
        const a = values(M * K, 21), b = values(K * N, 22);
        for (const type of ["bf16", "f16"] as const) {
          const r = roundOf[type];
          const pack = type === "bf16" ? packBf16 : packF16;
          const want = reference(type, false, false, M, N, K, a, 0, K, b, 0, N);
          const fromF32 = new Float32Array(M * N), from16 = new Float32Array(M * N);
          gemm({
            type,
            m: M,
            n: N,
            k: K,
            a: { data: a, ld: K },
            b: { data: b, ld: N },
            c: { data: fromF32, ld: N },
            roundOut: true,
            postScale: 0.125 * 3,
          });
          gemm({
            type,
            m: M,
            n: N,
            k: K,
            a: { data: pack(a), ld: K },
            b: { data: pack(b), ld: N },
            c: { data: from16, ld: N },
            roundOut: true,
            postScale: 0.375,
          });
          let exact = 0;
          for (let i = 0; i < want.length; i++) {
            strictEqual(from16[i], fromF32[i], `${type}: 16-bit codes in, same as float32 in`);
            strictEqual(r(fromF32[i]), fromF32[i], `${type}: output is ${type}-valued`);
            // Rounding the f32 sum: an f32 summation order may move a value across a rounding boundary.
            const target = r(r(want[i]) * 0.375);
            if (fromF32[i] === target) exact++;
            else {ok(
                Math.abs(fromF32[i] - target) <= Math.abs(target) * 2 ** (type === "bf16" ? -7 : -10),
                `${type} ${i}`,
              );}
          }
          ok(exact >= want.length - 2, `${type}: ${exact}/${want.length} exact`);
        }
        const c = new Float32Array([5, 5]);
        gemm({
          type: "bf16",
          m: 1,
          n: 2,
          k: 0,
          a: { data: new Float32Array(0), ld: 0 },
          b: { data: new Float32Array(0), ld: 2 },
          c: { data: c, ld: 2 },
        });
        ok(c.every((v) => v === 0), `k = 0 gives zeros: ${c}`);
      } finally {
        useEngine("onednn");
      }
    },
  });
}

for (const engine of ENGINES) {
  Deno.test({
    name:
      `\`gemm()\` on ${engine}: float32 operands flagged \`rounded\` go in as they are, single and batched ` +
      `(the same bits as their codes; unrounded values stay unrounded where the kernel widens operands)`,
    ignore: engine === "onednn" && oneDnnSkip !== null,
    fn: () => {
      useEngine(engine);
      try {
        const [B2, M, N, K] = [2, 4, 6, 40];
        const a = values(B2 * M * K, 31), b = values(B2 * K * N, 32);
        for (const type of ["bf16", "f16"] as const) {
          const pack = type === "bf16" ? packBf16 : packF16;
          const ar = a.map(roundOf[type]), br = b.map(roundOf[type]);
          for (const batch of [1, B2]) {
            const run = (
              ad: Float32Array | Uint16Array,
              bd: Float32Array | Uint16Array,
              rounded: boolean,
            ) => {
              const c = new Float32Array(batch * M * N);
              gemm({
                type,
                m: M,
                n: N,
                k: K,
                batch: [1, batch],
                a: { data: ad, ld: K, strides: [0, M * K], rounded },
                b: { data: bd, ld: N, strides: [0, K * N], rounded },
                c: { data: c, ld: N, strides: [0, M * N] },
              });
              return c;
            };
            const fromCodes = run(pack(a), pack(b), false), fromRounded = run(ar, br, true);
            for (let i = 0; i < fromCodes.length; i++) {
              strictEqual(fromRounded[i], fromCodes[i], `${type} batch ${batch} [${i}]`);
            }
            if (!gemmWidensOperands(type)) continue;
            // A widening kernel takes flagged values without rounding them: the float32 product.
            const raw = run(a, b, true);
            let differs = 0;
            for (let z = 0; z < batch; z++) {
              const want = reference("f32", false, false, M, N, K, a, z * M * K, K, b, z * K * N, N);
              for (let i = 0; i < M * N; i++) {
                assertNear(
                  raw[z * M * N + i],
                  want[i],
                  4 * K,
                  `${type} unrounded batch ${batch} [${z}, ${i}]`,
                );
                if (raw[z * M * N + i] !== fromCodes[z * M * N + i]) differs++;
              }
            }
            ok(differs > 0, `${type} batch ${batch}: unrounded values gave the rounded product`);
          }
        }
      } finally {
        useEngine("onednn");
      }
    },
  });
}

Deno.test("`describeMatmul()` names oneDNN's version and kernels (or why it is absent) and the CPU's 16-bit flags", () => {
  const d = describeMatmul();
  ok(/avx512_bf16 (yes|no), avx512_fp16 (yes|no)/.test(d), d);
  ok(loadOneDnn() ? /oneDNN \d+\.\d+/.test(d) : d.includes("no oneDNN"), d);
  ok(["onednn", "openblas", "js"].includes(gemmEngine("bf16")));
});

Deno.test({
  name:
    "the C rounding (`roundHalfFast`, `packHalfFast`; the kernels' and the shim's) is bit-exact with Float16Array and with the torch-checked bf16.ts on 200k bit patterns",
  ignore: oneDnnSkip !== null, // without the shim these are the JS functions themselves
  fn: () => {
    ok(loadNativeKernels(), "the C kernels load where the shim does");
    try {
      for (const native of [true, false]) {
        setNativeKernelsEnabled(native); // the kernels' rounding (native/half.h), else the shim's
        checkRounding(native ? "kernels" : "shim");
      }
    } finally {
      setNativeKernelsEnabled(true);
    }
  },
});

function checkRounding(where: string): void {
  {
    const n = 200_000, src = new Float32Array(n), u = new Uint32Array(src.buffer);
    let s = 4242;
    for (let i = 0; i < n; i++) {
      s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
      // every other pattern with an exponent in binary16's range (plus margins), to hit its ties and subnormals
      u[i] = i % 2 === 0 ? s : ((s & 0x807fffff) | ((98 + ((s >>> 7) % 48)) << 23)) >>> 0;
    }
    const same = (a: Uint32Array, b: Uint32Array, what: string) => {
      for (let i = 0; i < n; i++) {
        const nan = (x: number) => (x & 0x7f800000) === 0x7f800000 && (x & 0x7fffff) !== 0;
        if (a[i] !== b[i] && !(nan(a[i]) && nan(b[i]))) {
          throw new Error(
            `${where} ${what}: ${u[i].toString(16)} -> ${a[i].toString(16)}, want ${b[i].toString(16)}`,
          );
        }
      }
    };
    const f16Native = Float32Array.from(new Float16Array(src));
    same(new Uint32Array(roundHalfFast("f16", src).buffer), new Uint32Array(f16Native.buffer), "f16 round");
    same(
      new Uint32Array(roundHalfFast("bf16", src).buffer),
      new Uint32Array(roundBf16Array(src).buffer),
      "bf16 round",
    );
    const p16 = packHalfFast("f16", src, new Uint16Array(n)),
      native16 = new Uint16Array(new Float16Array(src).buffer);
    const pb = packHalfFast("bf16", src, new Uint16Array(n)), js = packBf16(src);
    for (let i = 0; i < n; i++) {
      const nan16 = (h: number) => (h & 0x7c00) === 0x7c00 && (h & 0x3ff) !== 0;
      if (p16[i] !== native16[i] && !(nan16(p16[i]) && nan16(native16[i]))) {
        throw new Error(`${where}: f16 pack ${i}`);
      }
      if (pb[i] !== js[i]) throw new Error(`${where}: bf16 pack ${i}: ${pb[i]} vs ${js[i]}`);
    }
  }
}

Deno.test("the fp16 note without an f16 matmul: memory, not speed, and bf16 where oneDNN runs it natively", () => {
  const note = "fp16 saves memory here but is not faster than fp32";
  deepStrictEqual(f16WithoutKernelNote(new Set(["avx2", "avx512f"]), true), `${note}.`);
  deepStrictEqual(
    f16WithoutKernelNote(new Set(["avx512f", "avx512_bf16"]), true),
    `${note}; --precision bf16 is (this CPU has avx512_bf16).`,
  );
  deepStrictEqual(
    f16WithoutKernelNote(new Set(["avx512_bf16", "amx_bf16", "avx512_fp16"]), true),
    `${note}; --precision bf16 is (this CPU has amx_bf16).`,
  );
  // without oneDNN's bf16 kernel, bf16 runs on the same fallback: no advice
  deepStrictEqual(f16WithoutKernelNote(new Set(["avx512_bf16"]), false), `${note}.`);
});
