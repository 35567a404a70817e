/**
 * `deno run -A bench/matmul_bench.ts [--rounds N] [--threads 1,2] [--layer-rounds N] [--layer-threads N]
 *   [--json FILE]`, or `deno task bench:matmul --backend webgpu [--tokens N] [--rounds N] [--reps N]
 *   [--json FILE]`
 *
 * With `--backend webgpu`: the toolkit's tiled WGSL matmul (`lib/kernels/webgpu/matmul.ts`) in f32, and
 * in fp16 on packed binary16 operands with WGSL f16 storage and tiles and with the f32 emulation,
 * against tfjs-backend-webgpu's own `tf.matMul`, for BERT-mini and BERT-base Linear shapes with
 * `--tokens` rows (default 128, so that it stays under 2 minutes on lavapipe) and one attention QKᵀ;
 * then one GELU+Linear layer forward + backward (fp32 TF.js ops; `fp16Linear` with the fused WGSL f16
 * kernel; with the f32 emulation). Each timing is `--reps` ops queued back to back (default 1) and the
 * read-back of the last one's output (the same bytes for every engine), divided by `--reps`, best of
 * `--rounds` (default 2). On a GPU, `--reps 20` or so keeps the read-back, which a GPU waits for and
 * a fast kernel cannot hide, from ranking the kernels (docs/GPU.md, "On the H200"). Writes `results/bench/matmul-webgpu-<date>.json` (or `--json FILE`). On lavapipe
 * (docs/GPU.md) the numbers are correctness-path timings of a CPU emulation, not GPU speeds.
 *
 * Matmul micro-benchmark on BERT's shapes (docs/CPU-PERF.md, "Beyond FP32"): GFLOP/s of OpenBLAS sgemm,
 * oneDNN f32, oneDNN bf16 (operands given as bf16 codes, and given as f32 and rounded inside the
 * kernel), and f16 (oneDNN where it has an f16 kernel, else the fallback that `onednn.ts` uses:
 * sgemm on f16-rounded copies), for C[M,N] = A[M,K]·B[K,N], row-major, f32 output. Rounds are
 * interleaved (every engine once per shape per round, so load from elsewhere hits all alike) and the
 * best of N is reported, at each thread count.
 *
 * Then one Linear layer at a BERT-base shape (x [4096, 768], W [768, 3072], GELU fused where the op has
 * it) forward + backward on the accelerated cpu backend at `--layer-threads` (default 1): `linear`
 * (fp32) + GELU, `fp16Linear` on its tf-ops emulation and on the gemm-kernel path, and `bf16Linear`,
 * interleaved, best of `--layer-rounds`.
 *
 * OpenBLAS runs with whatever `OPENBLAS_CORETYPE` the environment sets (this script never sets it).
 *
 * @module
 */
import { main, parseFlags, positiveInt } from "../lib/app/cli.ts";
import { tf } from "../lib/runtime/tf.ts";
import {
  blasInfo,
  describeMatmul,
  gemm,
  gemmEngine,
  type GemmSpec,
  loadBlas,
  loadOneDnn,
  setBlasThreads,
  setOneDnnEnabled,
  setOneDnnThreads,
} from "../lib/kernels/mod.ts";
import { useBackend } from "../lib/kernels/backend.ts";
import { packBf16 } from "../lib/ops/bf16.ts";
import { bf16Linear } from "../lib/ops/bf16_ops.ts";
import { fp16Linear, setFp16KernelPath } from "../lib/ops/fp16_linear.ts";
import { linear } from "../lib/ops/linear.ts";
import { activation } from "../lib/model/layers.ts";
import { setWebgpuF16, webgpuF16Support, webgpuMatMul } from "../lib/kernels/mod.ts";
import { packF16Tensor } from "../lib/ops/fp16.ts";
import { InputError } from "../lib/runtime/errors.ts";
import { writeFileAtomic } from "../lib/runtime/atomic_write.ts";
import { newRunId } from "../lib/results/run_record.ts";

const USAGE =
  "usage: deno run -A bench/matmul_bench.ts [--backend cpu|webgpu] [--rounds N] [--threads 1,2] " +
  "[--layer-rounds N] [--tokens N] [--reps N] [--json FILE]";

const SHAPES: [number, number, number][] = [ // M, N, K
  [4096, 768, 768],
  [4096, 3072, 768],
  [4096, 768, 3072],
  [4096, 256, 256],
  [4096, 1024, 256],
];

