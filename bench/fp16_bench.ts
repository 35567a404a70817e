/**
 * `deno run -A bench/fp16_bench.ts [--backend auto|wasm|cpu|...] [--steps N] [--rss-steps N]
 *   [--train-steps N] [--eval-steps N] [--batch N] [--data-dir DIR] [--out DIR]`
 *
 * FP32 vs FP16 mixed precision (issue 4; docs/SIMCSE.md §d.1, §d.4), side by side, with FP16/FP32 ratios:
 *
 * 1. Training-step speed and tracked tensor memory, in one process: two copies of the same model (the
 *    reproduction `cpu` preset: BERT L2/H128, 64 sentence pairs per step, max length 32), stepping on
 *    the same batches with the same dropout masks, FP32 and FP16 alternating (ABBA order, so load from
 *    elsewhere on the machine hits both alike). Speed is the median step time. Memory is the peak of
 *    `tf.memory().numBytes` during one step (`tf.profile`), as the model's weights plus the step's
 *    working set (activations saved for the backward pass, gradients).
 * 2. Peak process RSS: one fresh child process per precision (a wasm heap never shrinks, so RSS could
 *    not tell the two apart within one process), each running `--rss-steps` steps.
 * 3. A short training run per precision with the real trainer (`train()`, STS-B dev every
 *    `--eval-steps`), reporting the best and the last STS-B dev Spearman; its run records go to
 *    `<out>/<runId>/`.
 *
 * On webgpu, part 2 also reports each precision's peak GPU buffer bytes (TF.js's buffer pool, sampled
 * after every step of the fresh process), and the record names the adapter. `--batch N` overrides the
 * preset's 64 pairs per step (a software adapter is slow; the record states the batch).
 *
 * Prints a table and writes `<out>/fp16-<date>.json` (default `<out>` = `results/bench`; on webgpu
 * `results/bench/webgpu/`, or `results/bench/webgpu-software/` for a software adapter such as Mesa
 * lavapipe, whose timings are correctness evidence only and must not feed the CPU records' figure;
 * docs/GPU.md). The Jittor reference (RTX 3090): FP32 6.62 it/s, 6.16 GB; FP16 8.76 it/s, 4.04 GB.
 *
 * @module
 */
import { main, nonNegativeInt, parseFlags, positiveInt } from "../lib/app/cli.ts";
import { InputError } from "../lib/runtime/errors.ts";
import { tf } from "../lib/runtime/tf.ts";
import { parseBackend, useBackend } from "../lib/kernels/backend.ts";
import { resolveDataDir } from "../lib/eval/sts_data.ts";
import { writeFileAtomic } from "../lib/runtime/atomic_write.ts";
import { BertModel } from "../lib/model/bert.ts";
import { seededDropout } from "../lib/ops/dropout.ts";
/** The two precisions this benchmark compares. */
type Precision = "fp32" | "fp16";
import { BertTokenizer } from "../lib/tokenizer/bert_tokenizer.ts";
import { bertBaseUncasedVocabText } from "../lib/tokenizer/npm_vocab.ts";
import {
  batchIndices,
  collate,
  type CollatedBatch,
  epochOrder,
  tokenizeExamples,
} from "../lib/data/batches.ts";
import { loadTrainFile } from "../lib/data/train_corpus.ts";
import { newRunId } from "../lib/results/run_record.ts";
import { AdamW } from "../lib/train/adamw.ts";
import { LossScaler } from "../lib/train/loss_scaler.ts";
import type { SimcseModel } from "../lib/simcse/simcse_model.ts";
import type { TrainConfig } from "../lib/train/train_config.ts";
import { trainStep } from "../lib/train/loop.ts";
import { buildModel, buildSimcse, train } from "../lib/train/run.ts";
import { bertTinyDir, preset } from "../experiments/reproduction/config.ts";
import { portableCommand } from "../experiments/reproduction/tables.ts";
import { exists } from "../lib/runtime/fs.ts";
import { adapterFields, adapterLine, benchRecordDir, gpuPeakTracker, webgpuAdapterInfo } from "./_configs.ts";

const USAGE = `usage: deno run -A bench/fp16_bench.ts [--backend auto|tensorflow|webgpu|wasm|cpu] [--steps N]
       [--rss-steps N] [--train-steps N] [--eval-steps N] [--batch N] [--data-dir DIR] [--out DIR]`;

