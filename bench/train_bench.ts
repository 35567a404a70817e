/**
 * `deno task bench` (`deno run -A bench/train_bench.ts`): CPU training and encoding speed against
 * PyTorch on the same machine, in the same run. For each BERT config (tiny L2/H128, mini L4/H256,
 * small L4/H512, base L12/H768; GPT-2 configs gpt2-mini L4/H256 and gpt2 L12/H768 with avg pooling)
 * and each backend (`cpu` = TF.js cpu + fused C/JS kernels + BLAS sgemm, `cpu-ckpt` = the same with
 * activation checkpointing, `wasm`), a child process times SimCSE training steps (64 sentences = 128
 * sequences of length 32, fp32, dropout 0.1, MLP head on [CLS], clipping at `--max-grad-norm`, AdamW)
 * and the encoding of 64 sentences, and reports its peak RSS; `reference/bench_torch.py` does the same
 * with PyTorch (1 and 2 threads) when `/usr/bin/python3` has torch.
 *
 * **Interleaved rounds.** On a shared machine the load drifts within seconds, so the children stay
 * alive and take turns: after each side's warm-up steps, every round runs one step of ours, then one
 * of each PyTorch child (the order rotates per round), and likewise for encoding. Each side's median
 * over the rounds is reported, PyTorch's as the better of its thread counts; the ratio is
 * PyTorch's median time over ours (> 1: we are faster). Only one child computes at a time.
 * Prints a table and writes a record to `results/bench/<timestamp>.json` with every timing; a run with a
 * webgpu backend writes it to `results/bench/webgpu/` instead, or to `results/bench/webgpu-software/`
 * when the adapter is a software one (Mesa lavapipe: correctness only, its timings are no GPU speed;
 * docs/GPU.md), so that README's CPU table never shows them. On webgpu the table adds the peak GPU
 * buffer bytes, and FP16/FP32 ratios follow it for each `X` / `X-fp16` pair.
 *
 * Flags: `--configs tiny,mini,small,base` `--backends cpu,wasm` (also `webgpu`; suffix `-fp16` or `-bf16` for half Linear and
 * attention matmuls (fp16 with loss scaling), e.g. `webgpu,webgpu-fp16,cpu-bf16`; on webgpu the table adds the GPU buffer bytes TF.js
 * allocated, its pool's high-water mark) `--steps 6` (timed rounds) `--warmup 2`
 * `--encode-batches 20` `--batch 64` (sentences per step and per encode; fewer only with `--no-torch`,
 * e.g. on lavapipe) `--max-grad-norm 1` (0 = no clipping, both sides) `--torch-threads best`
 * (1 and 2; or one number, 0 = torch default) `--no-torch` `--profile` (per-kernel profile of our last timed
 * cpu step, and its native calls with their CPU time: `ffi_profile.ts`) `--openblas-coretype NAME` (sets
 * `OPENBLAS_CORETYPE` for every child, ours and PyTorch alike, e.g. SkylakeX on AVX-512 CPUs that Debian's
 * OpenBLAS 0.3.21 does not recognise; the record states it) `--together` (all of a config's backends of ours stay alive and take turns in the
 * same rounds as PyTorch, so that their ratios to one another, such as bf16 or fp16 over fp32, come from
 * the same minutes too; it needs the memory of all children at once) `--no-memory-check` (the bench
 * otherwise refuses, in one line, a run whose processes would not fit in `MemAvailable` by the peaks
 * that earlier records of the same config measured: lib/results/bench_memory.ts). Each row also gives
 * process CPU seconds per step, which show how much a busy machine inflated the wall times.
 *
 * @example
 * ```sh
 * deno run -A bench/train_bench.ts --configs tiny,mini --backends cpu
 * ```
 * @module
 */
