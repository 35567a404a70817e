/**
 * The SimCSE training loop (SIMCSE-SPEC §b.1, §j): AdamW + linear decay, global-norm clipping,
 * evaluation every `evalSteps` on STS-B dev (and SICK-R dev) keeping the checkpoint only when the
 * selection metric strictly improves, then the final test table from the best checkpoint.
 * Interruptions lose nothing: a resume state is written atomically every `saveSteps` and at every
 * evaluation; Ctrl-C finishes the current step, saves and exits; `resume` continues with the same data
 * order and dropout masks. A NaN/Inf loss stops the run with the last good checkpoint intact.
 * With `fp16` the encoder's Linear layers and attention matmuls run in fp16 mixed precision during the
 * training steps, under dynamic loss scaling (`loss_scaler.ts`: a step whose gradients overflow is
 * skipped and the scale halves; the scale and skipped steps are logged); evaluation runs in fp32.
 *
 * @module
 */
import { tf } from "../tf.ts";
import { InputError } from "../errors.ts";
import { BertModel } from "../model/bert.ts";
import { bertConfigFromJson } from "../model/bert_config.ts";
import type { Encoder, TextTokenizer } from "../model/encoder.ts";
import { loadEncoder, saveEncoder } from "../model/registry.ts";
import { seededDropout } from "../model/dropout.ts";
import { hasPrecisionSwitch } from "../model/fp16.ts";
import { peekFloat32 } from "../kernels/cpu_pool.ts";
import { BertTokenizer } from "../tokenizer/bert_tokenizer.ts";
import { SentenceEncoder } from "../sentence_encoder.ts";
import { type EvalTask, evaluate } from "../eval/sts_eval.ts";
import { ProgressBar } from "../progress.ts";
import { loadChinese, loadSickRelatedness, loadStsBenchmark } from "../eval/sts_data.ts";
import { RunRecord } from "../results/run_record.ts";
import { loadTrainFile } from "../data/train_corpus.ts";
import {
  batchIndices,
  collate,
  epochOrder,
  maskTokens,
  tokenizeExamples,
  totalSteps,
} from "../data/batches.ts";
import { AdamW, clipFactor, globalGradNorm, linearSchedule } from "./adamw.ts";
import { LossScaler, type LossScalerState } from "./loss_scaler.ts";
import { MlpHead } from "./mlp_head.ts";
import { MlmHead } from "./mlm_head.ts";
import { SimcseModel, type TrainBatch } from "./simcse_model.ts";
import type { TrainConfig } from "./train_config.ts";
import { findTrainState, loadTrainState, saveTrainState, type TrainerState } from "./train_state.ts";

export interface TrainOptions {
  /** Backend in use (recorded). */
  backend: string;
  /** Continue from `<outputDir>/resume/`. */
  resume?: boolean;
  /** Root of run records (default `results/`). */
  resultsDir?: string;
  /** Show the progress bar (default true). */
  progress?: boolean;
  /** Behave as if Ctrl-C came right after this step (save and stop); for tests of resuming. */
  stopAfterStep?: number;
}

export interface TrainResult {
  status: "completed" | "interrupted" | "diverged";
  runDir: string;
  bestMetric: number | null;
  bestStep: number | null;
  finalScores?: Record<string, number>;
  stepsPerSecond: number;
}

/** Selection metric name -> dev task. */
const SELECT_TASK: Record<TrainConfig["metricForBestModel"], EvalTask> = {
  stsb_spearman: "STSBenchmark",
  lcqmc_spearman: "LCQMC",
  pawsx_spearman: "PAWSX",
};

/** The encoder and tokenizer a run starts from: `cfg.randomInit`, else the checkpoint in `cfg.modelDir`. */
export async function buildModel(
  cfg: TrainConfig,
): Promise<{ bert: Encoder; tokenizer: TextTokenizer }> {
  if (cfg.randomInit) {
    const r = cfg.randomInit;
    const tokenizer = await BertTokenizer.fromFolder(r.tokenizerDir);
    const config = bertConfigFromJson({
      vocab_size: tokenizer.info.vocabSize,
      hidden_size: r.hiddenSize,
      num_hidden_layers: r.numHiddenLayers,
      num_attention_heads: r.numAttentionHeads,
      intermediate_size: r.intermediateSize,
      max_position_embeddings: r.maxPositionEmbeddings,
      pad_token_id: tokenizer.info.padId,
    }, "randomInit");
    return { bert: BertModel.init(config, cfg.seed, false), tokenizer };
  }
  const { encoder, tokenizer } = await loadEncoder(cfg.modelDir);
  return { bert: encoder, tokenizer };
}