function values(n: number, seed: number): Float32Array {
  const out = new Float32Array(n);
  let s = seed >>> 0;
  for (let i = 0; i < n; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    out[i] = s / 2 ** 32 - 0.5;
  }
  return out;
}

type Engine = { name: string; run: (m: number, n: number, k: number) => void } | null;

await main(async () => {
  const { values: flags } = parseFlags(Deno.args, {
    rounds: { type: "string" },
    threads: { type: "string" },
    "layer-rounds": { type: "string" },
    "layer-threads": { type: "string" },
    json: { type: "string" },
    backend: { type: "string" },
    tokens: { type: "string" },
    reps: { type: "string" },
  }, USAGE);
  const backend = flags.backend ?? "cpu";
  if (backend === "webgpu") {
    return await webgpuBench(
      positiveInt(flags.rounds, "rounds", 2),
      positiveInt(flags.tokens, "tokens", 128),
      positiveInt(flags.reps, "reps", 1),
      flags.json,
    );
  }
  if (backend !== "cpu") throw new InputError(`--backend must be cpu or webgpu, got '${backend}'`);
  if (flags.reps !== undefined) throw new InputError(`--reps is for --backend webgpu\n${USAGE}`);
  const rounds = positiveInt(flags.rounds, "rounds", 5);
  const layerRounds = positiveInt(flags["layer-rounds"], "layer-rounds", 3);
  const layerThreads = positiveInt(flags["layer-threads"], "layer-threads", 1);
  const threads = (flags.threads ?? "1,2").split(",").map((t) => positiveInt(t, "threads", 1));
  await useBackend("cpu");
  const blas = loadBlas();
  const dnn = loadOneDnn();
  console.log(`matmul: ${describeMatmul()}`);
  console.log(`OpenBLAS: ${blasInfo()?.config ?? "none"} (core ${blasInfo()?.corename ?? "-"})`);

  const maxA = Math.max(...SHAPES.map(([m, , k]) => m * k));
  const maxB = Math.max(...SHAPES.map(([, n, k]) => k * n));
  const maxC = Math.max(...SHAPES.map(([m, n]) => m * n));
  const a = values(maxA, 1), b = values(maxB, 2), c = new Float32Array(maxC);
  const a16 = packBf16(a), b16 = packBf16(b);
  const spec = (type: GemmSpec["type"], m: number, n: number, k: number, sixteen: boolean): GemmSpec => ({
    type,
    m,
    n,
    k,
    a: { data: sixteen ? a16 : a, ld: k },
    b: { data: sixteen ? b16 : b, ld: n },
    c: { data: c, ld: n },
  });
  const engines: Engine[] = [
    blas
      ? {
        name: "OpenBLAS sgemm",
        run: (m, n, k) => blas.sgemm(false, false, m, n, k, 1, a, k, b, n, 0, c, n),
      }
      : null,
    dnn ? { name: "oneDNN f32", run: (m, n, k) => gemm(spec("f32", m, n, k, false)) } : null,
    dnn?.impl.bf16
      ? { name: "oneDNN bf16 (bf16 in)", run: (m, n, k) => gemm(spec("bf16", m, n, k, true)) }
      : null,
    dnn?.impl.bf16
      ? {
        name: "oneDNN bf16 (f32 in, rounded in kernel)",
        run: (m, n, k) => gemm(spec("bf16", m, n, k, false)),
      }
      : null,
    {
      name: `f16 (${gemmEngine("f16") === "onednn" ? "oneDNN" : `${gemmEngine("f16")} on rounded copies`})`,
      run: (m, n, k) => gemm(spec("f16", m, n, k, false)),
    },
  ];
  const active = engines.filter((e): e is NonNullable<Engine> => e !== null);
  const results: Record<string, Record<string, number>> = {};
  for (const t of threads) {
    setBlasThreads(t);
    setOneDnnThreads(t);
    const best = new Map<string, number>();
    for (const e of active) for (const [m, n, k] of SHAPES) e.run(m, n, k); // warm-up: primitives, pages
    for (let r = 0; r < rounds; r++) {
      for (const [m, n, k] of SHAPES) {
        for (const e of active) {
          const t0 = performance.now();
          e.run(m, n, k);
          const s = (performance.now() - t0) / 1000;
          const key = `${e.name}|${m}x${n}x${k}`;
          best.set(key, Math.min(best.get(key) ?? Infinity, s));
        }
      }
    }
    console.log(`\n${t} thread(s), best of ${rounds}, GFLOP/s (M×N×K):`);
    console.log(`| engine | ${SHAPES.map((s) => s.join("×")).join(" | ")} |`);
    console.log(`|---|${SHAPES.map(() => "---").join("|")}|`);
    for (const e of active) {
      const row = SHAPES.map(([m, n, k]) => (2 * m * n * k) / best.get(`${e.name}|${m}x${n}x${k}`)! / 1e9);
      results[`${t}t ${e.name}`] = Object.fromEntries(
        SHAPES.map((s, i) => [s.join("x"), +row[i].toFixed(1)]),
      );
      console.log(`| ${e.name} | ${row.map((g) => g.toFixed(0)).join(" | ")} |`);
    }
  }

  // One BERT-base FFN Linear (+ GELU), forward and backward, on the accelerated cpu backend.
  setBlasThreads(layerThreads);
  setOneDnnThreads(layerThreads);
  setOneDnnEnabled(true);
  const [N, I, O] = [4096, 768, 3072];
  const x = tf.randomNormal([N, I], 0, 1, "float32", 1) as tf.Tensor2D;
  const w = tf.randomNormal([I, O], 0, 0.03, "float32", 2) as tf.Tensor2D;
  const bias = tf.zeros([O]) as tf.Tensor1D;
  const dy = tf.randomNormal([N, O], 0, 1, "float32", 3);
  type Op = (xx: tf.Tensor, ww: tf.Tensor, bb: tf.Tensor) => tf.Tensor;
  const fp16: Op = (xx, ww, bb) =>
    fp16Linear(xx as tf.Tensor2D, ww as tf.Tensor2D, bb as tf.Tensor1D, { activation: "gelu" });
  const withPath = (on: boolean, f: Op): Op => (xx, ww, bb) => {
    setFp16KernelPath(on);
    try {
      return f(xx, ww, bb);
    } finally {
      setFp16KernelPath(true);
    }
  };
  const layers: [string, Op][] = [
    [
      "fp32 linear + gelu",
      (xx, ww, bb) => activation("gelu", linear(xx as tf.Tensor2D, ww as tf.Tensor2D, bb as tf.Tensor1D)),
    ],
    ["fp16Linear (gelu), tf-ops emulation", withPath(false, fp16)],
    ["fp16Linear (gelu), gemm-kernel path", withPath(true, fp16)],
    [
      "bf16Linear (gelu)",
      (xx, ww, bb) =>
        bf16Linear(xx as tf.Tensor2D, ww as tf.Tensor2D, bb as tf.Tensor1D, { activation: "gelu" }),
    ],
  ];
  const layerBest = new Map<string, { fwd: number; both: number }>();
  for (let r = 0; r <= layerRounds; r++) { // round 0 is a warm-up
    for (const [name, f] of layers) {
      const t0 = performance.now();
      tf.tidy(() => {
        f(x, w, bias).dataSync(); // (returning the array would make tidy walk its 12 M entries)
      });
      const t1 = performance.now();
      tf.tidy(() => {
        const g = tf.grads(f)([x, w, bias], dy);
        g.forEach((t) => t.dataSync());
      });
      const t2 = performance.now();
      console.error(
        `  ${r === 0 ? "warm-up" : `round ${r}`}: ${name} ${(t1 - t0).toFixed(0)} + ${
          (t2 - t1).toFixed(0)
        } ms`,
      );
      if (r === 0) continue;
      const prev = layerBest.get(name) ?? { fwd: Infinity, both: Infinity };
      layerBest.set(name, { fwd: Math.min(prev.fwd, t1 - t0), both: Math.min(prev.both, t2 - t1) });
    }
  }
  console.log(
    `\nLinear [${N}, ${I}] @ [${I}, ${O}] + GELU on cpu, ${layerThreads} thread(s), best of ${layerRounds}, ms:`,
  );
  console.log("| op | forward | forward + backward | vs fp32 (fwd+bwd) |");
  console.log("|---|---|---|---|");
  const base = layerBest.get(layers[0][0])!.both;
  const layerOut: Record<string, { fwd: number; both: number }> = {};
  for (const [name] of layers) {
    const v = layerBest.get(name)!;
    layerOut[name] = v;
    console.log(`| ${name} | ${v.fwd.toFixed(0)} | ${v.both.toFixed(0)} | ×${(base / v.both).toFixed(2)} |`);
  }
  if (flags.json) {
    await Deno.writeTextFile(
      flags.json,
      JSON.stringify({ describe: describeMatmul(), gflops: results, layerMs: layerOut }, null, 1) + "\n",
    );
  }
});

