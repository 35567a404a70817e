/**
 * One GPU training benchmark, in this process, for `bench/gpu/run_h200.sh` (bundled with `deno bundle`
 * so that the GPU machine needs no node_modules): SimCSE training steps of a randomly initialised BERT
 * (64 sentences = 128 sequences of 32 tokens, dropout 0.1, MLP head on [CLS], clipping at 1, AdamW) on
 * `--backend` (webgpu), in fp32 or fp16 (fp16 Linear and attention matmuls, dynamic loss scaling),
 * plus the encoding of 64 sentences. Prints one JSON line: median step seconds, steps/s, encode
 * sentences/s, and the GPU buffer bytes TF.js allocated (its buffer pool's high-water mark).
 *
 * `--adapter-info` instead prints what `navigator.gpu` offers (adapter info, features, limits) or why
 * there is none.
 *
 * Diagnostics, added to the same line: `--phases` times the forward pass alone (loss read back) and
 * loss plus gradients without the optimizer; `--submit-batch 15,256` times steps again at each
 * `WEBGPU_DEFERRED_SUBMIT_BATCH_SIZE` (dispatches per queue submit; TF.js's default is 15); `--profile`
 * runs one step under `tf.profile` (each kernel timed on the GPU with timestamp queries, so in its own
 * submit) and reports the GPU milliseconds per kernel name against the step's wall time. Every record
 * has the CPU seconds per timed step (`process.cpuUsage`, all threads).
 *
 * @example
 * ```sh
 * deno run -A bench/gpu/gpu_bench.ts --config mini --precision fp16 --steps 10 --warmup 2
 * ```
 * @module
 */
import { parseArgs } from "node:util";
import process from "node:process";
import { tf } from "../../lib/runtime/tf.ts";
import { type BackendName, useBackend } from "../../lib/kernels/backend.ts";
import { BertModel } from "../../lib/model/bert.ts";
import { seededDropout } from "../../lib/ops/dropout.ts";
import { SimcseModel } from "../../lib/simcse/simcse_model.ts";
import { MlpHead } from "../../lib/simcse/mlp_head.ts";
import { AdamW } from "../../lib/train/adamw.ts";
import { LossScaler } from "../../lib/train/loss_scaler.ts";
import { batchTensors, lossAndGrads, trainStep } from "../../lib/train/loop.ts";
import { BATCH, benchBatch, bertConfig, CONFIGS, gpuPeakTracker, SEQ } from "../_configs.ts";

async function adapterInfo(): Promise<Record<string, unknown>> {
  // deno-lint-ignore no-explicit-any
  const gpu = (globalThis.navigator as any)?.gpu;
  if (!gpu) return { adapter: null, why: "no navigator.gpu in this Deno" };
  const a = await gpu.requestAdapter({ powerPreference: "high-performance" });
  if (!a) return { adapter: null, why: "navigator.gpu.requestAdapter() returned null" };
  const limits: Record<string, number> = {};
  for (const k of ["maxStorageBufferBindingSize", "maxBufferSize", "maxComputeWorkgroupStorageSize"]) {
    limits[k] = a.limits[k];
  }
  const i = a.info ?? {};
  return {
    adapter: {
      vendor: i.vendor,
      architecture: i.architecture,
      device: i.device,
      description: i.description,
      isFallbackAdapter: i.isFallbackAdapter ?? a.isFallbackAdapter,
    },
    features: [...a.features].sort(),
    limits,
  };
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
}

/** Median seconds of the forward pass alone and of loss + gradients (no optimizer), 3 runs each. */
async function phases(
  sm: SimcseModel,
  vars: Map<string, tf.Variable>,
  batch: ReturnType<typeof benchBatch>,
  lossScale: number | undefined,
): Promise<{ forward_s: number; loss_grads_s: number }> {
  const tb = batchTensors(batch);
  const drop = (o: number) => seededDropout(7, 0, o);
  const fwd: number[] = [], lg: number[] = [];
  for (let i = 0; i < 4; i++) {
    let t0 = performance.now();
    const l = tf.tidy(() => sm.contrastiveLoss(tb, drop));
    await l.data();
    l.dispose();
    if (i > 0) fwd.push((performance.now() - t0) / 1000);
    t0 = performance.now();
    const { loss, grads } = lossAndGrads(sm, vars, tb, drop, 0, lossScale);
    await loss.data(); // the queue is in order: this read ends after every gradient's dispatch
    tf.dispose([loss, ...grads.values()]);
    if (i > 0) lg.push((performance.now() - t0) / 1000);
  }
  tf.dispose([tb.inputIds, tb.attentionMask, tb.tokenTypeIds]);
  return { forward_s: median(fwd), loss_grads_s: median(lg) };
}