import { tf } from "../lib/runtime/tf.ts";
import { cpuAcceleration } from "../lib/kernels/mod.ts";
import { type BackendName, parseBackend, useBackend } from "../lib/kernels/backend.ts";
import { BertModel } from "../lib/model/bert.ts";
import { type Gpt2Config, Gpt2Model } from "../lib/model/gpt2.ts";
import { seededDropout } from "../lib/ops/dropout.ts";
import { SimcseModel } from "../lib/simcse/simcse_model.ts";
import { MlpHead } from "../lib/simcse/mlp_head.ts";
import { AdamW } from "../lib/train/adamw.ts";
import { trainStep } from "../lib/train/loop.ts";
import { LossScaler } from "../lib/train/loss_scaler.ts";
import { writeFileAtomic } from "../lib/runtime/atomic_write.ts";
import { startKernelProfile, stopKernelProfile } from "./kernel_profile.ts";
import { type FfiTime, startFfiProfile, stopFfiProfile } from "./ffi_profile.ts";
import { main as cliMain, nonNegativeInt, numberFlag, parseFlags, positiveInt } from "../lib/app/cli.ts";
import { InputError } from "../lib/runtime/errors.ts";
import { peersFor } from "../lib/results/bench_table.ts";
import {
  knownPeaks,
  memAvailable,
  memoryNeed,
  type MemoryPlan,
  memoryVerdict,
  recordRows,
} from "../lib/results/bench_memory.ts";
import {
  adapterFields,
  type AdapterInfo,
  adapterLine,
  BATCH,
  benchBatch,
  benchRecordDir,
  bertConfig,
  CONFIGS,
  gpuPeakTracker,
  SEQ,
  webgpuAdapterInfo,
} from "./_configs.ts";

const USAGE =
  `usage: deno task bench [--configs tiny,mini,small,base,gpt2-mini,gpt2] [--backends cpu,cpu-ckpt,wasm]
       [--steps N] [--warmup N] [--encode-batches N] [--batch N] [--max-grad-norm X] [--torch-threads best|N]
       [--torch-precisions fp32,bf16] [--no-torch] [--profile] [--openblas-coretype NAME] [--together]
       [--no-memory-check]`;

function isGpt2(name: string): boolean {
  return name.startsWith("gpt2");
}

function gpt2Config(name: string): Gpt2Config {
  const [L, H] = CONFIGS[name];
  return {
    vocabSize: 50257,
    hiddenSize: H,
    numHiddenLayers: L,
    numAttentionHeads: H / 64,
    intermediateSize: 4 * H,
    nInner: null,
    nPositions: 1024,
    nCtx: 1024,
    maxPositionEmbeddings: 1024,
    activationFunction: "gelu_new",
    residPdrop: 0.1,
    embdPdrop: 0.1,
    attnPdrop: 0.1,
    layerNormEps: 1e-5,
    initializerRange: 0.02,
    bosTokenId: 50256,
    eosTokenId: 50256,
  };
}

/** What one side (one of our backends, or PyTorch with a thread count) measured in a config. */
interface SideResult {
  label: string;
  trainS: number[];
  trainCpuS: number[];
  /** Warm-up step times (the first includes shader compilation on webgpu). */
  warmupS?: number[];
  encodeS: number[];
  peakRssBytes?: number;
  /** webgpu: GPU buffer bytes allocated by TF.js (its pool keeps them: the high-water mark). */
  peakGpuBytes?: number;
  blas?: string;
  profile?: { kernel: string; ms: number; calls: number }[];
  /** With `--profile`: the native calls of the same step (`ffi_profile.ts`). */
  ffi?: FfiTime[];
  info?: Record<string, unknown>;
  error?: string;
}

/** user + system CPU seconds of this process (Linux), or NaN. */
function cpuSeconds(): number {
  try {
    const f = Deno.readTextFileSync("/proc/self/stat").split(") ")[1].split(" ");
    return (Number(f[11]) + Number(f[12])) / 100;
  } catch {
    return NaN;
  }
}

function peakRss(): number {
  try {
    const m = /VmHWM:\s+(\d+) kB/.exec(Deno.readTextFileSync("/proc/self/status"));
    if (m) return Number(m[1]) * 1024;
  } catch {
    // not Linux
  }
  return Deno.memoryUsage().rss;
}

