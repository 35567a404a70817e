/**
 * A SimCSE training run (docs/SIMCSE.md, "Training"): build the model and the data, resume, run the
 * step loop with dev selection, then the final test table from the best checkpoint. Each part is its
 * own function; `train()` composes them.
 *
 * - AdamW + linear decay, global-norm clipping; evaluation every `evalSteps` on STS-B dev (and SICK-R
 *   dev) keeping the checkpoint only when the selection metric strictly improves.
 * - Interruptions lose nothing: a resume state is written atomically every `saveSteps` and at every
 *   evaluation; Ctrl-C finishes the current step, saves and exits; `resume` continues with the same
 *   data order and dropout masks. A NaN/Inf loss stops the run with the last good checkpoint intact.
 * - `precision` is an argument of the training forward passes (`ForwardOptions.precision`), never
 *   state of the model. In fp16 the steps run under dynamic loss scaling (`loss_scaler.ts`: a step
 *   whose gradients overflow is skipped and the scale halves; scale and skipped steps are logged).
 *   bf16 has float32's exponent range and needs no scaling; a step whose gradients are not finite is
 *   still skipped and logged as an overflow. Evaluation runs in fp32.
 *
 * @module
 */
import type { tf } from "../runtime/tf.ts";
import { InputError } from "../runtime/errors.ts";
import { BertModel } from "../model/bert.ts";
import { bertConfigFromJson } from "../model/bert_config.ts";
import type { Encoder, TextTokenizer } from "../model/encoder.ts";
import { checkPrecision, parsePrecision, type Precision } from "../ops/precision.ts";
import { loadEncoder, saveEncoder } from "../model/registry.ts";
import { seededDropout } from "../ops/dropout.ts";
import { BertTokenizer } from "../tokenizer/bert_tokenizer.ts";
import { SentenceEncoder } from "../simcse/sentence_encoder.ts";
import { type EvalTask, evaluate } from "../eval/sts_eval.ts";
import { alignUniform } from "../eval/alignment_uniformity.ts";
import { ProgressBar } from "../runtime/progress.ts";
import { loadChinese, loadSickRelatedness, loadStsBenchmark } from "../eval/sts_data.ts";
import { newRunId, RunRecord } from "../results/run_record.ts";
import { loadTrainFile } from "../data/train_corpus.ts";
import {
  batchIndices,
  collate,
  epochOrder,
  maskTokens,
  tokenizeExamples,
  totalSteps,
} from "../data/batches.ts";
import { AdamW, linearSchedule } from "./adamw.ts";
import { LossScaler, type LossScalerState } from "./loss_scaler.ts";
import { MlpHead } from "../simcse/mlp_head.ts";
import { MlmHead } from "../simcse/mlm_head.ts";
import { evalPoolerOf, SimcseModel } from "../simcse/simcse_model.ts";
import type { TrainConfig } from "./train_config.ts";
import { findTrainState, loadTrainState, saveTrainState, type TrainerState } from "./train_state.ts";
import { trainStep } from "./loop.ts";
import { claimRunFolder } from "./run_folder.ts";

/** How {@link train} runs, beyond the configuration: backend, resuming, where records go. */
export interface TrainOptions {
  /** Backend in use (recorded). */
  backend: string;
  /** Continue from `<outputDir>/resume/`. */
  resume?: boolean;
  /** Replace the resume state and checkpoint of another run in `outputDir` (else refused). */
  overwrite?: boolean;
  /** Root of run records (default `results/`). */
  resultsDir?: string;
  /** Show the progress bar (default true). */
  progress?: boolean;
  /** Behave as if Ctrl-C came right after this step (save and stop); for tests of resuming. */
  stopAfterStep?: number;
}

/** What a finished (or stopped) {@link train} run reports. */
export interface TrainResult {
  /** "completed": every step ran; "interrupted": stopped by Ctrl-C (resumable); "diverged": a NaN/Inf loss. */
  status: "completed" | "interrupted" | "diverged";
  /** The run record folder (`<resultsDir>/<experiment>/<runId>`). */
  runDir: string;
  /** Best dev selection metric (Spearman × 100, as the evaluator's `scores`); null when no step was evaluated. */
  bestMetric: number | null;
  /** Step of the best checkpoint (saved in `outputDir`), or null when none was saved. */
  bestStep: number | null;
  /** Test scores of the best checkpoint (column name -> Spearman × 100); only for completed runs. */
  finalScores?: Record<string, number>;
  /** Optimizer steps per second of wall-clock time over this session's steps (evaluations included). */
  stepsPerSecond: number;
}

