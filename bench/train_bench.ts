/**
 * `deno task bench` (`deno run -A bench/train_bench.ts`): CPU training and encoding speed against
 * PyTorch on the same machine, in the same run. For each BERT config (tiny L2/H128, mini L4/H256,
 * small L4/H512, base L12/H768; GPT-2 configs gpt2-mini L4/H256 and gpt2 L12/H768 with avg pooling)
 * and each backend (`cpu` = TF.js cpu + fused C/JS kernels + BLAS
 * sgemm, `cpu-ckpt` = the same with activation checkpointing, `wasm`), a child process times one SimCSE training step (64 sentences = 128 sequences of length
 * 32, fp32, dropout 0.1, MLP head on [CLS], AdamW) and the encoding of 64 sentences, and reports its
 * peak RSS; `reference/bench_torch.py` does the same with PyTorch when `/usr/bin/python3` has torch.
 * Prints a table with ours/PyTorch ratios and writes a record to `results/bench/<timestamp>.json`.
 *
 * Flags: `--configs tiny,mini,small,base` `--backends cpu,wasm` `--steps 3` `--warmup 2`
 * `--encode-batches 3` `--torch-threads best` (runs PyTorch with 1 and with 2 threads and keeps the
 * faster; or a number, 0 = torch default) `--no-torch` `--profile` (per-kernel
 * profile of the last timed cpu step) `--openblas-coretype NAME` (sets `OPENBLAS_CORETYPE` for every
 * child, ours and PyTorch alike, e.g. SkylakeX on AVX-512 CPUs that Debian's OpenBLAS 0.3.21 does not
 * recognise; the record states it). Timings are wall clock; each row also gives process CPU seconds,
 * which show how much a busy machine inflated the wall times.
 *
 * @example
 * ```sh
 * deno run -A bench/train_bench.ts --configs tiny,mini --backends cpu
 * ```
 * @module
 */
import { tf } from "../lib/tf.ts";
import { type BackendName, useBackend } from "../lib/backend.ts";
import { BertModel } from "../lib/model/bert.ts";
import { type Gpt2Config, Gpt2Model } from "../lib/model/gpt2.ts";
import type { BertConfig } from "../lib/model/bert_config.ts";
import { seededDropout } from "../lib/model/dropout.ts";
import { SimcseModel } from "../lib/train/simcse_model.ts";
import { MlpHead } from "../lib/train/mlp_head.ts";
import { AdamW } from "../lib/train/adamw.ts";
import { trainStep } from "../lib/train/trainer.ts";
import { cpuAcceleration } from "../lib/kernels/cpu_accel.ts";
import { writeFileAtomic } from "../lib/io/atomic_write.ts";
import { startKernelProfile, stopKernelProfile } from "./kernel_profile.ts";

const CONFIGS: Record<string, [number, number]> = {
  tiny: [2, 128],
  mini: [4, 256],
  small: [4, 512],
  base: [12, 768],
  // GPT-2 (decoder-only, gelu_new, avg pooling without MLP, as the gpt2-wavg experiment trains)
  "gpt2-mini": [4, 256],
  gpt2: [12, 768],
};

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
const BATCH = 64, SEQ = 32;

/** One measured (config, backend) pair, as a child reports it. */
interface ChildResult {
  config: string;
  backend: string;
  trainS?: number[];
  trainCpuS?: number[];
  encodeS?: number[];
  peakRssBytes?: number;
  blas?: string;
  profile?: { kernel: string; ms: number; calls: number }[];
  error?: string;
}

