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
 * @example
 * ```sh
 * deno run -A bench/gpu/gpu_bench.ts --config mini --precision fp16 --steps 10 --warmup 2
 * ```
 * @module
 */
import { parseArgs } from "node:util";
import { tf } from "../../lib/runtime/tf.ts";
import { type BackendName, useBackend } from "../../lib/kernels/backend.ts";
import { BertModel } from "../../lib/model/bert.ts";
import { seededDropout } from "../../lib/ops/dropout.ts";
import { SimcseModel } from "../../lib/simcse/simcse_model.ts";
import { MlpHead } from "../../lib/simcse/mlp_head.ts";
import { AdamW } from "../../lib/train/adamw.ts";
import { LossScaler } from "../../lib/train/loss_scaler.ts";
import { trainStep } from "../../lib/train/loop.ts";
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
      help: { type: "boolean", default: false },
    },
  });
  if (args.help) {
    console.log(
      "usage: deno run -A bench/gpu/gpu_bench.ts [--config tiny|mini|small|base] [--precision fp32|fp16]\n" +
        "       [--backend webgpu] [--steps N] [--warmup N] [--encode-batches N] [--adapter-info]",
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
  let skipped = 0;
  for (let s = 0; s < warmup + steps; s++) {
    const t0 = performance.now();
    const r = await trainStep(sm, vars, opt, batch, undefined, {
      lr: 3e-5,
      maxGradNorm: 1,
      dropoutAt: (o) => seededDropout(1, s, o),
      padId: 0,
      scaler,
    });
    if (s >= warmup) times.push((performance.now() - t0) / 1000);
    if (r.skipped) skipped++;
    sample();
    console.error(`  ${args.config} ${args.precision} step ${s}: ${(performance.now() - t0).toFixed(0)} ms`);
  }
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
  }));
  sm.dispose();
}

if (import.meta.main) await main();