/** The reproduction `cpu` preset (pretrained BERT-tiny when fetched, else random init). */
async function benchConfig(dataDir: string): Promise<TrainConfig> {
  const cfg = preset("cpu", dataDir, await exists(`${bertTinyDir(dataDir)}/config.json`));
  if (cfg.randomInit) {
    const dir = cfg.randomInit.tokenizerDir;
    if (!(await exists(`${dir}/vocab.txt`))) {
      await writeFileAtomic(`${dir}/vocab.txt`, await bertBaseUncasedVocabText());
      await writeFileAtomic(`${dir}/tokenizer_config.json`, JSON.stringify({ do_lower_case: true }) + "\n");
    }
  }
  return cfg;
}

/** A SimCSE model as the trainer builds it (same seeds, so two calls give identical weights). */
async function buildSimcseModel(
  cfg: TrainConfig,
  precision: Precision,
): Promise<{ sm: SimcseModel; bert: BertModel; tokenizer: BertTokenizer }> {
  const built = await buildModel(cfg);
  if (!(built.encoder instanceof BertModel) || !(built.tokenizer instanceof BertTokenizer)) {
    built.encoder.dispose();
    throw new Error(`${cfg.modelDir}: the benchmark expects a BERT checkpoint`);
  }
  return { sm: buildSimcse(built.encoder, cfg, precision), bert: built.encoder, tokenizer: built.tokenizer };
}

/** The first `count` training batches of the trainer's epoch-0 order. */
async function batches(cfg: TrainConfig, tokenizer: BertTokenizer, count: number): Promise<CollatedBatch[]> {
  const examples = await loadTrainFile(cfg.trainFile);
  const data = tokenizeExamples(examples, tokenizer, cfg.maxSeqLength);
  const order = epochOrder(examples.rows.length, cfg.seed, 0);
  return Array.from(
    { length: count },
    (_, s) => collate(data, batchIndices(order, s, cfg.batchSize), tokenizer.info.padId),
  );
}

/** One precision's model, optimizer and (fp16) scaler. */
interface Runner {
  precision: Precision;
  sm: SimcseModel;
  bert: BertModel;
  vars: Map<string, tf.Variable>;
  opt: AdamW;
  scaler?: LossScaler;
}

async function runner(
  cfg: TrainConfig,
  precision: Precision,
): Promise<Runner & { tokenizer: BertTokenizer }> {
  const { sm, bert, tokenizer } = await buildSimcseModel(cfg, precision);
  return {
    precision,
    sm,
    bert,
    tokenizer,
    vars: sm.namedVariables(),
    opt: new AdamW({ weightDecay: cfg.weightDecay }),
    scaler: precision === "fp16" ? new LossScaler() : undefined,
  };
}

function step(r: Runner, cfg: TrainConfig, batch: CollatedBatch, s: number) {
  return trainStep(r.sm, r.vars, r.opt, batch, undefined, {
    lr: cfg.learningRate,
    maxGradNorm: cfg.maxGradNorm,
    dropoutAt: (off) => seededDropout(cfg.seed, s, off),
    padId: r.bert.paddingIdx,
    scaler: r.scaler,
  });
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
}

function paramBytes(vars: Map<string, tf.Variable>): number {
  let n = 0;
  for (const v of vars.values()) n += v.size * 4;
  return n;
}

interface StepBench {
  msPerStep: number;
  /** The untimed warm-up step (on webgpu it compiles the shaders). */
  firstStepMs: number;
  stepsPerSecond: number;
  paramBytes: number;
  stepWorkingSetBytes: number;
  peakTrackedBytes: number;
  skippedSteps?: number;
}