/** Selection metric name -> dev task. */
const SELECT_TASK: Record<TrainConfig["metricForBestModel"], EvalTask> = {
  stsb_spearman: "STSBenchmark",
  lcqmc_spearman: "LCQMC",
  pawsx_spearman: "PAWSX",
};

/** The run's state as saved for resuming. */
type RunState = TrainerState & { lossScaler?: LossScalerState };

/** The encoder and tokenizer a run starts from: `cfg.randomInit`, else the checkpoint in `cfg.modelDir`. */
export async function buildModel(
  cfg: TrainConfig,
): Promise<{ encoder: Encoder; tokenizer: TextTokenizer }> {
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
    return { encoder: BertModel.init(config, cfg.seed, false), tokenizer };
  }
  return await loadEncoder(cfg.modelDir);
}

/** SimCSE around `encoder` as configured: the MLP head for `cls`, the MLM head for `doMlm`. */
export function buildSimcse(encoder: Encoder, cfg: TrainConfig, precision: Precision): SimcseModel {
  const c = encoder.config, H = c.hiddenSize;
  const mlp = cfg.poolerType === "cls" ? MlpHead.init(H, c.initializerRange, cfg.seed + 1) : undefined;
  const mlm = cfg.doMlm
    ? MlmHead.init(H, c.vocabSize, c.initializerRange, c.layerNormEps, cfg.seed + 2)
    : undefined;
  return new SimcseModel(
    encoder,
    {
      poolerType: cfg.poolerType,
      mlpOnlyTrain: cfg.mlpOnlyTrain,
      temp: cfg.temp,
      hardNegativeWeight: cfg.hardNegativeWeight,
      mlmWeight: cfg.mlmWeight,
      checkpointLayers: cfg.gradientCheckpointing,
      precision,
    },
    mlp,
    mlm,
  );
}

/** The training data, tokenized once (truncated to `maxSeqLength`), and the step counts it gives. */
async function loadData(cfg: TrainConfig, tokenizer: TextTokenizer) {
  const examples = await loadTrainFile(cfg.trainFile);
  if (cfg.maxTrainExamples !== undefined) examples.rows = examples.rows.slice(0, cfg.maxTrainExamples);
  const data = tokenizeExamples(examples, tokenizer, cfg.maxSeqLength);
  const n = examples.rows.length;
  return {
    data,
    n,
    total: totalSteps(n, cfg.batchSize, cfg.numTrainEpochs, cfg.maxSteps),
    perEpoch: Math.ceil(n / cfg.batchSize),
  };
}

/** A digest of the resolved config (SHA-256 of its JSON), to refuse resuming with a different one. */
export async function configDigest(cfg: TrainConfig): Promise<string> {
  const bytes = new TextEncoder().encode(JSON.stringify(cfg));
  const hash = new Uint8Array(await crypto.subtle.digest("SHA-256", bytes));
  return "sha256:" + Array.from(hash, (b) => b.toString(16).padStart(2, "0")).join("");
}