/** Train SimCSE as configured; writes the best checkpoint to `cfg.outputDir` and a run record. */
export async function train(cfg: TrainConfig, opts: TrainOptions): Promise<TrainResult> {
  const { bert, tokenizer } = await buildModel(cfg);
  if (cfg.dropout !== undefined) bert.setDropout(cfg.dropout);
  if (cfg.fp16 && !hasPrecisionSwitch(bert)) {
    bert.dispose();
    throw new InputError(`fp16 is implemented for BERT encoders; '${bert.kind}' has no fp16 layers`);
  }
  const scaler = cfg.fp16 ? new LossScaler() : undefined;
  const H = bert.config.hiddenSize;
  const mlp = cfg.poolerType === "cls"
    ? MlpHead.init(H, bert.config.initializerRange, cfg.seed + 1)
    : undefined;
  const mlm = cfg.doMlm
    ? MlmHead.init(
      H,
      bert.config.vocabSize,
      bert.config.initializerRange,
      bert.config.layerNormEps,
      cfg.seed + 2,
    )
    : undefined;
  const sm = new SimcseModel(
    bert,
    {
      poolerType: cfg.poolerType,
      mlpOnlyTrain: cfg.mlpOnlyTrain,
      temp: cfg.temp,
      hardNegativeWeight: cfg.hardNegativeWeight,
      mlmWeight: cfg.mlmWeight,
      checkpointLayers: cfg.gradientCheckpointing,
    },
    mlp,
    mlm,
  );
  const vars = sm.namedVariables();

  // Data: tokenized once, truncated to maxSeqLength.
  const examples = await loadTrainFile(cfg.trainFile);
  if (cfg.maxTrainExamples !== undefined) examples.rows = examples.rows.slice(0, cfg.maxTrainExamples);
  const data = tokenizeExamples(examples, tokenizer, cfg.maxSeqLength);
  const n = examples.rows.length;
  const total = totalSteps(n, cfg.batchSize, cfg.numTrainEpochs, cfg.maxSteps);
  const perEpoch = Math.ceil(n / cfg.batchSize);

  const opt = new AdamW({ weightDecay: cfg.weightDecay });
  const configHash = JSON.stringify(cfg);
  let state: TrainerState & { lossScaler?: LossScalerState } = {
    step: 0,
    bestMetric: null,
    bestStep: null,
    runId: "",
    configHash,
  };
  if (opts.resume) {
    const dir = await findTrainState(cfg.outputDir);
    if (!dir) throw new InputError(`no resume state under ${cfg.outputDir}/resume; start without --resume`);
    state = await loadTrainState(dir, vars, opt);
    if (state.configHash !== configHash) {
      throw new InputError(`${dir}: the run was started with a different config; resume with the same flags`);
    }
    if (scaler && state.lossScaler) {
      scaler.load(state.lossScaler);
      // AdamW counts only the updates it made (a skipped step makes none, as in torch).
      opt.load({ ...opt.state(), step: state.step - scaler.skippedSteps });
    }
  }
  const { newRunId } = await import("../results/run_record.ts");
  if (!state.runId) state.runId = `${newRunId()}-${cfg.preset}`;
  // Read (and so validate) the selection data before anything is written.
  await checkDevData(cfg);
  const record = await RunRecord.create(
    `${opts.resultsDir ?? "results"}/${cfg.experiment}`,
    state.runId,
    cfg as unknown as Record<string, unknown>,
    opts.backend,
  );
  record.truncateAfter(state.step);

  const evalEncoder = new SentenceEncoder(tokenizer, (x) => sm.embed(x), bert.config.maxPositionEmbeddings);
  const selectTask = SELECT_TASK[cfg.metricForBestModel];
  const devTasks: EvalTask[] = selectTask === "STSBenchmark"
    ? ["STSBenchmark", "SICKRelatedness"]
    : [selectTask];
  const evalDev = async () => {
    const r = await evaluate((s) => evalEncoder.embedBatch(s), {
      dataDir: cfg.dataDir,
      mode: "dev",
      tasks: devTasks,
    });
    return r.scores;
  };

  const signal = { stop: false };
  const onSigint = () => {
    if (signal.stop) Deno.exit(130);
    signal.stop = true;
    console.error("\ninterrupt: finishing this step, saving, then exiting (press Ctrl-C again to abort)");
  };
  try {
    Deno.addSignalListener("SIGINT", onSigint);
  } catch { /* signals unsupported on this platform */ }

  const t0 = performance.now();
  const startStep = state.step;
  let peakRss = 0;
  let status: TrainResult["status"] = "completed";
  let lastDev = "";
  const bar = new ProgressBar("train", total, "step", undefined, opts.progress ?? true);
  let order = epochOrder(n, cfg.seed, Math.floor(state.step / perEpoch));
  let orderEpoch = Math.floor(state.step / perEpoch);
  let initialScores: Record<string, number> | undefined;
  if (state.step === 0 && cfg.evalInitialModel && cfg.finalEvalTasks.length > 0) {
    const r = await evaluate((s) => evalEncoder.embedBatch(s), {
      dataDir: cfg.dataDir,
      mode: "test",
      tasks: cfg.finalEvalTasks as EvalTask[],
    });
    initialScores = r.scores;
    record.log({ step: 0, kind: "initial_test", ...initialScores });
  }
  if (state.step === 0) {
    const s0 = await evalDev();
    record.log({ step: 0, kind: "eval", ...s0 });
    lastDev = String(s0[selectTask]);
  }
  try {
    while (state.step < total && !signal.stop) {
      const step = state.step;
      const epoch = Math.floor(step / perEpoch);
      if (epoch !== orderEpoch) {
        order = epochOrder(n, cfg.seed, epoch);
        orderEpoch = epoch;
      }
      const batch = collate(data, batchIndices(order, step % perEpoch, cfg.batchSize), tokenizer.info.padId);
      const lr = cfg.learningRate * linearSchedule(step, total, cfg.warmupSteps);
      const masks = cfg.doMlm
        ? maskTokens(batch, tokenizer.info, cfg.mlmProbability, cfg.seed, step)
        : undefined;
      const lossScale = scaler?.scale;
      if (scaler && hasPrecisionSwitch(bert)) bert.precision = "fp16"; // training steps only
      const { lossValue, norm, skipped } = await trainStep(sm, vars, opt, batch, masks, {
        lr,
        maxGradNorm: cfg.maxGradNorm,
        dropoutAt: (off) => seededDropout(cfg.seed, step, off),
        padId: bert.paddingIdx,
        scaler,
      });
      if (scaler && hasPrecisionSwitch(bert)) bert.precision = "fp32";
      if (!Number.isFinite(lossValue)) {
        status = "diverged";
        console.error(
          `\nerror: loss is ${lossValue} at step ${
            step + 1
          }; stopping. The best checkpoint in ${cfg.outputDir} is intact.`,
        );
        record.log({ step: step + 1, kind: "diverged", loss: lossValue });
        break;
      }
      state.step = step + 1;
      peakRss = Math.max(peakRss, Deno.memoryUsage().rss);
      const fp16Log = scaler ? { lossScale, skipped, skippedSteps: scaler.skippedSteps } : {};
      if (scaler) state.lossScaler = scaler.state();
      record.log({ step: state.step, kind: "train", loss: lossValue, lr, gradNorm: norm, epoch, ...fp16Log });
      bar.update(state.step, {
        loss: lossValue.toFixed(4),
        ...(scaler ? { scale: String(scaler.scale) } : {}),
        ...(lastDev ? { dev: lastDev } : {}),
      });
      if (opts.stopAfterStep === state.step) signal.stop = true;

      const evalNow = state.step % cfg.evalSteps === 0 || state.step === total;
      if (evalNow) {
        const scores = await evalDev();
        const metric = scores[selectTask];
        const improved = state.bestMetric === null || metric > state.bestMetric;
        record.log({ step: state.step, kind: "eval", ...scores, improved });
        lastDev = String(metric);
        if (improved) {
          state.bestMetric = metric;
          state.bestStep = state.step;
          await saveBest(sm, cfg, tokenizer);
        }
      }
      if (evalNow || state.step % cfg.saveSteps === 0) {
        await saveTrainState(cfg.outputDir, vars, opt, state);
        await record.flush();
      }
    }
    if (status !== "diverged" && (signal.stop || state.step % cfg.saveSteps !== 0)) {
      await saveTrainState(cfg.outputDir, vars, opt, state);
    }
    if (signal.stop) status = "interrupted";
  } finally {
    try {
      Deno.removeSignalListener("SIGINT", onSigint);
    } catch { /* ignore */ }
  }
  bar.finish();
  const seconds = (performance.now() - t0) / 1000;
  const stepsPerSecond = (state.step - startStep) / Math.max(seconds, 1e-9);
  sm.dispose();

  let finalScores: Record<string, number> | undefined;
  if (status === "completed" && state.bestStep !== null && cfg.finalEvalTasks.length > 0) {
    const enc = await SentenceEncoder.load(cfg.outputDir, {
      pooler: cfg.poolerType === "cls" && cfg.mlpOnlyTrain ? "cls_before_pooler" : cfg.poolerType,
    });
    const r = await evaluate((s) => enc.embedBatch(s), {
      dataDir: cfg.dataDir,
      mode: "test",
      tasks: cfg.finalEvalTasks as EvalTask[],
    });
    enc.dispose();
    finalScores = r.scores;
  }
  await record.finish({
    status,
    steps: state.step,
    totalSteps: total,
    bestMetric: state.bestMetric,
    bestStep: state.bestStep,
    selectionMetric: cfg.metricForBestModel,
    finalScores,
    initialScores: initialScores ?? record.entries().find((e) => e.kind === "initial_test"),
    evalPooler: cfg.poolerType === "cls" && cfg.mlpOnlyTrain ? "cls_before_pooler" : cfg.poolerType,
    note: cfg.note,
    wallSeconds: seconds,
    stepsPerSecond,
    peakRssBytes: peakRss,
    backend: opts.backend,
    trainExamples: n,
    ...(scaler ? { fp16: true, finalLossScale: scaler.scale, skippedSteps: scaler.skippedSteps } : {}),
  });
  return {
    status,
    runDir: record.dir,
    bestMetric: state.bestMetric,
    bestStep: state.bestStep,
    finalScores,
    stepsPerSecond,
  };
}