/** Part 1: both precisions in this process, alternating. */
async function stepBench(cfg: TrainConfig, steps: number): Promise<Record<Precision, StepBench>> {
  const a = await runner(cfg, "fp32"), b = await runner(cfg, "fp16");
  const data = await batches(cfg, a.tokenizer, steps + 2);
  const times: Record<Precision, number[]> = { fp32: [], fp16: [] };
  const firstMs = {} as Record<Precision, number>; // the warm-up step (on webgpu: shader compilation)
  for (let s = 0; s <= steps; s++) { // s = 0 is a warm-up
    for (const r of s % 2 === 0 ? [a, b] : [b, a]) {
      const t0 = performance.now();
      await step(r, cfg, data[s], s);
      if (s > 0) times[r.precision].push(performance.now() - t0);
      else firstMs[r.precision] = performance.now() - t0;
    }
    const ms = (p: Precision) => (s > 0 ? times[p].at(-1)! : firstMs[p]).toFixed(0);
    console.error(`  step ${s}${s === 0 ? " (warm-up)" : ""}: fp32 ${ms("fp32")} ms, fp16 ${ms("fp16")} ms`);
  }
  const out = {} as Record<Precision, StepBench>;
  for (const r of [a, b]) {
    const start = tf.memory().numBytes;
    const prof = await tf.profile(async () => {
      await step(r, cfg, data[steps + 1], steps + 1);
    });
    const ms = median(times[r.precision]);
    out[r.precision] = {
      msPerStep: ms,
      stepsPerSecond: 1000 / ms,
      firstStepMs: firstMs[r.precision],
      paramBytes: paramBytes(r.vars),
      stepWorkingSetBytes: prof.peakBytes - start,
      peakTrackedBytes: paramBytes(r.vars) + prof.peakBytes - start,
      ...(r.scaler ? { skippedSteps: r.scaler.skippedSteps } : {}),
    };
  }
  a.sm.dispose();
  b.sm.dispose();
  return out;
}

interface RssResult {
  precision: Precision;
  rssBeforeBytes: number;
  peakRssBytes: number;
  /** GPU backends: the peak of the GPU buffer bytes TF.js allocated. */
  peakGpuBytes?: number;
}

/** Child mode: one precision, `steps` steps, peak RSS sampled after each. */
async function rssChild(cfg: TrainConfig, precision: Precision, steps: number): Promise<RssResult> {
  const r = await runner(cfg, precision);
  const data = await batches(cfg, r.tokenizer, steps);
  const rssBefore = Deno.memoryUsage().rss;
  const gpuBytes = gpuPeakTracker();
  let peak = rssBefore;
  for (let s = 0; s < steps; s++) {
    await step(r, cfg, data[s], s);
    peak = Math.max(peak, Deno.memoryUsage().rss);
    gpuBytes();
  }
  const peakGpuBytes = gpuBytes();
  return {
    precision,
    rssBeforeBytes: rssBefore,
    peakRssBytes: peak,
    ...(peakGpuBytes === undefined ? {} : { peakGpuBytes }),
  };
}

/** Part 2: a fresh process per precision. */
async function rssBench(
  backend: string,
  dataDir: string,
  steps: number,
  batch: number,
): Promise<Record<Precision, RssResult>> {
  const out = {} as Record<Precision, RssResult>;
  for (const p of ["fp32", "fp16"] as const) {
    const cmd = new Deno.Command(Deno.execPath(), {
      args: [
        "run",
        "-A",
        new URL(import.meta.url).pathname,
        "--child",
        p,
        "--rss-steps",
        String(steps),
        "--backend",
        backend,
        "--data-dir",
        dataDir,
        "--batch",
        String(batch),
      ],
      stdout: "piped",
      stderr: "inherit",
    });
    const res = await cmd.output();
    if (!res.success) throw new Error(`RSS child (${p}) failed with code ${res.code}`);
    const lines = new TextDecoder().decode(res.stdout).trim().split("\n");
    out[p] = JSON.parse(lines[lines.length - 1]);
  }
  return out;
}

interface TrainBench {
  runDir: string;
  bestStsbDev: number | null;
  bestStep: number | null;
  lastStsbDev: number;
  stepsPerSecond: number;
  skippedSteps?: number;
  finalLossScale?: number;
}