function bertConfig(name: string): BertConfig {
  const [L, H] = CONFIGS[name];
  return {
    vocabSize: 30522,
    hiddenSize: H,
    numHiddenLayers: L,
    numAttentionHeads: H / 64,
    intermediateSize: 4 * H,
    hiddenAct: "gelu",
    hiddenDropoutProb: 0.1,
    attentionProbsDropoutProb: 0.1,
    maxPositionEmbeddings: 512,
    typeVocabSize: 2,
    layerNormEps: 1e-12,
    initializerRange: 0.02,
    padTokenId: 0,
  };
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

async function child(
  config: string,
  backend: string,
  steps: number,
  warmup: number,
  encodeBatches: number,
  profile: boolean,
): Promise<ChildResult> {
  const res: ChildResult = { config, backend };
  try {
    const checkpointLayers = backend.endsWith("-ckpt"); // "cpu-ckpt": the cpu backend with activation checkpointing
    await useBackend(backend.replace(/-ckpt$/, "") as BackendName);
    const acc = cpuAcceleration();
    if (backend.startsWith("cpu")) {
      res.blas = acc?.blas ? `${acc.blas.config} (core ${acc.blas.corename})` : `none: ${acc?.blasReason}`;
    }
    const sm = isGpt2(config)
      ? new SimcseModel(Gpt2Model.init(gpt2Config(config), 1), {
        poolerType: "avg",
        mlpOnlyTrain: false,
        temp: 0.05,
        checkpointLayers,
      })
      : new SimcseModel(
        BertModel.init(bertConfig(config), 1, false),
        { poolerType: "cls", mlpOnlyTrain: true, temp: 0.05, checkpointLayers },
        MlpHead.init(bertConfig(config).hiddenSize, 0.02, 2),
      );
    const vars = sm.namedVariables();
    const opt = new AdamW({ weightDecay: 0 });
    const rows = 2 * BATCH;
    const ids = new Int32Array(rows * SEQ);
    for (let i = 0; i < ids.length; i++) ids[i] = 1000 + (i * 7919) % 20000;
    const batch = {
      inputIds: ids,
      attentionMask: new Int32Array(rows * SEQ).fill(1),
      tokenTypeIds: new Int32Array(rows * SEQ),
      rows,
      seqLen: SEQ,
      numSent: 2 as const,
      batchSize: BATCH,
    };
    res.trainS = [];
    res.trainCpuS = [];
    for (let s = 0; s < warmup + steps; s++) {
      const prof = profile && backend.startsWith("cpu") && s === warmup + steps - 1;
      if (prof) startKernelProfile();
      const c0 = cpuSeconds(), t0 = performance.now();
      trainStep(sm, vars, opt, batch, undefined, {
        lr: 3e-5,
        maxGradNorm: 0,
        dropoutAt: (o) => seededDropout(1, s, o),
        padId: 0,
      });
      const dt = (performance.now() - t0) / 1000, dc = cpuSeconds() - c0;
      if (prof) res.profile = stopKernelProfile().slice(0, 25).map((k) => ({ ...k, ms: Math.round(k.ms) }));
      if (s >= warmup) {
        res.trainS.push(dt);
        res.trainCpuS.push(dc);
      }
    }
    res.encodeS = [];
    const enc = {
      inputIds: tf.tensor2d(ids.subarray(0, BATCH * SEQ), [BATCH, SEQ], "int32"),
      attentionMask: tf.tensor2d(batch.attentionMask.subarray(0, BATCH * SEQ), [BATCH, SEQ], "int32"),
      tokenTypeIds: tf.tensor2d(batch.tokenTypeIds.subarray(0, BATCH * SEQ), [BATCH, SEQ], "int32"),
    };
    for (let e = 0; e < 1 + encodeBatches; e++) {
      const t0 = performance.now();
      const emb = tf.tidy(() => sm.embed(enc));
      await emb.data();
      emb.dispose();
      if (e > 0) res.encodeS.push((performance.now() - t0) / 1000);
    }
    res.peakRssBytes = peakRss();
  } catch (e) {
    res.error = e instanceof Error ? e.message.split("\n")[0] : String(e);
    res.peakRssBytes = peakRss();
  }
  return res;
}

function median(xs: number[] | undefined): number {
  if (!xs || xs.length === 0) return NaN;
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor((s.length - 1) / 2)];
}

function flag(args: string[], name: string, fallback: string): string {
  const i = args.indexOf(`--${name}`);
  return i >= 0 && i + 1 < args.length ? args[i + 1] : fallback;
}

async function runChild(
  cmd: string[],
  env: Record<string, string>,
): Promise<{ json: unknown; stderr: string }> {
  const out = await new Deno.Command(cmd[0], { args: cmd.slice(1), env, stdout: "piped", stderr: "piped" })
    .output();
  const stdout = new TextDecoder().decode(out.stdout);
  const stderr = new TextDecoder().decode(out.stderr);
  const line = stdout.trim().split("\n").filter((l) => l.startsWith("{")).pop();
  if (!line) {
    return { json: null, stderr: stderr.trim().split("\n").slice(-3).join(" | ") || `exit ${out.code}` };
  }
  return { json: JSON.parse(line), stderr };
}

function fmt(x: number, d = 2): string {
  return Number.isFinite(x) ? x.toFixed(d) : "–";
}