/**
 * One step with every compute dispatch and queue submit counted (WebGPU's prototypes wrapped, so
 * TF.js's programs and ours alike): `issue_ms` is when the last one was recorded, so `wall_ms - issue_ms`
 * is how long the step then waited for the GPU.
 */
async function dispatchCounts(step: () => Promise<number>): Promise<Record<string, number>> {
  // deno-lint-ignore no-explicit-any
  const g = globalThis as any;
  const pass = g.GPUComputePassEncoder.prototype, queue = g.GPUQueue.prototype;
  const dispatch0 = pass.dispatchWorkgroups, submit0 = queue.submit;
  let dispatches = 0, submits = 0, last = 0;
  const t0 = performance.now();
  pass.dispatchWorkgroups = function (this: unknown, ...a: unknown[]) {
    dispatches++;
    last = performance.now();
    return dispatch0.apply(this, a);
  };
  queue.submit = function (this: unknown, ...a: unknown[]) {
    submits++;
    last = performance.now();
    return submit0.apply(this, a);
  };
  try {
    await step();
  } finally {
    pass.dispatchWorkgroups = dispatch0;
    queue.submit = submit0;
  }
  return { dispatches, submits, issue_ms: last - t0, wall_ms: performance.now() - t0 };
}

/**
 * One step under `tf.profile`: GPU milliseconds per kernel name and per WGSL program (largest first)
 * and the wall time, after {@link dispatchCounts} of another step. Programs dispatched outside a
 * profiled kernel (ours inside custom gradients) are not timed.
 */
async function profileOf(step: () => Promise<number>): Promise<Record<string, unknown>> {
  const counts = await dispatchCounts(step);
  const t0 = performance.now();
  const info = await tf.profile(async () => {
    await step();
  });
  const wallMs = performance.now() - t0;
  type Tally = Map<string, { ms: number; calls: number }>;
  const by: Tally = new Map(), programs: Tally = new Map();
  const tally = (m: Tally, name: string, ms: number) => {
    const e = m.get(name) ?? { ms: 0, calls: 0 };
    e.ms += ms;
    e.calls++;
    m.set(name, e);
  };
  let total = 0;
  for (const k of info.kernels) {
    // extraInfo: "Program: ms, Program: ms" for the WGSL programs the kernel dispatched
    for (const part of String(k.extraInfo ?? "").split(", ")) {
      const at = part.lastIndexOf(": ");
      if (at >= 0) tally(programs, part.slice(0, at), Number(part.slice(at + 2)) || 0);
    }
    const ms = typeof k.kernelTimeMs === "number" ? k.kernelTimeMs : 0;
    tally(by, k.name, ms);
    total += ms;
  }
  const top = (m: Tally) =>
    [...m].sort((a, b) => b[1].ms - a[1].ms).slice(0, 30)
      .map(([name, e]) => [name, Number(e.ms.toFixed(3)), e.calls]);
  return {
    counts,
    wall_ms: wallMs,
    kernel_ms: total,
    kernels: info.kernels.length,
    top: top(by),
    dispatches: [...programs.values()].reduce((n, e) => n + e.calls, 0),
    programs: top(programs),
  };
}

