/**
 * `deno run -A bench/head_products_bench.ts [--march haswell,...] [--heads 4,12] [--batch 128]
 *   [--seq-len 32] [--rounds 15]`
 *
 * The six float32 attention products of one layer's training step (scores Q·Kᵀ, context P·V, and the four
 * gradients dC·Vᵀ, Pᵀ·dC, dS·K, dSᵀ·Q; `batch` sequences of `seq-len` tokens, `heads` heads of 64, read
 * through their strides as `lib/kernels/cpu_head_matmul.ts` reads them) on three engines, interleaved
 * round by round, median and best of `--rounds`:
 *
 * - one OpenBLAS sgemm call per (sequence, head), the path without the C kernels;
 * - the C kernels' small-matrix kernel as this machine's library builds it (`-march=native`);
 * - the same kernel built with each `--march` (default `haswell`: AVX2 and FMA, no AVX-512, so the kernel
 *   runs its plain loops).
 *
 * On a CPU with AVX-512, `--march haswell` with `OPENBLAS_CORETYPE=Haswell` (OpenBLAS's AVX2 kernels)
 * stands in for a CPU without AVX-512, which the toolkit also runs on: the question is whether the kernel's
 * plain loops there still beat an sgemm call per (sequence, head) (docs/CPU-PERF.md, "Twentieth round").
 * OpenBLAS runs with whatever `OPENBLAS_CORETYPE` the environment sets (this script never sets it).
 *
 * @module
 */
import { main, parseFlags, positiveInt } from "../lib/app/cli.ts";
import { InputError } from "../lib/runtime/errors.ts";
import {
  blasInfo,
  halfBatchGemmFor,
  loadBlas,
  loadNativeKernels,
  type NativeKernels,
  nativeKernelsUnavailableReason,
} from "../lib/kernels/mod.ts";

const USAGE =
  "usage: deno run -A bench/head_products_bench.ts [--march haswell,...] [--heads 4,12] [--batch 128] " +
  "[--seq-len 32] [--rounds 15]";

/** One product: which operands are [B·L, H] head views (else [B, heads, L, L]), and the transposes. */
interface Product {
  name: string;
  aHeads: boolean;
  bHeads: boolean;
  outHeads: boolean;
  transA: boolean;
  transB: boolean;
}

const PRODUCTS: Product[] = [
  { name: "Q·Kᵀ", aHeads: true, bHeads: true, outHeads: false, transA: false, transB: true },
  { name: "P·V", aHeads: false, bHeads: true, outHeads: true, transA: false, transB: false },
  { name: "dC·Vᵀ", aHeads: true, bHeads: true, outHeads: false, transA: false, transB: true },
  { name: "Pᵀ·dC", aHeads: false, bHeads: true, outHeads: true, transA: true, transB: false },
  { name: "dS·K", aHeads: false, bHeads: true, outHeads: true, transA: false, transB: false },
  { name: "dSᵀ·Q", aHeads: false, bHeads: true, outHeads: true, transA: true, transB: false },
];

type Batched = NativeKernels["halfBatchGemm"];

/** The kernels' library built with `-march=<march>`; its batched product. */
function buildFor(march: string): { gemm: Batched; close: () => void } {
  const built = halfBatchGemmFor(march);
  if ("error" in built) {
    throw new InputError(`the kernels could not be built with -march=${march}: ${built.error}`);
  }
  return built;
}

function median(v: number[]): number {
  const s = [...v].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)];
}