/**
 * Seconds per `run()` of `reps` runs queued back to back, with the read-back of the last one's output:
 * a backend runs its work in order, so that read-back waits for all of them.
 */
async function timed(run: () => tf.Tensor | tf.Tensor[], reps = 1): Promise<number> {
  const t0 = performance.now();
  let out: tf.Tensor[] = [];
  for (let i = 0; i < reps; i++) {
    tf.dispose(out); // released once the queued work that reads them is done
    out = [run()].flat();
  }
  await Promise.all(out.map((t) => t.data()));
  const s = (performance.now() - t0) / 1000 / reps;
  tf.dispose(out);
  return s;
}

/** The `--backend webgpu` bench (module doc). */
async function webgpuBench(
  rounds: number,
  tokens: number,
  reps: number,
  json: string | undefined,
): Promise<void> {
  await useBackend("webgpu");
  // deno-lint-ignore no-explicit-any
  const info = (await (globalThis.navigator as any).gpu.requestAdapter())?.info ?? {};
  const adapter =
    [info.vendor, info.architecture, info.device, info.description].filter(Boolean).join(", ") ||
    "unknown";
  const f16 = webgpuF16Support();
  console.log(`webgpu adapter: ${adapter}`);
  console.log(`WGSL f16 kernels: ${f16.f16 ? "yes" : `no (${f16.reason})`}`);
  console.log("(lavapipe runs WGSL on the CPU: these are correctness-path timings, not GPU speeds)");
  const shapes: [string, number, number, number, number][] = [ // name, batch, M, N, K
    ["mini QKV/out", 1, tokens, 256, 256],
    ["mini FFN in", 1, tokens, 1024, 256],
    ["mini FFN out", 1, tokens, 256, 1024],
    ["base QKV/out", 1, tokens, 768, 768],
    ["base FFN in", 1, tokens, 3072, 768],
    ["base FFN out", 1, tokens, 768, 3072],
    ["base QKᵀ (12 heads, L 32)", Math.max(1, Math.floor(tokens / 32)) * 12, 32, 32, 64],
  ];
  type Eng = { name: string; run: (a: tf.Tensor, b: tf.Tensor, ap: tf.Tensor, bp: tf.Tensor) => tf.Tensor };
  const shapeOf = (t: tf.Tensor, packedOf: tf.Tensor) => ({ packed: t, shape: packedOf.shape });
  const withF16 = (on: boolean, f: () => tf.Tensor) => {
    setWebgpuF16(on);
    try {
      return f();
    } finally {
      setWebgpuF16(true);
    }
  };
  const engines: Eng[] = [
    {
      name: "tf.matMul (tfjs-backend-webgpu), f32",
      run: (a, b) => tf.matMul(a as tf.Tensor2D, b as tf.Tensor2D),
    },
    { name: "tiled WGSL, f32", run: (a, b) => webgpuMatMul(a, b) },
    ...(f16.f16
      ? [{
        name: "tiled WGSL, fp16 (f16 storage + WGSL f16)",
        run: (a: tf.Tensor, b: tf.Tensor, ap: tf.Tensor, bp: tf.Tensor) =>
          withF16(true, () => webgpuMatMul(shapeOf(ap, a), shapeOf(bp, b), { roundF16: true })),
      }]
      : []),
    {
      name: "tiled WGSL, fp16 (f32 emulation)",
      run: (a, b, ap, bp) =>
        withF16(false, () => webgpuMatMul(shapeOf(ap, a), shapeOf(bp, b), { roundF16: true })),
    },
  ];
  const gflops: Record<string, Record<string, number>> = {};
  const timing = reps === 1 ? "op + read-back of C" : `${reps} ops + one read-back of C, per op`;
  console.log(`\nGFLOP/s, best of ${rounds}, ${timing} (batch×M×N×K):`);
  console.log(`| engine | ${shapes.map(([n, z, m, nn, k]) => `${n} ${z}×${m}×${nn}×${k}`).join(" | ")} |`);
  console.log(`|---|${shapes.map(() => "---").join("|")}|`);
  const best = new Map<string, number>();
  for (const [name, z, m, n, k] of shapes) {
    const lead = z > 1 ? [z] : [];
    const a = tf.randomUniform([...lead, m, k], -1, 1, "float32", 1);
    const b = tf.randomUniform([...lead, k, n], -1, 1, "float32", 2);
    const ap = packF16Tensor(a), bp = packF16Tensor(b);
    console.error(`  ${name} ${z}×${m}×${n}×${k}: ${engines.length} engines × ${rounds + 1} rounds`);
    for (let r = 0; r <= rounds; r++) { // round 0: warm-up (pipeline compilation)
      for (const e of engines) {
        const s = await timed(() => e.run(a, b, ap, bp), reps);
        if (r > 0) best.set(`${e.name}|${name}`, Math.min(best.get(`${e.name}|${name}`) ?? Infinity, s));
      }
    }
    tf.dispose([a, b, ap, bp]);
  }
  for (const e of engines) {
    const row = shapes.map(([name, z, m, n, k]) =>
      (2 * z * m * n * k) / best.get(`${e.name}|${name}`)! / 1e9
    );
    gflops[e.name] = Object.fromEntries(shapes.map(([name], i) => [name, +row[i].toFixed(2)]));
    console.log(`| ${e.name} | ${row.map((g) => g.toFixed(2)).join(" | ")} |`);
  }

  // One GELU+Linear at BERT-base's FFN shape, forward and forward + backward.
  const [N, I, O] = [tokens, 768, 3072];
  const x = tf.randomNormal([N, I], 0, 1, "float32", 1) as tf.Tensor2D;
  const w = tf.randomNormal([I, O], 0, 0.03, "float32", 2) as tf.Tensor2D;
  const bias = tf.zeros([O]) as tf.Tensor1D;
  const dy = tf.randomNormal([N, O], 0, 1, "float32", 3);
  type Op = (xx: tf.Tensor, ww: tf.Tensor, bb: tf.Tensor) => tf.Tensor;
  const fp16 = (on: boolean): Op => (xx, ww, bb) =>
    withF16(
      on,
      () => fp16Linear(xx as tf.Tensor2D, ww as tf.Tensor2D, bb as tf.Tensor1D, { activation: "gelu" }),
    );
  const layers: [string, Op][] = [
    [
      "fp32 linear + gelu (TF.js ops)",
      (xx, ww, bb) => activation("gelu", linear(xx as tf.Tensor2D, ww as tf.Tensor2D, bb as tf.Tensor1D)),
    ],
    ...(f16.f16 ? [["fp16Linear (gelu), WGSL f16, GELU fused", fp16(true)] as [string, Op]] : []),
    ["fp16Linear (gelu), f32 emulation", fp16(false)],
  ];
  const layerMs: Record<string, { fwd: number; both: number }> = {};
  for (let r = 0; r <= rounds; r++) {
    console.error(`  GELU+Linear: ${r === 0 ? "warm-up" : `round ${r} of ${rounds}`}`);
    for (const [name, f] of layers) {
      const fwd = await timed(() => f(x, w, bias), reps);
      const both = await timed(() => tf.grads(f)([x, w, bias], dy), reps);
      if (r === 0) continue;
      const prev = layerMs[name] ?? { fwd: Infinity, both: Infinity };
      layerMs[name] = { fwd: Math.min(prev.fwd, fwd * 1e3), both: Math.min(prev.both, both * 1e3) };
    }
  }
  tf.dispose([x, w, bias, dy]);
  console.log(
    `\nLinear [${N}, ${I}] @ [${I}, ${O}] + GELU on webgpu, best of ${rounds}, ms (${timing}):`,
  );
  console.log("| op | forward | backward (grads of x, W, b) |");
  console.log("|---|---|---|");
  for (const [name] of layers) {
    const v = layerMs[name];
    console.log(`| ${name} | ${v.fwd.toFixed(0)} | ${v.both.toFixed(0)} |`);
  }
  const record = {
    kind: "matmul-bench-webgpu",
    date: new Date().toISOString(),
    command: `deno task bench:matmul ${Deno.args.join(" ")}`.trim(),
    adapter,
    f16Kernels: f16,
    note: "lavapipe (software Vulkan on the CPU) when the adapter says llvmpipe: not GPU speeds",
    tokens,
    rounds,
    reps,
    gflops,
    layerMs,
  };
  const file = json ?? `results/bench/matmul-webgpu-${newRunId()}.json`;
  await writeFileAtomic(file, JSON.stringify(record, null, 1) + "\n");
  console.error(`record: ${file}`);
}