/** Our side of the protocol (see the module doc): build the model, then answer commands on stdin. */
async function serveChild(
  config: string,
  backend: string,
  maxGradNorm: number,
  sentences: number,
): Promise<void> {
  const say = (o: unknown) => console.log(JSON.stringify(o));
  let sm: SimcseModel;
  let vars: Map<string, tf.Variable>;
  const opt = new AdamW({ weightDecay: 0 });
  const batch = benchBatch(sentences);
  let blas: string | undefined;
  let adapter: AdapterInfo | undefined;
  // Suffixes: "-ckpt" activation checkpointing; "-fp16" fp16 Linear/attention matmuls with loss scaling;
  // "-bf16" bf16 ones (no scaling).
  const precision = /-fp16\b/.test(backend) ? "fp16" : /-bf16\b/.test(backend) ? "bf16" : "fp32";
  const scaler = precision === "fp16" ? new LossScaler() : undefined;
  const gpuBytes = gpuPeakTracker();
  try {
    const checkpointLayers = /-ckpt\b/.test(backend); // "cpu-ckpt": the cpu backend with activation checkpointing
    await useBackend(backend.replace(/(-ckpt|-fp16|-bf16)+$/, "") as BackendName);
    if (backend.startsWith("webgpu")) adapter = await webgpuAdapterInfo();
    const acc = cpuAcceleration();
    if (backend.startsWith("cpu")) {
      blas = acc?.blas ? `${acc.blas.config} (core ${acc.blas.corename})` : `none: ${acc?.blasReason}`;
    }
    sm = isGpt2(config)
      ? new SimcseModel(Gpt2Model.init(gpt2Config(config), 1), {
        poolerType: "avg",
        mlpOnlyTrain: false,
        temp: 0.05,
        checkpointLayers,
        precision,
      })
      : new SimcseModel(
        BertModel.init(bertConfig(config), 1, false),
        { poolerType: "cls", mlpOnlyTrain: true, temp: 0.05, checkpointLayers, precision },
        MlpHead.init(bertConfig(config).hiddenSize, 0.02, 2),
      );
    vars = sm.namedVariables();
  } catch (e) {
    say({ error: e instanceof Error ? e.message.split("\n")[0] : String(e) });
    return;
  }
  say({ ready: true, blas, adapter });
  const enc = {
    inputIds: tf.tensor2d(batch.inputIds.subarray(0, sentences * SEQ), [sentences, SEQ], "int32"),
    attentionMask: tf.tensor2d(batch.attentionMask.subarray(0, sentences * SEQ), [sentences, SEQ], "int32"),
    tokenTypeIds: tf.tensor2d(batch.tokenTypeIds.subarray(0, sentences * SEQ), [sentences, SEQ], "int32"),
  };
  let step = 0;
  for await (const line of Deno.stdin.readable.pipeThrough(new TextDecoderStream()).pipeThrough(lines())) {
    const cmd = line.trim();
    try {
      if (cmd === "train" || cmd === "train-profile") {
        const prof = cmd === "train-profile";
        if (prof) {
          startKernelProfile();
          startFfiProfile();
        }
        const c0 = cpuSeconds(), t0 = performance.now();
        const s = step++;
        await trainStep(sm, vars, opt, batch, undefined, {
          lr: 3e-5,
          maxGradNorm,
          dropoutAt: (o) => seededDropout(1, s, o),
          padId: 0,
          scaler,
          skipNonFinite: precision === "bf16",
        });
        gpuBytes();
        const out: Record<string, unknown> = {
          train_s: (performance.now() - t0) / 1000,
          cpu_s: cpuSeconds() - c0,
        };
        if (prof) {
          out.profile = stopKernelProfile().slice(0, 25).map((k) => ({ ...k, ms: Math.round(k.ms) }));
          const round1 = (v: number) => Math.round(v * 10) / 10;
          out.ffi = stopFfiProfile().slice(0, 25).map((f) => ({
            ...f,
            ms: round1(f.ms),
            cpuMs: round1(f.cpuMs),
          }));
        }
        say(out);
      } else if (cmd === "encode") {
        const t0 = performance.now();
        const emb = tf.tidy(() => sm.embed(enc, precision)); // the row's precision, as PyTorch's autocast
        await emb.data();
        emb.dispose();
        say({ encode_s: (performance.now() - t0) / 1000 });
      } else if (cmd === "done") {
        say({ peak_rss_bytes: peakRss(), peak_gpu_bytes: gpuBytes() });
        return;
      } else say({ error: `unknown command '${cmd}'` });
    } catch (e) {
      say({ error: e instanceof Error ? e.message.split("\n")[0] : String(e), peak_rss_bytes: peakRss() });
      return;
    }
  }
}