/** Load the dev/valid data used for model selection, so a missing or malformed file fails up front. */
async function checkDevData(cfg: TrainConfig): Promise<void> {
  const task = SELECT_TASK[cfg.metricForBestModel];
  if (task === "STSBenchmark") {
    await loadStsBenchmark(cfg.dataDir, "dev");
    await loadSickRelatedness(cfg.dataDir, "dev");
  } else {
    await loadChinese(cfg.dataDir, task as "LCQMC" | "PAWSX", "valid");
  }
}

/** Save the current model as the best checkpoint: an HF folder of its architecture + tokenizer files. */
async function saveBest(sm: SimcseModel, cfg: TrainConfig, tokenizer: TextTokenizer): Promise<void> {
  // With mlpOnlyTrain the head is training-only and is not presented as BERT's pooler; otherwise it
  // becomes `pooler.dense` (the semantics of the official simcse_to_huggingface.py).
  const extra = new Map<string, tf.Tensor>();
  if (sm.mlp && !cfg.mlpOnlyTrain) {
    extra.set("pooler.dense.weight", sm.mlp.weight);
    extra.set("pooler.dense.bias", sm.mlp.bias);
  }
  await saveEncoder(sm.encoder, cfg.outputDir, { extra, metadata: { simcse_pooler: sm.evalPooler } });
  await tokenizer.saveTo(cfg.outputDir);
}