function bench(): void {
  const { values: flags } = parseFlags(Deno.args, {
    march: { type: "string" },
    heads: { type: "string" },
    batch: { type: "string" },
    "seq-len": { type: "string" },
    rounds: { type: "string" },
  }, USAGE);
  const marches = (flags.march ?? "haswell").split(",").map((s) => s.trim()).filter((s) => s !== "");
  for (const m of marches) {
    if (!/^[\w.-]+$/.test(m)) throw new InputError(`--march takes names like haswell, got '${m}'`);
  }
  const headCounts = (flags.heads ?? "4,12").split(",").map((h) => positiveInt(h, "heads", 4));
  const B = positiveInt(flags.batch, "batch", 128);
  const L = positiveInt(flags["seq-len"], "seq-len", 32);
  const rounds = positiveInt(flags.rounds, "rounds", 15);
  const blas = loadBlas();
  if (!blas) throw new InputError("no OpenBLAS here: install libopenblas0 to compare with sgemm");
  const native = loadNativeKernels();
  if (!native) throw new InputError(`no C kernels here: ${nativeKernelsUnavailableReason()}`);
  console.log(
    `OpenBLAS: ${blasInfo()?.config ?? "?"} (core ${blasInfo()?.corename ?? "-"}; ` +
      `OPENBLAS_CORETYPE=${Deno.env.get("OPENBLAS_CORETYPE") ?? "unset"})`,
  );
  const builds: { march: string; gemm: Batched; close: () => void }[] = [];
  try {
    for (const m of marches) builds.push({ march: m, ...buildFor(m) }); // closed below if a later one fails
    for (const nh of headCounts) {
      const dh = 64, H = nh * dh;
      const fill = (n: number, seed: number) =>
        Float32Array.from({ length: n }, (_, i) => Math.sin(seed + i) / 2);
      const heads = [fill(B * L * H, 1), fill(B * L * H, 2)];
      const square = fill(B * nh * L * L, 3);
      const outHeads = new Float32Array(B * L * H), outSquare = new Float32Array(B * nh * L * L);
      const view = (isHeads: boolean, data: Float32Array) =>
        isHeads
          ? { data, ld: H, strides: [L * H, dh] as [number, number], rows: L, cols: dh }
          : { data, ld: L, strides: [nh * L * L, L * L] as [number, number], rows: L, cols: L };
      const layer = (engine: Batched | "sgemm") => {
        for (const p of PRODUCTS) {
          const a = view(p.aHeads, p.aHeads ? heads[0] : square), b = view(p.bHeads, heads[1]);
          const c = view(p.outHeads, p.outHeads ? outHeads : outSquare);
          const m = p.transA ? a.cols : a.rows,
            k = p.transA ? a.rows : a.cols,
            n = p.transB ? b.rows : b.cols;
          if (engine !== "sgemm") {
            engine("f32", [p.transA, p.transB], [B, nh], [m, n, k], a, b, c, 1);
            continue;
          }
          for (let bi = 0; bi < B; bi++) {
            for (let h = 0; h < nh; h++) {
              const at = (o: typeof a) => bi * o.strides[0] + h * o.strides[1];
              blas.sgemm(
                p.transA,
                p.transB,
                m,
                n,
                k,
                1,
                a.data.subarray(at(a)),
                a.ld,
                b.data.subarray(at(b)),
                b.ld,
                0,
                c.data.subarray(at(c)),
                c.ld,
              );
            }
          }
        }
      };
      const engines: { name: string; run: () => void; ms: number[] }[] = [
        { name: "sgemm per (sequence, head)", run: () => layer("sgemm"), ms: [] },
        { name: "small-matrix kernel, -march=native", run: () => layer(native.halfBatchGemm), ms: [] },
        ...builds.map((b) => ({
          name: `small-matrix kernel, -march=${b.march}`,
          run: () => layer(b.gemm),
          ms: [],
        })),
      ];
      for (const e of engines) e.run(); // warm-up
      for (let r = 0; r < rounds; r++) {
        for (const e of engines) {
          const t0 = performance.now();
          e.run();
          e.ms.push(performance.now() - t0);
        }
      }
      console.log(`\n${B} sequences of ${L} tokens, ${nh} heads of ${dh}: one layer's six products, ms`);
      console.table(
        engines.map((e) => ({
          engine: e.name,
          median: Number(median(e.ms).toFixed(2)),
          best: Number(Math.min(...e.ms).toFixed(2)),
        })),
      );
    }
  } finally {
    for (const b of builds) b.close();
  }
}

await main(() => Promise.resolve().then(bench));