/** A TransformStream splitting text into lines. */
function lines(): TransformStream<string, string> {
  let rest = "";
  return new TransformStream({
    transform(chunk, ctl) {
      const parts = (rest + chunk).split("\n");
      rest = parts.pop()!;
      for (const p of parts) ctl.enqueue(p);
    },
    flush(ctl) {
      if (rest) ctl.enqueue(rest);
    },
  });
}

/** A child process that answers one JSON line per command line (ours or PyTorch's `--serve`). */
class Peer {
  readonly result: SideResult;
  private proc: Deno.ChildProcess;
  private writer: WritableStreamDefaultWriter<Uint8Array>;
  private reader: ReadableStreamDefaultReader<string>;
  private stderrTail: Promise<string>;
  private dead = false;

  constructor(label: string, cmd: string[], env: Record<string, string>) {
    this.result = { label, trainS: [], trainCpuS: [], encodeS: [] };
    this.proc = new Deno.Command(cmd[0], {
      args: cmd.slice(1),
      env,
      stdin: "piped",
      stdout: "piped",
      stderr: "piped",
    })
      .spawn();
    this.writer = this.proc.stdin.getWriter();
    this.reader = this.proc.stdout.pipeThrough(new TextDecoderStream()).pipeThrough(lines()).getReader();
    this.stderrTail = new Response(this.proc.stderr).text().then((t) =>
      t.trim().split("\n").slice(-3).join(" | ")
    );
  }

  get ok(): boolean {
    return !this.dead;
  }

  /** The next JSON line (skipping anything else the child prints); null when it exited. */
  async next(): Promise<Record<string, unknown> | null> {
    while (true) {
      const { value, done } = await this.reader.read();
      if (done) return null;
      if (value.startsWith("{")) return JSON.parse(value);
    }
  }

  /** Wait for `ready`; false (with the error recorded) when the child failed to start. */
  async start(): Promise<boolean> {
    const r = await this.next();
    if (r?.ready) {
      if (typeof r.blas === "string") this.result.blas = r.blas;
      this.result.info = r;
      return true;
    }
    await this.fail(r);
    return false;
  }

  private async fail(r: Record<string, unknown> | null): Promise<void> {
    this.dead = true;
    this.result.error = (r?.error as string | undefined) ?? ((await this.stderrTail) || "exited");
    if (typeof r?.peak_rss_bytes === "number") this.result.peakRssBytes = r.peak_rss_bytes;
    if (typeof r?.peak_gpu_bytes === "number") this.result.peakGpuBytes = r.peak_gpu_bytes;
    try {
      this.proc.kill();
    } catch { /* gone */ }
  }

  /** Send one command; records its timing (when `record`) and returns false once the child failed. */
  async ask(cmd: "train" | "train-profile" | "encode", record: boolean): Promise<boolean> {
    if (this.dead) return false;
    await this.writer.write(new TextEncoder().encode(cmd + "\n"));
    const r = await this.next();
    if (!r || r.error) {
      await this.fail(r);
      return false;
    }
    if (!record) {
      if (typeof r.train_s === "number") (this.result.warmupS ??= []).push(r.train_s);
      return true;
    }
    if (typeof r.train_s === "number") {
      this.result.trainS.push(r.train_s);
      this.result.trainCpuS.push(r.cpu_s as number);
    }
    if (typeof r.encode_s === "number") this.result.encodeS.push(r.encode_s);
    if (r.profile) this.result.profile = r.profile as SideResult["profile"];
    if (r.ffi) this.result.ffi = r.ffi as FfiTime[];
    return true;
  }

  /** Ask for the peak RSS and let the child exit. */
  async finish(): Promise<SideResult> {
    if (!this.dead) {
      await this.writer.write(new TextEncoder().encode("done\n"));
      const r = await this.next();
      if (typeof r?.peak_rss_bytes === "number") this.result.peakRssBytes = r.peak_rss_bytes;
      if (typeof r?.peak_gpu_bytes === "number") this.result.peakGpuBytes = r.peak_gpu_bytes;
      await this.writer.close().catch(() => {});
    }
    await this.proc.status;
    await this.stderrTail;
    return this.result;
  }
}

/**
 * Warm up the peers in `warm` (`warmup` training steps and one encode each), then time `steps`
 * interleaved training rounds and `encodes` encoding rounds over all `peers`, rotating the order.
 */