/** A fresh state, or the saved one with variables, optimizer and loss scale restored. */
async function startState(
  cfg: TrainConfig,
  vars: Map<string, tf.Variable>,
  opt: AdamW,
  scaler: LossScaler | undefined,
  resume: boolean,
): Promise<RunState> {
  const configHash = await configDigest(cfg);
  const fresh: RunState = { step: 0, bestMetric: null, bestStep: null, runId: "", configHash };
  if (!resume) return fresh;
  const dir = await findTrainState(cfg.outputDir);
  if (!dir) throw new InputError(`no resume state under ${cfg.outputDir}/resume; start without --resume`);
  const state: RunState = await loadTrainState(dir, vars, opt);
  // States written before the digest hold the config's JSON itself.
  if (state.configHash !== configHash && state.configHash !== JSON.stringify(cfg)) {
    throw new InputError(`${dir}: the run was started with a different config; resume with the same flags`);
  }
  state.configHash = configHash;
  if (scaler && state.lossScaler) {
    scaler.load(state.lossScaler);
    // AdamW counts only the updates it made (a skipped step makes none, as in torch).
    opt.load({ ...opt.state(), step: state.step - scaler.skippedSteps });
  }
  return state;
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

/** Dev (selection) and test evaluation of the model being trained, in fp32 with dropout off. */
function evaluators(cfg: TrainConfig, sm: SimcseModel, tokenizer: TextTokenizer) {
  const enc = new SentenceEncoder(tokenizer, (x) => sm.embed(x), sm.encoder.config.maxPositionEmbeddings);
  const embed = (s: string[]) => enc.embedBatch(s);
  const selectTask = SELECT_TASK[cfg.metricForBestModel];
  const devTasks: EvalTask[] = selectTask === "STSBenchmark"
    ? ["STSBenchmark", "SICKRelatedness"]
    : [selectTask];
  return {
    selectTask,
    dev: async () => {
      // STS-B dev's sentences are embedded once: align/uniform reads back what the evaluation made.
      const seen = new Map<string, Float32Array>();
      const recording = async (s: string[]) => {
        const out = await embed(s);
        s.forEach((x, i) => seen.set(x, out[i]));
        return out;
      };
      const scores =
        (await evaluate(recording, { dataDir: cfg.dataDir, mode: "dev", tasks: devTasks })).scores;
      if (selectTask !== "STSBenchmark" || !cfg.alignUniform) return scores;
      const cached = async (s: string[]) => {
        const missing = s.filter((x) => !seen.has(x));
        if (missing.length > 0) (await embed(missing)).forEach((v, i) => seen.set(missing[i], v));
        return s.map((x) => seen.get(x)!);
      };
      const au = await alignUniform(cached, cfg.dataDir); // SimCSE's Figure 2 coordinates, on STS-B dev
      return { ...scores, align: au.align, uniform: au.uniform };
    },
    test: async () =>
      (await evaluate(embed, { dataDir: cfg.dataDir, mode: "test", tasks: cfg.finalEvalTasks as EvalTask[] }))
        .scores,
  };
}

/** Ctrl-C handling: the first press asks the loop to stop after this step, the second aborts. */
function interruptSignal(): { stop: boolean; remove(): void } {
  const signal = { stop: false, remove: () => {} };
  const onSigint = () => {
    if (signal.stop) Deno.exit(130);
    signal.stop = true;
    console.error("\ninterrupt: finishing this step, saving, then exiting (press Ctrl-C again to abort)");
  };
  try {
    Deno.addSignalListener("SIGINT", onSigint);
    signal.remove = () => {
      try {
        Deno.removeSignalListener("SIGINT", onSigint);
      } catch { /* ignore */ }
    };
  } catch { /* signals unsupported on this platform */ }
  return signal;
}

/** Everything the step loop works with. */
interface LoopContext {
  cfg: TrainConfig;
  opts: TrainOptions;
  sm: SimcseModel;
  vars: Map<string, tf.Variable>;
  opt: AdamW;
  scaler?: LossScaler;
  tokenizer: TextTokenizer;
  data: Awaited<ReturnType<typeof loadData>>;
  record: RunRecord;
  evals: ReturnType<typeof evaluators>;
  state: RunState;
  signal: { stop: boolean };
}

/** Steps until done, interrupted or diverged; evaluates, checkpoints and saves the resume state on the way. */
async function stepLoop(
  c: LoopContext,
  lastDev: string,
): Promise<{ status: TrainResult["status"]; peakRss: number }> {
  const { cfg, opts, sm, vars, opt, scaler, tokenizer, record, state, signal } = c;
  const { data, n, total, perEpoch } = c.data;
  let peakRss = 0;
  let status: TrainResult["status"] = "completed";
  const bar = new ProgressBar("train", total, "step", undefined, opts.progress ?? true);
  let orderEpoch = Math.floor(state.step / perEpoch);
  let order = epochOrder(n, cfg.seed, orderEpoch);
  while (state.step < total && !signal.stop) {
    const step = state.step;
    const epoch = Math.floor(step / perEpoch);
    if (epoch !== orderEpoch) order = epochOrder(n, cfg.seed, orderEpoch = epoch);
    const batch = collate(data, batchIndices(order, step % perEpoch, cfg.batchSize), tokenizer.info.padId);
    const lr = cfg.learningRate * linearSchedule(step, total, cfg.warmupSteps);
    const masks = cfg.doMlm
      ? maskTokens(batch, tokenizer.info, cfg.mlmProbability, cfg.seed, step)
      : undefined;
    const lossScale = scaler?.scale;
    const { lossValue, norm, skipped } = await trainStep(sm, vars, opt, batch, masks, {
      lr,
      maxGradNorm: cfg.maxGradNorm,
      dropoutAt: (off) => seededDropout(cfg.seed, step, off),
      padId: sm.encoder.paddingIdx,
      scaler,
      skipNonFinite: cfg.precision === "bf16",
    });
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
    const precisionLog = scaler
      ? { lossScale, skipped, skippedSteps: scaler.skippedSteps }
      : skipped
      ? { skipped, overflow: true }
      : {};
    if (scaler) state.lossScaler = scaler.state();
    record.log({
      step: state.step,
      kind: "train",
      loss: lossValue,
      lr,
      gradNorm: norm,
      epoch,
      ...precisionLog,
    });
    bar.update(state.step, {
      loss: lossValue.toFixed(4),
      ...(scaler ? { scale: String(scaler.scale) } : {}),
      ...(lastDev ? { dev: lastDev } : {}),
    });
    if (opts.stopAfterStep === state.step) signal.stop = true;
    const evalNow = state.step % cfg.evalSteps === 0 || state.step === total;
    if (evalNow) lastDev = await selectOnDev(c);
    if (evalNow || state.step % cfg.saveSteps === 0) {
      await saveTrainState(cfg.outputDir, vars, opt, state);
      await record.flush();
    }
  }
  if (status !== "diverged" && (signal.stop || state.step % cfg.saveSteps !== 0)) {
    await saveTrainState(cfg.outputDir, vars, opt, state);
  }
  if (signal.stop && status !== "diverged") status = "interrupted";
  bar.finish();
  return { status, peakRss };
}

/** Evaluate on dev, log it, and save the checkpoint when the selection metric improved; returns the metric. */
async function selectOnDev(c: LoopContext): Promise<string> {
  const { state, record, evals } = c;
  const scores = await evals.dev();
  const metric = scores[evals.selectTask];
  const improved = state.bestMetric === null || metric > state.bestMetric;
  record.log({ step: state.step, kind: "eval", ...scores, improved });
  if (improved) {
    state.bestMetric = metric;
    state.bestStep = state.step;
    await saveBest(c.sm, c.cfg, c.tokenizer);
  }
  return String(metric);
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

/** The test table of the best checkpoint, read back from `cfg.outputDir` with the evaluation pooler. */
async function finalTest(cfg: TrainConfig): Promise<Record<string, number>> {
  const enc = await SentenceEncoder.load(cfg.outputDir, { pooler: evalPoolerOf(cfg) });
  try {
    const r = await evaluate((s) => enc.embedBatch(s), {
      dataDir: cfg.dataDir,
      mode: "test",
      tasks: cfg.finalEvalTasks as EvalTask[],
    });
    return r.scores;
  } finally {
    enc.dispose();
  }
}

/** The run record's summary (`summary.json`). */
function summaryOf(
  cfg: TrainConfig,
  opts: TrainOptions,
  r: {
    status: TrainResult["status"];
    state: RunState;
    total: number;
    n: number;
    precision: Precision;
    scaler?: LossScaler;
  },
  measured: Record<string, unknown>,
): Record<string, unknown> {
  const { status, state, scaler } = r;
  return {
    status,
    steps: state.step,
    totalSteps: r.total,
    bestMetric: state.bestMetric,
    bestStep: state.bestStep,
    selectionMetric: cfg.metricForBestModel,
    finalScores: measured.finalScores,
    initialScores: measured.initialScores,
    evalPooler: evalPoolerOf(cfg),
    note: cfg.note,
    wallSeconds: measured.wallSeconds,
    stepsPerSecond: measured.stepsPerSecond,
    peakRssBytes: measured.peakRssBytes,
    backend: opts.backend,
    trainExamples: r.n,
    ...(r.precision !== "fp32" ? { precision: r.precision } : {}),
    ...(scaler ? { fp16: true, finalLossScale: scaler.scale, skippedSteps: scaler.skippedSteps } : {}),
  };
}

/**
 * Train SimCSE as configured; writes the best checkpoint to `cfg.outputDir` and a run record. The run
 * owns its folder while it trains (`run_folder.ts`: a lock, and no fresh run over another run's state).
 */
export async function train(cfg: TrainConfig, opts: TrainOptions): Promise<TrainResult> {
  const modelDir = cfg.randomInit ? undefined : cfg.modelDir;
  const release = await claimRunFolder(cfg.outputDir, { ...opts, modelDir });
  try {
    return await trainInOwnFolder(cfg, opts);
  } finally {
    await release();
  }
}

async function trainInOwnFolder(cfg: TrainConfig, opts: TrainOptions): Promise<TrainResult> {
  const precision = parsePrecision(cfg.precision);
  const { encoder, tokenizer } = await buildModel(cfg);
  if (cfg.dropout !== undefined) encoder.setDropout(cfg.dropout);
  try {
    checkPrecision(precision, encoder.precisions, encoder.kind);
  } catch (e) {
    encoder.dispose();
    throw e;
  }
  const scaler = precision === "fp16" ? new LossScaler() : undefined;
  const sm = buildSimcse(encoder, cfg, precision);
  const vars = sm.namedVariables();
  const data = await loadData(cfg, tokenizer);
  const opt = new AdamW({ weightDecay: cfg.weightDecay });
  const state = await startState(cfg, vars, opt, scaler, opts.resume ?? false);
  if (!state.runId) state.runId = `${newRunId()}-${cfg.preset}`;
  await checkDevData(cfg); // read (and so validate) the selection data before anything is written
  const record = await RunRecord.create(
    `${opts.resultsDir ?? "results"}/${cfg.experiment}`,
    state.runId,
    cfg as unknown as Record<string, unknown>,
    opts.backend,
  );
  record.truncateAfter(state.step);
  const evals = evaluators(cfg, sm, tokenizer);
  const signal = interruptSignal();
  const t0 = performance.now();
  const startStep = state.step;
  let initialScores: Record<string, number> | undefined;
  let lastDev = "";
  if (state.step === 0 && cfg.evalInitialModel && cfg.finalEvalTasks.length > 0) {
    initialScores = await evals.test();
    record.log({ step: 0, kind: "initial_test", ...initialScores });
  }
  if (state.step === 0) {
    const s0 = await evals.dev();
    record.log({ step: 0, kind: "eval", ...s0 });
    lastDev = String(s0[evals.selectTask]);
  }
  let loop: Awaited<ReturnType<typeof stepLoop>>;
  try {
    loop = await stepLoop(
      { cfg, opts, sm, vars, opt, scaler, tokenizer, data, record, evals, state, signal },
      lastDev,
    );
  } finally {
    signal.remove();
  }
  const seconds = (performance.now() - t0) / 1000;
  const stepsPerSecond = (state.step - startStep) / Math.max(seconds, 1e-9);
  sm.dispose();
  opt.dispose(); // AdamW's moments (device tensors on webgpu)
  const { status, peakRss } = loop;
  const finalScores = status === "completed" && state.bestStep !== null && cfg.finalEvalTasks.length > 0
    ? await finalTest(cfg)
    : undefined;
  await record.finish(
    summaryOf(cfg, opts, { status, state, total: data.total, n: data.n, precision, scaler }, {
      finalScores,
      initialScores: initialScores ?? record.entries().find((e) => e.kind === "initial_test"),
      wallSeconds: seconds,
      stepsPerSecond,
      peakRssBytes: peakRss,
    }),
  );
  return {
    status,
    runDir: record.dir,
    bestMetric: state.bestMetric,
    bestStep: state.bestStep,
    finalScores,
    stepsPerSecond,
  };
}
