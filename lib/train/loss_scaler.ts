/**
 * Dynamic loss scaling with PyTorch `torch.cuda.amp.GradScaler` semantics, for fp16 training (SimCSE-Jittor
 * had none; docs/SIMCSE.md §d.1). The loss is multiplied by `scale` before the backward pass so that small
 * gradients survive fp16 rounding; the gradients are divided by it again (`unscale`) before clipping
 * and the optimizer step. When any gradient is Inf or NaN the step is skipped and the scale halves;
 * after `growthInterval` consecutive clean steps it doubles.
 *
 * Defaults as GradScaler: initial scale 2^16, growth ×2 every 2000 clean steps, back-off ×0.5.
 *
 * @example
 * ```ts
 * import { tf } from "../runtime/tf.ts";
 * import { LossScaler } from "./loss_scaler.ts";
 * const scaler = new LossScaler();
 * const { grads, finite } = scaler.unscale(new Map([["w", tf.tensor1d([65536, Infinity])]]));
 * scaler.update(finite); // finite is false: skip the optimizer step; scaler.scale is now 32768
 * tf.dispose([...grads.values()]);
 * ```
 * @module
 */
import { tf } from "../runtime/tf.ts";
import { nativeKernels, peekFloat32 } from "../kernels/mod.ts";
import { RowGradient } from "../ops/row_gradient.ts";

/** d *= inv in place (float32 products); whether every product is finite. */
function scaleFiniteJs(d: Float32Array, inv: number): boolean {
  let finite = true;
  for (let i = 0; i < d.length; i++) {
    d[i] = d[i] * inv;
    if (!Number.isFinite(d[i])) finite = false;
  }
  return finite;
}

export interface LossScalerOptions {
  /** Initial scale (2^16). */
  initScale?: number;
  /** Multiplier after `growthInterval` clean steps (2). */
  growthFactor?: number;
  /** Multiplier after a step with Inf/NaN gradients (0.5). */
  backoffFactor?: number;
  /** Clean steps between growths (2000). */
  growthInterval?: number;
}

/** What a resume state keeps of the scaler. */
export interface LossScalerState {
  scale: number;
  growthTracker: number;
  skippedSteps: number;
}

/** True when every element of every gradient is finite (no Inf, no NaN). */
export function allFinite(grads: Iterable<tf.Tensor | Float32Array>): boolean {
  for (const g of grads) {
    const d = g instanceof Float32Array ? g : g.dataSync();
    for (let i = 0; i < d.length; i++) {
      if (!Number.isFinite(d[i])) return false;
    }
  }
  return true;
}

export class LossScaler {
  readonly growthFactor: number;
  readonly backoffFactor: number;
  readonly growthInterval: number;
  private s: number;
  private tracker = 0;
  private skipped = 0;

  constructor(opts: LossScalerOptions = {}) {
    this.s = opts.initScale ?? 2 ** 16;
    this.growthFactor = opts.growthFactor ?? 2;
    this.backoffFactor = opts.backoffFactor ?? 0.5;
    this.growthInterval = opts.growthInterval ?? 2000;
    if (!(this.s > 0) || !(this.growthFactor > 1) || !(this.backoffFactor > 0 && this.backoffFactor < 1)) {
      throw new Error("LossScaler: need initScale > 0, growthFactor > 1 and 0 < backoffFactor < 1");
    }
    if (!Number.isInteger(this.growthInterval) || this.growthInterval < 1) {
      throw new Error("LossScaler: growthInterval must be a positive integer");
    }
  }

  /** The current loss scale. */
  get scale(): number {
    return this.s;
  }

  /** Clean steps since the last growth or back-off. */
  get growthTracker(): number {
    return this.tracker;
  }

  /** Steps skipped so far because of Inf/NaN gradients. */
  get skippedSteps(): number {
    return this.skipped;
  }

  /** loss × scale (a new tensor). */
  scaleLoss(loss: tf.Scalar): tf.Scalar {
    return tf.mul(loss, this.s);
  }

  /**
   * Divide every gradient by the scale (GradScaler.unscale_) and check them for Inf/NaN. Takes over the
   * given gradients: on the cpu backend a gradient that is its data's sole holder is divided in place
   * and returned itself; any other is disposed and replaced by a new tensor.
   */
  unscale<G extends tf.Tensor | RowGradient>(
    grads: Map<string, G>,
  ): { grads: Map<string, G>; finite: boolean } {
    const inv = Math.fround(1 / this.s); // as torch: the reciprocal in double, then float32
    const out = new Map<string, G>();
    const k = nativeKernels();
    let finite = true;
    const done = new Map<tf.Tensor, tf.Tensor>(); // one tensor under two names is divided once
    for (const [n, gr] of grads) {
      if (gr instanceof RowGradient) { // rows: in place (the absent rows are zeros, which stay so)
        finite = (k ? k.scaleFinite(gr.rows, gr.rows.length, inv) : scaleFiniteJs(gr.rows, inv)) && finite;
        out.set(n, gr);
        continue;
      }
      const g: tf.Tensor = gr;
      const prev = done.get(g);
      if (prev) {
        out.set(n, tf.clone(prev) as G);
        continue;
      }
      // cpu backend, sole holder: in place, checked in the same pass (as torch's
      // `_amp_foreach_non_finite_check_and_unscale_`), with no new tensor.
      const d = peekFloat32(g, true);
      let u = g;
      if (d) {
        finite = (k ? k.scaleFinite(d, d.length, inv) : scaleFiniteJs(d, inv)) && finite;
      } else {
        u = tf.mul(g, inv);
        g.dispose();
        finite = finite && allFinite([u]); // checked after unscaling
      }
      out.set(n, u as G);
      done.set(g, u);
    }
    return { grads: out, finite };
  }

  /**
   * {@link unscale} on gradient values already read to the host (backends without synchronous reads,
   * such as webgpu): divides them in place, with the same float32 arithmetic, and returns whether all
   * are finite.
   */
  unscaleValues(values: Iterable<Float32Array>): boolean {
    const inv = Math.fround(1 / this.s);
    let finite = true;
    for (const d of values) finite = scaleFiniteJs(d, inv) && finite;
    return finite;
  }

  /**
   * After a step (GradScaler.update): back off and count a skipped step when the gradients were not
   * finite; otherwise count a clean step and grow the scale every `growthInterval` of them.
   */
  update(finite: boolean): void {
    if (!finite) {
      this.s *= this.backoffFactor;
      this.tracker = 0;
      this.skipped++;
      return;
    }
    this.tracker++;
    if (this.tracker === this.growthInterval) {
      this.s *= this.growthFactor;
      this.tracker = 0;
    }
  }

  state(): LossScalerState {
    return { scale: this.s, growthTracker: this.tracker, skippedSteps: this.skipped };
  }

  load(state: LossScalerState): void {
    if (!(state.scale > 0) || !(state.growthTracker >= 0) || !(state.skippedSteps >= 0)) {
      throw new Error(`LossScaler: invalid state ${JSON.stringify(state)}`);
    }
    this.s = state.scale;
    this.tracker = state.growthTracker;
    this.skipped = state.skippedSteps;
  }
}