/** Part 3: the trainer, both precisions, same config otherwise. */
async function trainBench(
  cfg: TrainConfig,
  backend: string,
  outDir: string,
  steps: number,
  evalSteps: number,
): Promise<Record<Precision, TrainBench>> {
  const out = {} as Record<Precision, TrainBench>;
  for (const p of ["fp32", "fp16"] as const) {
    const tmp = await Deno.makeTempDir({ prefix: "fp16-bench-" });
    const c: TrainConfig = {
      ...cfg,
      experiment: outDir.split("/").pop()!,
      preset: `${cfg.preset}-${p}`,
      outputDir: tmp,
      maxSteps: steps,
      evalSteps,
      saveSteps: steps,
      finalEvalTasks: [],
      evalInitialModel: false,
      precision: p,
    };
    console.error(`  training ${steps} steps in ${p} ...`);
    const r = await train(c, {
      backend,
      resultsDir: outDir.split("/").slice(0, -1).join("/") || ".",
      progress: false,
    });
    const log = Deno.readTextFileSync(`${r.runDir}/metrics.jsonl`).trim().split("\n").map((l) =>
      JSON.parse(l)
    );
    const evals = log.filter((e) => e.kind === "eval");
    const summary = JSON.parse(Deno.readTextFileSync(`${r.runDir}/summary.json`));
    out[p] = {
      runDir: r.runDir,
      bestStsbDev: r.bestMetric,
      bestStep: r.bestStep,
      lastStsbDev: evals[evals.length - 1].STSBenchmark,
      stepsPerSecond: r.stepsPerSecond,
      ...(p === "fp16" ? { skippedSteps: summary.skippedSteps, finalLossScale: summary.finalLossScale } : {}),
    };
    await Deno.remove(tmp, { recursive: true });
  }
  return out;
}

const MB = (b: number) => (b / 2 ** 20).toFixed(1);
const ratio = (a: number, b: number) => (a / b).toFixed(3);