async function interleave(
  peers: Peer[],
  warm: Peer[],
  o: { steps: number; warmup: number; encodes: number; profile?: Peer },
): Promise<void> {
  for (const p of warm) {
    for (let w = 0; w < o.warmup; w++) await p.ask("train", false);
    await p.ask("encode", false);
  }
  for (let r = 0; r < o.steps; r++) {
    for (let i = 0; i < peers.length; i++) {
      const p = peers[(r + i) % peers.length];
      await p.ask(r === o.steps - 1 && p === o.profile ? "train-profile" : "train", true);
    }
  }
  for (let r = 0; r < o.encodes; r++) {
    for (let i = 0; i < peers.length; i++) await peers[(r + i) % peers.length].ask("encode", true);
  }
}

function median(xs: number[] | undefined): number {
  if (!xs || xs.length === 0) return NaN;
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor((s.length - 1) / 2)];
}

function fmt(x: number, d = 2): string {
  return Number.isFinite(x) ? x.toFixed(d) : "–";
}

/** A PyTorch peer's label: "PyTorch 2 threads", "PyTorch bf16 autocast 1 thread". */
function torchLabel(threads: number, precision: string): string {
  return `PyTorch ${precision === "bf16" ? "bf16 autocast " : ""}${threads || "default"} thread${
    threads === 1 ? "" : "s"
  }`;
}

/**
 * Refuses, in one line, a run whose processes would not fit in `MemAvailable` by the peaks of earlier
 * records of the same config (lib/results/bench_memory.ts), and names the processes it has no peak for.
 */
function checkMemory(configs: string[], plan: MemoryPlan): void {
  let available: number | undefined;
  try {
    available = memAvailable(Deno.readTextFileSync("/proc/meminfo"));
  } catch { /* not Linux: no check */ }
  if (available === undefined) return;
  const rows = recordRows(new URL("../results/bench/", import.meta.url).pathname);
  for (const config of configs) {
    const mine = rows.filter((r) => r.row.config === config);
    const need = memoryNeed(plan, knownPeaks(mine.map((r) => r.row), config));
    const files = [...new Set(mine.map((r) => r.file))].slice(0, 3).join(", ");
    const verdict = memoryVerdict(config, plan, need, available, `results/bench/${files || "-"}`);
    if (verdict) throw new InputError(verdict);
    if (need.missing.length) {
      const rest = need.bytes > 0 ? "memory checked for the rest only" : "memory not checked";
      console.error(
        `[bench] ${config}: no earlier record measured the peak of ${need.missing.join(", ")}; ${rest}`,
      );
    }
  }
}

/** PyTorch's best side for a metric (lowest median), or undefined. */
function bestOf(sides: SideResult[], key: "trainS" | "encodeS"): SideResult | undefined {
  let best: SideResult | undefined;
  for (const t of sides) {
    if (t.error || t[key].length === 0) continue;
    if (!best || median(t[key]) < median(best[key])) best = t;
  }
  return best;
}

