/**
 * One SimCSE optimizer step (docs/SIMCSE.md, "Training"): the batch as tensors, loss and gradients
 * (the [PAD] row of the word embeddings gets none, as with torch's `padding_idx`), then clipping and
 * AdamW. The run around it (setup, resume, dev selection, final evaluation) is `run.ts`.
 *
 * @module
 */
import { tf } from "../runtime/tf.ts";
import type { seededDropout } from "../ops/dropout.ts";
import { peekFloat32 } from "../kernels/mod.ts";
import type { collate } from "../data/batches.ts";
import { type AdamW, clipFactor, globalGradNorm } from "./adamw.ts";
import type { LossScaler } from "./loss_scaler.ts";
import { captureRowGradient, RowGradient } from "../ops/row_gradient.ts";
import type { SimcseModel, TrainBatch } from "../simcse/simcse_model.ts";

interface StepOptions {
  lr: number;
  maxGradNorm: number;
  dropoutAt: (siteOffset: number) => ReturnType<typeof seededDropout>;
  padId: number | null;
  /** Dynamic loss scaling (fp16): scale the loss, unscale the gradients, skip the step on Inf/NaN. */
  scaler?: LossScaler;
  /** Without a scaler, skip (and report `skipped`) a step whose gradient norm is not finite (bf16). */
  skipNonFinite?: boolean;
  /** On cpu, the word embeddings' gradient as rows (default true; false: the dense tensor, for tests). */
  wordRows?: boolean;
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
  return gradients(sm, vars, tb, dropoutAt, padId, lossScale, false) as {
    loss: tf.Scalar;
    grads: Map<string, tf.Tensor>;
  };
}

/**
 * {@link lossAndGrads}; with `wordRows`, the word embeddings' gradient as a {@link RowGradient}
 * (lib/ops/row_gradient.ts), in its place in the map.
 */
function gradients(
  sm: SimcseModel,
  vars: Map<string, tf.Variable>,
  tb: TrainBatch,
  dropoutAt: StepOptions["dropoutAt"],
  padId: number | null,
  lossScale: number | undefined,
  wordRows: boolean,
): { loss: tf.Scalar; grads: Map<string, tf.Tensor | RowGradient> } {
  const weName = sm.encoder.wordEmbeddingName;
  const table = wordRows ? vars.get(weName) : undefined;
  const list = [...vars.values()].filter((v) => v !== table);
  let unscaled: tf.Scalar | undefined;
  const f = lossScale === undefined ? () => sm.contrastiveLoss(tb, dropoutAt) : () => {
    unscaled = tf.keep(sm.contrastiveLoss(tb, dropoutAt));
    return tf.mul(unscaled, lossScale) as tf.Scalar;
  };
  const capture = table ? captureRowGradient(table) : undefined;
  let value: tf.Scalar, grads: tf.NamedTensorMap;
  try {
    ({ value, grads } = tf.variableGrads(f, capture ? [...list, capture.probe] : list));
  } catch (e) {
    capture?.cancel();
    throw e;
  }
  const rows = capture?.end();
  if (capture) grads[capture.probe.name]?.dispose();
  const byName = new Map<string, tf.Tensor | RowGradient>();
  for (const [n, v] of vars) {
    const g = v === table ? rows : grads[v.name];
    if (g) byName.set(n, g);
  }
  const we = padId === null ? undefined : byName.get(weName);
  if (we instanceof RowGradient) we.zeroRow(padId!);
  const weValues = we instanceof tf.Tensor && padId !== null ? peekFloat32(we, true) : null;
  if (weValues && padId !== null) { // cpu: zero the [PAD] row in place
    const H = (we as tf.Tensor2D).shape[1]; // [V, H]
    weValues.fill(0, padId * H, (padId + 1) * H);
  } else if (we instanceof tf.Tensor && padId !== null) {
    const [V] = we.shape;
    const keep = tf.tidy(() => tf.reshape(tf.sub(1, tf.oneHot(tf.scalar(padId, "int32"), V)), [V, 1]));
    byName.set(weName, tf.mul(we, keep));
    tf.dispose([we, keep]);
  }
  if (unscaled) value.dispose();
  return { loss: unscaled ?? value, grads: byName };
}

/** Dispose gradients (tensors, and the storage of row gradients). */
function disposeGrads(grads: Iterable<tf.Tensor | RowGradient>): void {
  for (const g of grads) g.dispose();
}

/**
 * One optimizer step; returns the loss, the gradient norm before clipping, and whether the step was
 * skipped (with a loss scaler, when a gradient was Inf/NaN, the norm then NaN; with `skipNonFinite`, when
 * the norm is not finite). On the cpu
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
  // On cpu the word embeddings' gradient comes as rows (lib/ops/row_gradient.ts), unless the MLM
  // objective looks the table up a second time; other backends read every gradient back (dense).
  const wordRows = tf.getBackend() === "cpu" && !masks && (o.wordRows ?? true);
  const { loss, grads } = gradients(sm, vars, tb, o.dropoutAt, o.padId, o.scaler?.scale, wordRows);
  tf.dispose([
    tb.inputIds,
    tb.attentionMask,
    tb.tokenTypeIds,
    ...(tb.mlmInputIds ? [tb.mlmInputIds, tb.mlmLabels!] : []),
  ]);
  if (!wordRows) {
    const dense = grads as Map<string, tf.Tensor>;
    if (tf.getBackend() === "webgpu") return await deviceStep(vars, opt, loss, dense, o);
    if (tf.getBackend() !== "cpu") return await hostStep(vars, opt, loss, dense, o);
  }
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
    if (!skipped) {
      norm = globalGradNorm(g.values());
      skipped = o.skipNonFinite === true && !o.scaler && !Number.isFinite(norm);
      if (!skipped) opt.step(vars, g, o.lr, clipFactor(norm, o.maxGradNorm)); // clipping folded into the update
    }
    disposeGrads(g.values());
  } else {
    disposeGrads(grads.values());
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
  if (o.skipNonFinite && !Number.isFinite(norm)) return { lossValue, norm, skipped: true };
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
      skipped = o.skipNonFinite === true && !o.scaler && (finite !== 1 || !Number.isFinite(norm));
      if (!skipped) opt.stepOnDevice(vars, g, o.lr, clipFactor(norm, o.maxGradNorm));
    }
  }
  tf.dispose(list);
  return { lossValue, norm, skipped };
}