if (import.meta.main) {
  await main(async () => {
    const { values } = parseFlags(Deno.args, {
      backend: { type: "string", default: "auto" },
      steps: { type: "string" },
      "rss-steps": { type: "string" },
      "train-steps": { type: "string" },
      "eval-steps": { type: "string" },
      batch: { type: "string" },
      "data-dir": { type: "string" },
      out: { type: "string" },
      child: { type: "string" },
    }, USAGE);
    // Every numeric flag is checked before any work starts.
    const rssSteps = positiveInt(values["rss-steps"] as string | undefined, "rss-steps", 3);
    const steps = positiveInt(values.steps as string | undefined, "steps", 6);
    const trainSteps = nonNegativeInt(values["train-steps"] as string | undefined, "train-steps", 50);
    const evalSteps = positiveInt(values["eval-steps"] as string | undefined, "eval-steps", 25);
    const batchFlag = values.batch === undefined
      ? undefined
      : positiveInt(values.batch as string, "batch", 64);
    if (values.child !== undefined && values.child !== "fp32" && values.child !== "fp16") {
      throw new InputError(`--child must be fp32 or fp16, got '${values.child}'`);
    }
    const dataDir = resolveDataDir(values["data-dir"] as string | undefined);
    const backend = await useBackend(parseBackend(values.backend as string));
    const base = await benchConfig(dataDir);
    const cfg: TrainConfig = batchFlag === undefined ? base : { ...base, batchSize: batchFlag };
    if (values.child) {
      const p = values.child as Precision;
      console.log(JSON.stringify(await rssChild(cfg, p, rssSteps)));
      return;
    }
    const adapter = backend === "webgpu" ? await webgpuAdapterInfo() : undefined;
    const outDir = ((values.out as string | undefined) ?? benchRecordDir("results/bench", adapter))
      .replace(/\/+$/, "");
    if (adapter) console.error(adapterLine(adapter));
    console.error(
      `fp16 bench: preset ${cfg.preset}, backend ${backend}, batch ${cfg.batchSize} pairs, max length ${cfg.maxSeqLength}`,
    );

    console.error(`[1/3] step speed and tracked memory (${steps} timed steps each, alternating)`);
    const sb = await stepBench(cfg, steps);
    console.error(`[2/3] peak RSS (a fresh process per precision, ${rssSteps} steps each)`);
    const rss = await rssBench(backend, dataDir, rssSteps, cfg.batchSize);
    let tb: Record<Precision, TrainBench> | undefined;
    if (trainSteps > 0) {
      console.error(`[3/3] short training runs (${trainSteps} steps, STS-B dev every ${evalSteps})`);
      tb = await trainBench(cfg, backend, outDir, trainSteps, evalSteps);
    }

    const rows: [string, string, string, string][] = [
      [
        "training steps/s (median step)",
        sb.fp32.stepsPerSecond.toFixed(3),
        sb.fp16.stepsPerSecond.toFixed(3),
        ratio(sb.fp16.stepsPerSecond, sb.fp32.stepsPerSecond),
      ],
      [
        "first step s (warm-up; on webgpu it compiles the shaders)",
        (sb.fp32.firstStepMs / 1000).toFixed(1),
        (sb.fp16.firstStepMs / 1000).toFixed(1),
        ratio(sb.fp16.firstStepMs, sb.fp32.firstStepMs),
      ],
      [
        "peak tracked tensor MiB (weights + step)",
        MB(sb.fp32.peakTrackedBytes),
        MB(sb.fp16.peakTrackedBytes),
        ratio(sb.fp16.peakTrackedBytes, sb.fp32.peakTrackedBytes),
      ],
      [
        "  of which step working set MiB",
        MB(sb.fp32.stepWorkingSetBytes),
        MB(sb.fp16.stepWorkingSetBytes),
        ratio(sb.fp16.stepWorkingSetBytes, sb.fp32.stepWorkingSetBytes),
      ],
      [
        "peak process RSS MiB (fresh process)",
        MB(rss.fp32.peakRssBytes),
        MB(rss.fp16.peakRssBytes),
        ratio(rss.fp16.peakRssBytes, rss.fp32.peakRssBytes),
      ],
    ];
    if (rss.fp32.peakGpuBytes !== undefined && rss.fp16.peakGpuBytes !== undefined) {
      rows.push([
        "peak GPU buffer MiB (fresh process)",
        MB(rss.fp32.peakGpuBytes),
        MB(rss.fp16.peakGpuBytes),
        ratio(rss.fp16.peakGpuBytes, rss.fp32.peakGpuBytes),
      ]);
    }
    if (tb) {
      rows.push(
        [
          `STS-B dev, best of ${trainSteps} steps`,
          String(tb.fp32.bestStsbDev),
          String(tb.fp16.bestStsbDev),
          `Δ ${(tb.fp16.bestStsbDev! - tb.fp32.bestStsbDev!).toFixed(2)}`,
        ],
        [
          `STS-B dev at step ${trainSteps}`,
          String(tb.fp32.lastStsbDev),
          String(tb.fp16.lastStsbDev),
          `Δ ${(tb.fp16.lastStsbDev - tb.fp32.lastStsbDev).toFixed(2)}`,
        ],
      );
    }
    const table = [
      "| | FP32 | FP16 | FP16/FP32 |",
      "|---|---|---|---|",
      ...rows.map((r) => `| ${r.join(" | ")} |`),
    ].join("\n");
    console.log(table);
    if (adapter) console.log(adapterLine(adapter));
    if (tb) {
      console.log(
        `fp16 run: ${tb.fp16.skippedSteps} skipped steps, final loss scale ${tb.fp16.finalLossScale}`,
      );
    }

    const record = {
      kind: "fp16-bench",
      date: new Date().toISOString(),
      command: portableCommand(`deno run -A bench/fp16_bench.ts ${Deno.args.join(" ")}`.trim()),
      backend,
      deno: Deno.version.deno,
      cpus: navigator.hardwareConcurrency,
      loadavg: Deno.loadavg(),
      gpu: adapter
        ? `${adapter.description}${adapter.isFallbackAdapter ? " (software adapter, Mesa lavapipe)" : ""}`
        : "none (CPU-only machine)",
      ...adapterFields(adapter),
      preset: cfg.preset,
      model: cfg.randomInit ?? cfg.modelDir,
      batchSize: cfg.batchSize,
      maxSeqLength: cfg.maxSeqLength,
      stepBench: sb,
      rss,
      train: tb,
      table,
      jittorReference: {
        gpu: "RTX 3090",
        fp32: { itPerS: 6.62, memGB: 6.16 },
        fp16: { itPerS: 8.76, memGB: 4.04 },
      },
    };
    const file = `${outDir}/fp16-${newRunId()}.json`;
    await writeFileAtomic(file, JSON.stringify(record, null, 2) + "\n");
    console.error(`record: ${file}`);
  });
}