async function main(args: string[]): Promise<void> {
  if (args[0] === "--child") {
    const [, config, backend, maxGradNorm, sentences] = args;
    await serveChild(config, backend, Number(maxGradNorm), Number(sentences ?? BATCH));
    return;
  }
  const { values } = parseFlags(args, {
    configs: { type: "string", default: "tiny,mini,small,base" },
    backends: { type: "string", default: "cpu,wasm" },
    steps: { type: "string" },
    warmup: { type: "string" },
    "encode-batches": { type: "string" },
    batch: { type: "string" },
    "max-grad-norm": { type: "string" },
    "torch-threads": { type: "string", default: "best" },
    "torch-precisions": { type: "string", default: "fp32" },
    "openblas-coretype": { type: "string", default: "" },
    profile: { type: "boolean", default: false },
    "no-torch": { type: "boolean", default: false },
    together: { type: "boolean", default: false },
    "no-memory-check": { type: "boolean", default: false },
  }, USAGE);
  const configs = (values.configs as string).split(",");
  for (const c of configs) {
    if (!CONFIGS[c]) throw new InputError(`unknown config '${c}' (${Object.keys(CONFIGS).join(", ")})`);
  }
  const backends = (values.backends as string).split(",");
  for (const b of backends) parseBackend(b.replace(/(-ckpt|-fp16|-bf16)+$/, "")); // a backend, optionally with suffixes
  const steps = positiveInt(values.steps as string | undefined, "steps", 6);
  const warmup = nonNegativeInt(values.warmup as string | undefined, "warmup", 2);
  const encodeBatches = positiveInt(values["encode-batches"] as string | undefined, "encode-batches", 20);
  const sentences = positiveInt(values.batch as string | undefined, "batch", BATCH);
  if (sentences !== BATCH && !values["no-torch"]) {
    throw new InputError(
      `--batch ${sentences}: PyTorch's side (reference/bench_torch.py) times ${BATCH} sentences; add --no-torch`,
    );
  }
  const maxGradNorm = numberFlag(values["max-grad-norm"] as string | undefined, "max-grad-norm", 1, {
    min: 0,
  });
  const threadsFlag = values["torch-threads"] as string;
  const torchThreads = threadsFlag === "best" ? [1, 2] : [nonNegativeInt(threadsFlag, "torch-threads", 0)];
  // PyTorch peers per precision: fp32, and bf16 = torch.autocast("cpu", dtype=torch.bfloat16).
  const torchPrecisions = (values["torch-precisions"] as string).split(",").map((p) => p.trim()).filter(
    Boolean,
  );
  for (const p of torchPrecisions) {
    if (p !== "fp32" && p !== "bf16") {
      throw new InputError(`--torch-precisions takes fp32 and/or bf16, got '${p}'`);
    }
  }
  const coretype = values["openblas-coretype"] as string;
  const profile = values.profile as boolean;
  const together = values.together as boolean;
  const env: Record<string, string> = {};
  if (coretype) env.OPENBLAS_CORETYPE = coretype;
  const hasTorch = !values["no-torch"] &&
    (await new Deno.Command("/usr/bin/python3", {
      args: ["-c", "import torch"],
      stdout: "null",
      stderr: "null",
    })
      .output().then((o) => o.success).catch(() => false));
  const self = new URL(import.meta.url).pathname;
  const torchScript = new URL("../reference/bench_torch.py", import.meta.url).pathname;
  const load0 = Deno.loadavg();
  const started = new Date();
  const rows: { config: string; ours: SideResult[]; torch: SideResult[] }[] = [];
  if (!values["no-memory-check"]) {
    const torchLabels = (hasTorch ? torchThreads : []).flatMap((t) =>
      torchPrecisions.map((p) => torchLabel(t, p))
    );
    checkMemory(configs, { together, ours: backends, torch: torchLabels });
  }
  for (const config of configs) {
    const torch: Peer[] = [];
    for (
      const [threads, tp] of (hasTorch ? torchThreads : []).flatMap((t) =>
        torchPrecisions.map((p) => [t, p] as const)
      )
    ) {
      const cmd = [
        "/usr/bin/python3",
        torchScript,
        "--serve",
        "--config",
        config,
        "--threads",
        String(threads),
        "--max-grad-norm",
        String(maxGradNorm),
        ...(tp === "bf16" ? ["--autocast", "--autocast-dtype", "bf16"] : []),
      ];
      const p = new Peer(torchLabel(threads, tp), cmd, env);
      if (await p.start()) torch.push(p);
      else rows.push({ config, ours: [], torch: [await p.finish()] });
    }
    const ours: SideResult[] = [];
    let torchWarm = false;
    const ourCmd = (backend: string) => [
      Deno.execPath(),
      "run",
      "-A",
      self,
      "--child",
      config,
      backend,
      String(maxGradNorm),
      String(sentences),
    ];
    if (together) {
      // All our backends alive at once, in the same rounds as PyTorch: their ratios to each other
      // (bf16 or fp16 over fp32) then come from the same minutes of machine time too.
      const mine = backends.map((b) => new Peer(b, ourCmd(b), env));
      const started = [];
      for (const p of mine) if (await p.start()) started.push(p);
      const with_ = [...started, ...torch].map((t) => t.result.label).join(", ");
      console.error(`[bench] ${config}: interleaving ${with_} ...`);
      await interleave([...started, ...torch], [...started, ...torch], {
        steps,
        warmup,
        encodes: encodeBatches,
        profile: profile ? started.find((p) => p.result.label.startsWith("cpu")) : undefined,
      });
      for (const p of mine) ours.push(await p.finish());
    }
    for (const backend of together ? [] : backends) {
      const with_ = torch.map((t) => t.result.label).join(", ") || "nothing";
      console.error(`[bench] ${config}: ${backend} interleaved with ${with_} ...`);
      const p = new Peer(backend, ourCmd(backend), env);
      if (await p.start()) {
        // PyTorch keeps running for every backend (its rounds pool across them); it warms up once.
        await interleave([p, ...torch], torchWarm ? [p] : [p, ...torch], {
          steps,
          warmup,
          encodes: encodeBatches,
          profile: profile && backend.startsWith("cpu") ? p : undefined,
        });
        torchWarm = true;
      }
      ours.push(await p.finish());
    }
    const torchResults: SideResult[] = [];
    for (const t of torch) torchResults.push(await t.finish());
    const row = rows.find((r) => r.config === config);
    if (row) {
      row.ours = ours;
      row.torch.push(...torchResults);
    } else rows.push({ config, ours, torch: torchResults });
  }
  const load1 = Deno.loadavg();

  const lines: string[] = [];
  lines.push(
    "| config | backend | train steps/s (cpu s/step) | PyTorch steps/s (cpu s/step) | ratio | encode sent/s | PyTorch sent/s | ratio | peak RSS GB | PyTorch GB | GPU buffers GB |",
    "|---|---|---|---|---|---|---|---|---|---|---|",
  );
  for (const r of rows) {
    for (const o of r.ours) {
      const peers = peersFor(o.label, r.torch); // the same precision's PyTorch when it ran, else fp32
      const bt = bestOf(peers, "trainS"), be = bestOf(peers, "encodeS");
      const tTrain = median(bt?.trainS), tEnc = median(be?.encodeS), tCpu = median(bt?.trainCpuS);
      const tRss = bt?.peakRssBytes ?? NaN;
      if (o.error) {
        lines.push(
          `| ${r.config} | ${o.label} | failed: ${o.error.slice(0, 80)} | | | | | | ${
            fmt((o.peakRssBytes ?? NaN) / 2 ** 30)
          } | | |`,
        );
        continue;
      }
      const ts = median(o.trainS), es = median(o.encodeS);
      lines.push(
        `| ${r.config} | ${o.label} | ${fmt(1 / ts, 3)} (${fmt(median(o.trainCpuS))}) | ${
          fmt(1 / tTrain, 3)
        } (${fmt(tCpu)}) | ${fmt(tTrain / ts)} | ${fmt(sentences / es, 0)} | ${fmt(sentences / tEnc, 0)} | ${
          fmt(tEnc / es)
        } | ${fmt((o.peakRssBytes ?? NaN) / 2 ** 30)} | ${fmt(tRss / 2 ** 30)} | ${
          o.peakGpuBytes === undefined ? "" : fmt(o.peakGpuBytes / 2 ** 30, 3)
        } |`,
      );
    }
  }
  const cpuModel = (() => {
    try {
      return /model name\s*:\s*(.*)/.exec(Deno.readTextFileSync("/proc/cpuinfo"))?.[1] ?? "";
    } catch {
      return "";
    }
  })();
  const adapter = rows.flatMap((r) => r.ours).map((o) => o.info?.adapter as AdapterInfo | undefined)
    .find((a) => a);
  const header = `SimCSE step: ${sentences} sentences = ${2 * sentences} sequences x ${SEQ} tokens, fp32, ` +
    (maxGradNorm > 0 ? `clipping at ${maxGradNorm}` : "no clipping") + `; encode: ${sentences} sentences. ` +
    `Median of ${steps} interleaved timed rounds after ${warmup} warm-up steps (encode: ${encodeBatches} rounds)` +
    (together ? ", all our backends in the same rounds; " : "; ") +
    (hasTorch
      ? `PyTorch: the better of ${torchThreads.map((t) => t || "default").join(" and ")} threads. `
      : "PyTorch: not run. ") +
    `CPU: ${cpuModel} x ${navigator.hardwareConcurrency}; load average ${
      load0.map((x) => x.toFixed(1)).join("/")
    } at start, ${load1.map((x) => x.toFixed(1)).join("/")} at end` +
    (coretype ? `; OPENBLAS_CORETYPE=${coretype} for ours and PyTorch` : "") +
    (adapter ? `. ${adapterLine(adapter)}` : "");
  console.log(header);
  console.log(lines.join("\n"));
  const ratios = fp16Ratios(rows);
  for (const r of ratios) console.log(r);
  for (const r of rows) {
    for (const o of r.ours) {
      if (o.warmupS?.length) {
        console.log(
          `${r.config}/${o.label} warm-up steps (the first compiles the shaders on webgpu): ${
            o.warmupS.map((t) => fmt(t, 1)).join(", ")
          } s; timed median ${fmt(median(o.trainS), 1)} s`,
        );
      }
    }
  }
  for (const r of rows) {
    for (const t of r.torch) if (t.error) console.log(`${r.config}/${t.label} failed: ${t.error}`);
    for (const o of r.ours) {
      if (o.blas) console.log(`${r.config}/${o.label} BLAS: ${o.blas}`);
      if (o.profile) {
        const total = o.profile.reduce((a, k) => a + k.ms, 0);
        console.log(
          `${r.config}/${o.label} kernel profile of the last timed step (top 25, ${total} ms in kernels):`,
        );
        console.log(
          o.profile.map((k) =>
            `  ${k.kernel.padEnd(20)} ${String(k.ms).padStart(7)} ms ${String(k.calls).padStart(5)} calls`
          ).join("\n"),
        );
      }
      if (o.ffi && o.ffi.length > 0) {
        const ms = o.ffi.reduce((a, f) => a + f.ms, 0), cpu = o.ffi.reduce((a, f) => a + f.cpuMs, 0);
        console.log(
          `${r.config}/${o.label} native calls of the same step (top 25: ${ms.toFixed(1)} ms, ` +
            `${cpu.toFixed(1)} ms of CPU in all threads):`,
        );
        console.log(
          o.ffi.map((f) =>
            `  ${f.fn.padEnd(30)} ${f.ms.toFixed(1).padStart(7)} ms ${
              f.cpuMs.toFixed(1).padStart(7)
            } ms CPU ${String(f.calls).padStart(5)} calls`
          ).join("\n"),
        );
      }
    }
  }
  const stamp = started.toISOString().replace(/[-:]/g, "").replace(/\..*/, "").replace("T", "-");
  const dir = benchRecordDir(new URL("../results/bench/", import.meta.url).pathname, adapter);
  await Deno.mkdir(dir, { recursive: true });
  const path = `${dir}/${stamp}.json`;
  await writeFileAtomic(
    path,
    JSON.stringify(
      {
        started: started.toISOString(),
        command: ["deno", "task", "bench", ...args].join(" "),
        method: "interleaved",
        together,
        header,
        ...adapterFields(adapter),
        sentences,
        table: lines,
        fp16Ratios: ratios,
        rows,
      },
      null,
      2,
    ) + "\n",
  );
  console.log(`record: ${path}`);
}