interface StepOptions {
  lr: number;
  maxGradNorm: number;
  dropoutAt: (siteOffset: number) => ReturnType<typeof seededDropout>;
  padId: number | null;
  /** Dynamic loss scaling (fp16): scale the loss, unscale the gradients, skip the step on Inf/NaN. */
  scaler?: LossScaler;
}

/** Tensors of a collated batch. */
export function batchTensors(
  batch: ReturnType<typeof collate>,
  masks?: { mlmInputIds: Int32Array; mlmLabels: Int32Array },
): TrainBatch {
  const shape: [number, number] = [batch.rows, batch.seqLen];
  return {
    inputIds: tf.tensor2d(batch.inputIds, shape, "int32"),
    attentionMask: tf.tensor2d(batch.attentionMask, shape, "int32"),
    tokenTypeIds: tf.tensor2d(batch.tokenTypeIds, shape, "int32"),
    numSent: batch.numSent,
    mlmInputIds: masks ? tf.tensor2d(masks.mlmInputIds, shape, "int32") : undefined,
    mlmLabels: masks ? tf.tensor1d(masks.mlmLabels, "int32") : undefined,
  };
}

/**
 * Loss and gradients for one batch (nothing applied): grads keyed by HF-style variable name. The
 * [PAD] row of the word embeddings gets no gradient, as with torch's `padding_idx`. With `lossScale`
 * the gradients are those of loss × lossScale (the returned loss is unscaled).
 */
