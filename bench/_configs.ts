/**
 * The model sizes the benchmarks train (BERT-style L layers of width H, heads of 64, FFN 4H; GPT-2
 * configs of the same sizes), shared by `train_bench.ts` and `gpu/gpu_bench.ts`.
 *
 * @module
 */
import { tf } from "../lib/runtime/tf.ts";
import type { BertConfig } from "../lib/model/bert_config.ts";

/** Sentences per step (two dropout views each) and tokens per sequence, as SimCSE's recipe. */
export const BATCH = 64, SEQ = 32;

/**
 * The synthetic training batch every side times: 2·`batch` full-length rows of fixed pseudo-random ids
 * (`batch` = BATCH sentences unless a bench's `--batch` asks for fewer, as on a software adapter).
 */
export function benchBatch(batch = BATCH) {
  const rows = 2 * batch;
  const ids = new Int32Array(rows * SEQ);
  for (let i = 0; i < ids.length; i++) ids[i] = 1000 + (i * 7919) % 20000;
  return {
    inputIds: ids,
    attentionMask: new Int32Array(rows * SEQ).fill(1),
    tokenTypeIds: new Int32Array(rows * SEQ),
    rows,
    seqLen: SEQ,
    numSent: 2 as const,
    batchSize: batch,
  };
}

/**
 * A tracker of the peak GPU buffer bytes TF.js reports: each call samples `tf.memory()` and returns the
 * peak so far, or undefined on a backend that reports none.
 */
export function gpuPeakTracker(): () => number | undefined {
  let peak = 0;
  return () => {
    const m = tf.memory() as { numBytesInGPU?: number; numBytesAllocatedInGPU?: number };
    peak = Math.max(peak, m.numBytesAllocatedInGPU ?? 0, m.numBytesInGPU ?? 0);
    return m.numBytesAllocatedInGPU === undefined ? undefined : peak;
  };
}

/** What a bench record says about the WebGPU adapter it ran on. */
export interface AdapterInfo {
  description: string;
  vendor: string;
  architecture: string;
  /** A software adapter (Mesa lavapipe/llvmpipe): its timings say nothing about GPU speed. */
  isFallbackAdapter: boolean;
}

/** The WebGPU adapter this process gets (the one TF.js's webgpu backend uses), or undefined. */
export async function webgpuAdapterInfo(): Promise<AdapterInfo | undefined> {
  // deno-lint-ignore no-explicit-any
  const adapter = await (globalThis.navigator as any)?.gpu?.requestAdapter();
  if (!adapter) return undefined;
  const i = adapter.info ?? {};
  return {
    description: String(i.description ?? ""),
    vendor: String(i.vendor ?? ""),
    architecture: String(i.architecture ?? ""),
    isFallbackAdapter: Boolean(i.isFallbackAdapter ?? adapter.isFallbackAdapter),
  };
}

/**
 * Where a bench writes a record: `results/bench/` for CPU backends (README's "Speed on CPU" table and
 * the FP16 figure read the records there), `results/bench/webgpu/` for a hardware WebGPU adapter and
 * `results/bench/webgpu-software/` for a software one (lavapipe: correctness only, never GPU speed;
 * docs/GPU.md), so neither replaces CPU rows.
 */
export function benchRecordDir(root: string, adapter: AdapterInfo | undefined): string {
  const base = root.replace(/\/+$/, "");
  if (!adapter) return base;
  return `${base}/${adapter.isFallbackAdapter ? "webgpu-software" : "webgpu"}`;
}

/** One line naming the adapter, loud about a software one. */
export function adapterLine(adapter: AdapterInfo): string {
  return `WebGPU adapter: ${adapter.description || adapter.vendor || "unnamed"}` +
    (adapter.isFallbackAdapter
      ? " (a SOFTWARE adapter, Mesa lavapipe/llvmpipe on the CPU: these timings check that the GPU path runs, " +
        "they are not GPU speed)"
      : "");
}

/** The record fields about the adapter: itself and a note on what its timings mean (none without one). */
export function adapterFields(adapter: AdapterInfo | undefined): { adapter?: AdapterInfo; note?: string } {
  if (!adapter) return {};
  return {
    adapter,
    note: adapter.isFallbackAdapter
      ? "software WebGPU adapter (Mesa lavapipe): correctness only, not GPU speed"
      : "hardware WebGPU adapter",
  };
}

/** Layers and hidden size of each benchmark config. */
export const CONFIGS: Record<string, [number, number]> = {
  tiny: [2, 128],
  mini: [4, 256],
  small: [4, 512],
  base: [12, 768],
  // GPT-2 (decoder-only, gelu_new, avg pooling without MLP, as the gpt2-wavg experiment trains)
  "gpt2-mini": [4, 256],
  gpt2: [12, 768],
};

/** The BERT config of a benchmark size (bert-base-uncased's vocabulary and defaults). */
export function bertConfig(name: string): BertConfig {
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