/** "config: X-fp16 / X: steps/s ×r, peak GPU buffers ×r" for every backend measured in both precisions. */
function fp16Ratios(rows: { config: string; ours: SideResult[] }[]): string[] {
  const out: string[] = [];
  for (const r of rows) {
    for (const h of r.ours) {
      const f = r.ours.find((o) => o.label === h.label.replace(/-fp16\b/, ""));
      if (!/-fp16\b/.test(h.label) || !f || f === h || h.error || f.error) continue;
      const speed = median(f.trainS) / median(h.trainS);
      const mem = h.peakGpuBytes !== undefined && f.peakGpuBytes
        ? ` peak GPU buffers ×${fmt(h.peakGpuBytes / f.peakGpuBytes, 3)} (${
          fmt(h.peakGpuBytes / 2 ** 20, 1)
        } vs ${fmt(f.peakGpuBytes / 2 ** 20, 1)} MiB)`
        : "";
      out.push(
        `${r.config}: ${h.label} / ${f.label}: steps/s ×${fmt(speed, 3)} (${
          fmt(1 / median(h.trainS), 3)
        } vs ${fmt(1 / median(f.trainS), 3)}),${mem}`,
      );
    }
  }
  return out;
}

if (import.meta.main) await cliMain(() => main(Deno.args));