export function lossAndGrads(
  sm: SimcseModel,
  vars: Map<string, tf.Variable>,
  tb: TrainBatch,
  dropoutAt: StepOptions["dropoutAt"],
  padId: number | null,
  lossScale?: number,
): { loss: tf.Scalar; grads: Map<string, tf.Tensor> } {
  const list = [...vars.values()];
  let unscaled: tf.Scalar | undefined;
  const f = lossScale === undefined ? () => sm.contrastiveLoss(tb, dropoutAt) : () => {
    unscaled = tf.keep(sm.contrastiveLoss(tb, dropoutAt));
    return tf.mul(unscaled, lossScale) as tf.Scalar;
  };
  const { value, grads } = tf.variableGrads(f, list);
  const byName = new Map<string, tf.Tensor>();
  for (const [n, v] of vars) {
    const g = grads[v.name];
    if (g) byName.set(n, g);
  }
  const weName = sm.encoder.wordEmbeddingName;
  const we = padId === null ? undefined : byName.get(weName);
  const weValues = we && padId !== null ? peekFloat32(we, true) : null;
  if (weValues && padId !== null) { // cpu: zero the [PAD] row in place
    const H = (we as tf.Tensor2D).shape[1]; // [V, H]
    weValues.fill(0, padId * H, (padId + 1) * H);
  } else if (we && padId !== null) {
    const [V] = we.shape;
    const keep = tf.tidy(() => tf.reshape(tf.sub(1, tf.oneHot(tf.scalar(padId, "int32"), V)), [V, 1]));
    byName.set(weName, tf.mul(we, keep));
    tf.dispose([we, keep]);
  }
  if (unscaled) value.dispose();
  return { loss: unscaled ?? value, grads: byName };
}

/**
 * One optimizer step; returns the loss, the gradient norm before clipping, and whether the step was
 * skipped (only with a loss scaler, when a gradient was Inf/NaN; the norm is then NaN). On the cpu
 * backend gradients and parameters are used in place; on other backends (webgpu allows no synchronous
 * reads) the loss, gradients and parameters are read in one asynchronous batch and updated with the
 * same float32 arithmetic.
 */
export async function trainStep(
  sm: SimcseModel,
  vars: Map<string, tf.Variable>,
  opt: AdamW,
  batch: ReturnType<typeof collate>,
  masks: { mlmInputIds: Int32Array; mlmLabels: Int32Array } | undefined,
  o: StepOptions,
): Promise<{ lossValue: number; norm: number; skipped: boolean }> {
  const tb = batchTensors(batch, masks);
  const { loss, grads } = lossAndGrads(sm, vars, tb, o.dropoutAt, o.padId, o.scaler?.scale);
  tf.dispose([
    tb.inputIds,
    tb.attentionMask,
    tb.tokenTypeIds,
    ...(tb.mlmInputIds ? [tb.mlmInputIds, tb.mlmLabels!] : []),
  ]);
  if (tf.getBackend() === "webgpu") return await deviceStep(vars, opt, loss, grads, o);
  if (tf.getBackend() !== "cpu") return await hostStep(vars, opt, loss, grads, o);
  const lossValue = loss.dataSync()[0];
  let norm = NaN;
  let skipped = false;
  if (Number.isFinite(lossValue)) {
    let g = grads;
    if (o.scaler) {
      const u = o.scaler.unscale(grads); // clipping sees true gradients, as with torch's unscale_
      g = u.grads;
      skipped = !u.finite;
      o.scaler.update(u.finite);
    }
    if (skipped) {
      tf.dispose([...g.values()]);
    } else {
      norm = globalGradNorm(g.values());
      opt.step(vars, g, o.lr, clipFactor(norm, o.maxGradNorm)); // clipping is folded into the update
      tf.dispose([...g.values()]);
    }
  } else {
    tf.dispose([...grads.values()]);
  }
  loss.dispose();
  return { lossValue, norm, skipped };
}