async function main(args: string[]): Promise<void> {
  if (args[0] === "--child") {
    const [, config, backend, steps, warmup, enc, prof] = args;
    const r = await child(config, backend, Number(steps), Number(warmup), Number(enc), prof === "1");
    console.log(JSON.stringify(r));
    return;
  }
  const configs = flag(args, "configs", "tiny,mini,small,base").split(",");
  for (const c of configs) {
    if (!CONFIGS[c]) throw new Error(`unknown config '${c}' (${Object.keys(CONFIGS).join(", ")})`);
  }
  const backends = flag(args, "backends", "cpu,wasm").split(",");
  const steps = Number(flag(args, "steps", "3")), warmup = Number(flag(args, "warmup", "2"));
  const encodeBatches = Number(flag(args, "encode-batches", "3"));
  const threadsFlag = flag(args, "torch-threads", "best");
  const torchThreads = threadsFlag === "best" ? [1, 2] : [Number(threadsFlag)];
  const coretype = flag(args, "openblas-coretype", "");
  const profile = args.includes("--profile");
  const env: Record<string, string> = {};
  if (coretype) env.OPENBLAS_CORETYPE = coretype;
  const hasTorch = !args.includes("--no-torch") &&
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
  const rows: {
    config: string;
    ours: ChildResult[];
    torch: Record<string, unknown> | null;
    torchError?: string;
  }[] = [];
  for (const config of configs) {
    const ours: ChildResult[] = [];
    for (const backend of backends) {
      console.error(`[bench] ${config} on ${backend} ...`);
      const { json, stderr } = await runChild(
        [
          Deno.execPath(),
          "run",
          "-A",
          self,
          "--child",
          config,
          backend,
          String(steps),
          String(warmup),
          String(encodeBatches),
          profile ? "1" : "0",
        ],
        env,
      );
      ours.push((json as ChildResult) ?? { config, backend, error: stderr });
    }
    let torch: Record<string, unknown> | null = null, torchError: string | undefined;
    for (const threads of hasTorch ? torchThreads : []) {
      console.error(`[bench] ${config} on PyTorch (${threads || "default"} threads) ...`);
      const { json, stderr } = await runChild(
        [
          "/usr/bin/python3",
          torchScript,
          "--config",
          config,
          "--steps",
          String(steps),
          "--warmup",
          String(warmup),
          "--encode-batches",
          String(encodeBatches),
          "--threads",
          String(threads),
        ],
        env,
      );
      const t = json as Record<string, unknown> | null;
      if (!t) torchError = stderr;
      else if (!torch || median(t.train_s as number[]) < median(torch.train_s as number[])) torch = t; // PyTorch's best
    }
    rows.push({ config, ours, torch, torchError });
  }
  const load1 = Deno.loadavg();

  const lines: string[] = [];
  lines.push(
    "| config | backend | train steps/s (cpu s/step) | PyTorch steps/s (cpu s/step) | ratio | encode sent/s | PyTorch sent/s | ratio | peak RSS GB | PyTorch GB |",
    "|---|---|---|---|---|---|---|---|---|---|",
  );
  for (const r of rows) {
    const tTrain = median(r.torch?.train_s as number[]), tEnc = median(r.torch?.encode_s as number[]);
    const tCpu = median(r.torch?.train_cpu_s as number[]);
    for (const o of r.ours) {
      if (o.error) {
        lines.push(
          `| ${r.config} | ${o.backend} | failed: ${o.error.slice(0, 80)} | | | | | | ${
            fmt((o.peakRssBytes ?? NaN) / 2 ** 30)
          } | |`,
        );
        continue;
      }
      const ts = median(o.trainS), es = median(o.encodeS);
      lines.push(
        `| ${r.config} | ${o.backend} | ${fmt(1 / ts, 3)} (${fmt(median(o.trainCpuS))}) | ${
          fmt(1 / tTrain, 3)
        } (${fmt(tCpu)}) | ${fmt(tTrain / ts)} | ${fmt(BATCH / es, 0)} | ${fmt(BATCH / tEnc, 0)} | ${
          fmt(tEnc / es)
        } | ${fmt((o.peakRssBytes ?? NaN) / 2 ** 30)} | ${fmt(Number(r.torch?.peak_rss_bytes) / 2 ** 30)} |`,
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
  const header =
    `SimCSE step: ${BATCH} sentences = ${
      2 * BATCH
    } sequences x ${SEQ} tokens, fp32; encode: ${BATCH} sentences. ` +
    `median of ${steps} timed steps after ${warmup} warm-up. CPU: ${cpuModel} x ${navigator.hardwareConcurrency}; ` +
    `load average ${load0.map((x) => x.toFixed(1)).join("/")} at start, ${
      load1.map((x) => x.toFixed(1)).join("/")
    } at end` +
    (coretype ? `; OPENBLAS_CORETYPE=${coretype} for ours and PyTorch` : "");
  console.log(header);
  console.log(lines.join("\n"));
  for (const r of rows) {
    for (const o of r.ours) {
      if (o.blas) console.log(`${r.config}/${o.backend} BLAS: ${o.blas}`);
      if (o.profile) {
        const total = o.profile.reduce((a, k) => a + k.ms, 0);
        console.log(
          `${r.config}/${o.backend} kernel profile of the last timed step (top 25, ${total} ms in kernels):`,
        );
        console.log(
          o.profile.map((k) =>
            `  ${k.kernel.padEnd(20)} ${String(k.ms).padStart(7)} ms ${String(k.calls).padStart(5)} calls`
          ).join("\n"),
        );
      }
    }
    if (r.torchError) console.log(`${r.config}/PyTorch failed: ${r.torchError}`);
  }
  const stamp = started.toISOString().replace(/[-:]/g, "").replace(/\..*/, "").replace("T", "-");
  const dir = new URL("../results/bench/", import.meta.url).pathname;
  await Deno.mkdir(dir, { recursive: true });
  const path = `${dir}${stamp}.json`;
  await writeFileAtomic(
    path,
    JSON.stringify(
      {
        started: started.toISOString(),
        command: ["deno", "task", "bench", ...args].join(" "),
        header,
        table: lines,
        rows,
      },
      null,
      2,
    ) + "\n",
  );
  console.log(`record: ${path}`);
}

if (import.meta.main) await main(Deno.args);