async function main(): Promise<void> {
  const { values: args } = parseArgs({
    args: Deno.args,
    options: {
      config: { type: "string", default: "mini" },
      precision: { type: "string", default: "fp32" },
      backend: { type: "string", default: "webgpu" },
      steps: { type: "string", default: "10" },
      warmup: { type: "string", default: "2" },
      "encode-batches": { type: "string", default: "5" },
      "adapter-info": { type: "boolean", default: false },
      phases: { type: "boolean", default: false },
      "submit-batch": { type: "string", default: "" },
      profile: { type: "boolean", default: false },
      help: { type: "boolean", default: false },
    },
  });
  if (args.help) {
    console.log(
      "usage: deno run -A bench/gpu/gpu_bench.ts [--config tiny|mini|small|base] [--precision fp32|fp16]\n" +
        "       [--backend webgpu] [--steps N] [--warmup N] [--encode-batches N] [--adapter-info]\n" +
        "       [--phases] [--submit-batch N,N] [--profile]",
    );
    return;
  }
  if (args["adapter-info"]) {
    if (!Deno.env.get("XDG_RUNTIME_DIR")) Deno.env.set("XDG_RUNTIME_DIR", Deno.makeTempDirSync());
    console.log(JSON.stringify(await adapterInfo()));
    return;
  }
  const dims = CONFIGS[args.config];
  if (!dims) throw new Error(`unknown config ${args.config}`);
  const fp16 = args.precision === "fp16";
  const steps = Number(args.steps), warmup = Number(args.warmup), encodes = Number(args["encode-batches"]);
  const backend = await useBackend(args.backend as BackendName);
  const H = dims[1];
  const bert = BertModel.init(
    bertConfig(args.config),
    1,
    false,
  );
  const sm = new SimcseModel(
    bert,
    {
      poolerType: "cls",
      mlpOnlyTrain: true,
      temp: 0.05,
      checkpointLayers: false,
      precision: fp16 ? "fp16" : "fp32",
    },
    MlpHead.init(H, 0.02, 2),
  );
  const vars = sm.namedVariables();
  const opt = new AdamW({ weightDecay: 0 });
  const scaler = fp16 ? new LossScaler() : undefined;
  const batch = benchBatch();
  const sample = gpuPeakTracker();
  const times: number[] = [];
  let skipped = 0, s = 0;
  const step = async () => {
    const t0 = performance.now();
    const r = await trainStep(sm, vars, opt, batch, undefined, {
      lr: 3e-5,
      maxGradNorm: 1,
      dropoutAt: (o) => seededDropout(1, s, o),
      padId: 0,
      scaler,
    });
    if (r.skipped) skipped++;
    sample();
    const ms = performance.now() - t0;
    console.error(`  ${args.config} ${args.precision} step ${s}: ${ms.toFixed(0)} ms`);
    s++;
    return ms / 1000;
  };
  for (let w = 0; w < warmup; w++) await step();
  const warmAt = performance.now();
  const cpu0 = process.cpuUsage();
  for (let i = 0; i < steps; i++) times.push(await step());
  const cpu1 = process.cpuUsage(cpu0);
  const extra: Record<string, unknown> = {
    cpu_s_per_step: (cpu1.user + cpu1.system) / 1e6 / steps,
    warm_at_s: warmAt / 1000, // process time when warm-up ended (for a --cpu-prof window)
  };
  if (args.phases) extra.phases = await phases(sm, vars, batch, scaler?.scale);
  if (args["submit-batch"]) {
    const flag = "WEBGPU_DEFERRED_SUBMIT_BATCH_SIZE";
    const before = tf.env().get(flag);
    const bySize: Record<string, number> = {};
    for (const n of args["submit-batch"].split(",").map(Number)) {
      tf.env().set(flag, n);
      await step();
      bySize[n] = median([await step(), await step(), await step()]);
    }
    tf.env().set(flag, before);
    extra.submit_batch_step_s = bySize;
  }
  if (args.profile) extra.profile = await profileOf(step);
  const enc = {
    inputIds: tf.tensor2d(batch.inputIds.subarray(0, BATCH * SEQ), [BATCH, SEQ], "int32"),
    attentionMask: tf.tensor2d(batch.attentionMask.subarray(0, BATCH * SEQ), [BATCH, SEQ], "int32"),
    tokenTypeIds: tf.tensor2d(batch.tokenTypeIds.subarray(0, BATCH * SEQ), [BATCH, SEQ], "int32"),
  };
  const encTimes: number[] = [];
  for (let e = 0; e <= encodes; e++) {
    const t0 = performance.now();
    const z = tf.tidy(() => sm.embed(enc));
    await z.data();
    z.dispose();
    if (e > 0) encTimes.push((performance.now() - t0) / 1000);
  }
  const stepS = median(times);
  console.log(JSON.stringify({
    side: "ours",
    config: args.config,
    precision: args.precision,
    backend,
    steps,
    warmup,
    train_s: times,
    median_step_s: stepS,
    steps_per_s: 1 / stepS,
    encode_sent_per_s: BATCH / median(encTimes),
    peak_gpu_bytes: sample() ?? 0,
    skipped_steps: skipped,
    ...extra,
  }));
  sm.dispose();
}

if (import.meta.main) await main();