/** The rest of {@link trainStep} from one asynchronous read of loss, gradients and parameters. */
async function hostStep(
  vars: Map<string, tf.Variable>,
  opt: AdamW,
  loss: tf.Scalar,
  grads: Map<string, tf.Tensor>,
  o: StepOptions,
): Promise<{ lossValue: number; norm: number; skipped: boolean }> {
  const names = [...grads.keys()];
  let read: Float32Array[];
  try {
    read = await Promise.all([
      loss.data(),
      ...names.flatMap((n) => [grads.get(n)!.data(), vars.get(n)!.data()]),
    ]) as Float32Array[];
  } finally {
    tf.dispose([loss, ...grads.values()]);
  }
  const lossValue = read[0][0];
  if (!Number.isFinite(lossValue)) return { lossValue, norm: NaN, skipped: false };
  const gv = new Map<string, Float32Array>(), pv = new Map<string, Float32Array>();
  names.forEach((n, i) => {
    gv.set(n, read[1 + 2 * i]);
    pv.set(n, read[2 + 2 * i]);
  });
  if (o.scaler) {
    const finite = o.scaler.unscaleValues(gv.values()); // as torch's unscale_, before clipping
    o.scaler.update(finite);
    if (!finite) return { lossValue, norm: NaN, skipped: true };
  }
  const norm = globalGradNorm(gv.values());
  opt.stepValues(vars, gv, pv, o.lr, clipFactor(norm, o.maxGradNorm));
  return { lossValue, norm, skipped: false };
}

/**
 * The rest of {@link trainStep} on webgpu, where gradients, parameters and AdamW's moments stay on the
 * device: unscaling, the finiteness check and the squared gradient norm are tensor ops, and one
 * asynchronous read brings back three numbers (loss, squared norm, all-finite flag).
 */
async function deviceStep(
  vars: Map<string, tf.Variable>,
  opt: AdamW,
  loss: tf.Scalar,
  grads: Map<string, tf.Tensor>,
  o: StepOptions,
): Promise<{ lossValue: number; norm: number; skipped: boolean }> {
  let g = grads;
  if (o.scaler) {
    const inv = Math.fround(1 / o.scaler.scale); // as torch's unscale_, before clipping
    g = new Map([...grads].map(([n, t]) => [n, tf.mul(t, inv)]));
    tf.dispose([...grads.values()]);
  }
  const list = [...g.values()];
  const stats = tf.tidy(() => {
    // Pairwise adds, not addN/stack over every gradient: TF.js webgpu gives wrong results for ops with
    // more inputs than a shader may bind (seen with 55 gradients on lavapipe).
    const sum = (xs: tf.Tensor[]): tf.Tensor => {
      while (xs.length > 1) {
        const next: tf.Tensor[] = [];
        for (let i = 0; i < xs.length; i += 2) {
          next.push(i + 1 < xs.length ? tf.add(xs[i], xs[i + 1]) : xs[i]);
        }
        xs = next;
      }
      return xs[0];
    };
    const sq = sum(list.map((t) => tf.sum(tf.square(t))));
    const bad = sum(list.map((t) => tf.sum(tf.cast(tf.logicalNot(tf.isFinite(t)), "float32"))));
    return tf.stack([tf.reshape(loss, []), sq, tf.cast(tf.equal(bad, 0), "float32")]);
  });
  let read: Float32Array;
  try {
    read = await stats.data() as Float32Array;
  } finally {
    tf.dispose([stats, loss]);
  }
  const [lossValue, sq, finite] = read;
  let norm = NaN, skipped = false;
  if (Number.isFinite(lossValue)) {
    if (o.scaler) {
      o.scaler.update(finite === 1);
      skipped = finite !== 1;
    }
    if (!skipped) {
      norm = Math.sqrt(sq);
      opt.stepOnDevice(vars, g, o.lr, clipFactor(norm, o.maxGradNorm));
    }
  }
  tf.dispose(list);
  return { lossValue, norm, skipped };
}
