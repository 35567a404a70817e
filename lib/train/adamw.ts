/**
 * AdamW with decoupled weight decay, exactly Hugging Face `transformers.AdamW` (4.2.1, used by
 * SimCSE's Trainer; docs/SIMCSE.md §b.1): m = β1 m + (1-β1) g; v = β2 v + (1-β2) g²;
 * p -= lr·sqrt(1-β2^t)/(1-β1^t) · m / (sqrt(v) + eps); then p -= lr·wd·p. Parameters whose name
 * contains "bias" or "LayerNorm.weight" get no decay (the Trainer's two parameter groups).
 * TF.js ships no AdamW. The state is plain Float32Arrays so it can be saved and restored exactly.
 *
 * @example
 * ```ts
 * import { tf } from "../runtime/tf.ts";
 * import { AdamW } from "./adamw.ts";
 * const p = tf.variable(tf.tensor1d([1, 2]));
 * const opt = new AdamW({ weightDecay: 0.01 });
 * opt.step(new Map([["w", p]]), new Map([["w", tf.tensor1d([0.1, -0.1])]]), 1e-3);
 * ```
 * @module
 */
import { tf } from "../runtime/tf.ts";
import { exclusiveFloat32, nativeKernels, peekFloat32, webgpuAdamW } from "../kernels/mod.ts";
import { RowGradient } from "../ops/row_gradient.ts";

export interface AdamWOptions {
  beta1?: number;
  beta2?: number;
  eps?: number;
  weightDecay?: number;
}

/** Whether a parameter name is excluded from weight decay (HF Trainer's `no_decay` list). */
export function noDecay(name: string): boolean {
  return name.includes("bias") || name.includes("LayerNorm.weight");
}

export interface AdamWState {
  step: number;
  m: Record<string, Float32Array>;
  v: Record<string, Float32Array>;
}

export class AdamW {
  readonly beta1: number;
  readonly beta2: number;
  readonly eps: number;
  readonly weightDecay: number;
  private t = 0;
  private m = new Map<string, Float32Array>();
  private v = new Map<string, Float32Array>();
  // webgpu: the moments stay on the device (see stepOnDevice); a name is in one pair of maps only.
  private mDevice = new Map<string, tf.Tensor>();
  private vDevice = new Map<string, tf.Tensor>();

  constructor(opts: AdamWOptions = {}) {
    this.beta1 = opts.beta1 ?? 0.9;
    this.beta2 = opts.beta2 ?? 0.999;
    this.eps = opts.eps ?? 1e-8;
    this.weightDecay = opts.weightDecay ?? 0;
  }

  /** Steps taken so far. */
  get stepCount(): number {
    return this.t;
  }

  /**
   * Apply one update with learning rate `lr` to every variable that has a gradient. Each gradient
   * is first multiplied by `gradScale` in float32 (the clipping factor from {@link clipFactor}: the
   * same arithmetic as torch's in-place `clip_grad_norm_`, without a scaled copy of every gradient).
   * A {@link RowGradient} updates every row of its parameter, the rows it lacks with a zero gradient:
   * the values of the dense update.
   */
  step(
    params: Map<string, tf.Variable>,
    grads: Map<string, tf.Tensor | RowGradient>,
    lr: number,
    gradScale = 1,
  ): void {
    const stepSize = this.begin(lr);
    for (const [name, p] of params) {
      const g = grads.get(name);
      if (!g) continue;
      const own = exclusiveFloat32(p); // cpu backend: update the variable's own buffer, no copy
      const pv = own ?? (p.dataSync() as Float32Array).slice();
      if (g instanceof RowGradient) this.updateRows(name, pv, g, lr, stepSize, gradScale);
      else {
        const gv = peekFloat32(g) ?? g.dataSync() as Float32Array; // cpu: the buffer stays poolable
        this.update(name, pv, gv, lr, stepSize, gradScale);
      }
      if (!own) assignValues(p, pv);
    }
  }

  /**
   * One update from values already on the host: `gradValues` and `paramValues` by name (the latter
   * are updated in place, then written into the variables). Same arithmetic as {@link step}.
   */
  stepValues(
    params: Map<string, tf.Variable>,
    gradValues: Map<string, Float32Array>,
    paramValues: Map<string, Float32Array>,
    lr: number,
    gradScale = 1,
  ): void {
    const stepSize = this.begin(lr);
    for (const [name, p] of params) {
      const gv = gradValues.get(name), pv = paramValues.get(name);
      if (!gv) continue;
      if (!pv) throw new Error(`AdamW.stepValues: no values for parameter ${name}`);
      this.update(name, pv, gv, lr, stepSize, gradScale);
      assignValues(p, pv);
    }
  }

  /**
   * One update on the device, the moments kept there as tensors (GPU backends: no gradient, parameter
   * or moment leaves the device). On webgpu each parameter is ONE WGSL dispatch that updates the
   * parameter and both moments in place (`webgpuAdamW`, `lib/kernels/webgpu/adamw.ts`); elsewhere
   * TF.js ops compute the same. Float32 arithmetic, the formula of {@link step}; the last bits can
   * differ from it (operation order). Moments restored by {@link load} are uploaded on first use;
   * {@link stateAsync} reads them back for a checkpoint.
   */
  stepOnDevice(
    params: Map<string, tf.Variable>,
    grads: Map<string, tf.Tensor>,
    lr: number,
    gradScale = 1,
  ): void {
    const stepSize = this.begin(lr);
    const { beta1: b1, beta2: b2, eps } = this;
    const gs = Math.fround(gradScale);
    const webgpu = tf.getBackend() === "webgpu";
    for (const [name, p] of params) {
      const g = grads.get(name);
      if (!g) continue;
      let m = this.mDevice.get(name), v = this.vDevice.get(name);
      if (!m || !v) {
        const hm = this.m.get(name), hv = this.v.get(name);
        m = hm ? tf.tensor(hm, p.shape, "float32") : tf.zeros(p.shape, "float32");
        v = hv ? tf.tensor(hv, p.shape, "float32") : tf.zeros(p.shape, "float32");
        this.m.delete(name);
        this.v.delete(name);
        this.mDevice.set(name, m);
        this.vDevice.set(name, v);
      }
      const decay = noDecay(name) ? 0 : lr * this.weightDecay;
      if (webgpu) {
        webgpuAdamW(p, g, m, v, { beta1: b1, beta2: b2, eps, stepSize, decay, gradScale: gs });
        continue;
      }
      const [m2, v2, p2] = tf.tidy(() => {
        const gi = gs === 1 ? g : tf.mul(g, gs);
        const mi = tf.add(tf.mul(m!, b1), tf.mul(gi, 1 - b1));
        const vi = tf.add(tf.mul(v!, b2), tf.mul(tf.square(gi), 1 - b2));
        const pi = tf.sub(p, tf.div(tf.mul(mi, stepSize), tf.add(tf.sqrt(vi), eps)));
        return [mi, vi, decay ? tf.sub(pi, tf.mul(pi, decay)) : pi];
      });
      tf.dispose([m, v]);
      p.assign(p2);
      p2.dispose();
      this.mDevice.set(name, m2);
      this.vDevice.set(name, v2);
    }
  }

  /** Count the step; returns its bias-corrected step size. */
  private begin(lr: number): number {
    this.t++;
    const { beta1: b1, beta2: b2 } = this;
    return lr * Math.sqrt(1 - b2 ** this.t) / (1 - b1 ** this.t);
  }

  /** Float32 moments m, v of parameter `name` (zeros at first use). */
  private moments(name: string, n: number): [Float32Array, Float32Array] {
    let m = this.m.get(name), v = this.v.get(name);
    if (!m || !v) {
      m = new Float32Array(n);
      v = new Float32Array(n);
      this.m.set(name, m);
      this.v.set(name, v);
    }
    return [m, v];
  }

  /** Update `pv` in place from gradient `gv` (float32 state m, v of parameter `name`). */
  private update(
    name: string,
    pv: Float32Array,
    gv: Float32Array,
    lr: number,
    stepSize: number,
    gradScale: number,
  ): void {
    const [m, v] = this.moments(name, gv.length);
    this.apply(pv, gv, m, v, noDecay(name) ? 0 : lr * this.weightDecay, stepSize, gradScale);
  }

  /**
   * {@link update} from a gradient given as rows, every element with the dense arithmetic: in one C call
   * (absent rows read a zero row), or in JS by runs of present rows and the zero runs between them.
   */
  private updateRows(
    name: string,
    pv: Float32Array,
    g: RowGradient,
    lr: number,
    stepSize: number,
    gradScale: number,
  ): void {
    const [V, H] = g.shape;
    if (pv.length !== V * H) throw new Error(`AdamW: gradient rows of [${g.shape}] for ${pv.length} values`);
    const [m, v] = this.moments(name, pv.length);
    const decay = noDecay(name) ? 0 : lr * this.weightDecay;
    const nk = nativeKernels();
    if (nk) {
      const zero = H <= ZERO_PIECE ? zeroPiece().subarray(0, H) : new Float32Array(H);
      const { beta1, beta2, eps } = this;
      const s = { beta1, beta2, eps, stepSize, decay, gradScale: Math.fround(gradScale) };
      nk.adamwRows(pv, g.rows, g.ids, zero, V, H, m, v, s);
      return;
    }
    const run = (lo: number, hi: number, gv: Float32Array) =>
      this.apply(pv.subarray(lo, hi), gv, m.subarray(lo, hi), v.subarray(lo, hi), decay, stepSize, gradScale);
    const zeros = (lo: number, hi: number) => {
      for (let o = lo; o < hi; o += ZERO_PIECE) {
        const e = Math.min(hi, o + ZERO_PIECE);
        run(o, e, zeroPiece().subarray(0, e - o));
      }
    };
    let next = 0; // first row not yet updated
    for (let k = 0; k < g.ids.length;) {
      let e = k + 1; // rows ids[k..e) are consecutive
      while (e < g.ids.length && g.ids[e] === g.ids[e - 1] + 1) e++;
      const id = g.ids[k];
      zeros(next * H, id * H);
      run(id * H, (id + e - k) * H, g.rows.subarray(k * H, e * H));
      next = id + e - k;
      k = e;
    }
    zeros(next * H, V * H);
  }

  /** The AdamW arithmetic on matching views of parameter, gradient and moments. */
  private apply(
    pv: Float32Array,
    gv: Float32Array,
    m: Float32Array,
    v: Float32Array,
    decay: number,
    stepSize: number,
    gradScale: number,
  ): void {
    const { beta1: b1, beta2: b2, eps } = this;
    const nk = nativeKernels();
    const gs = Math.fround(gradScale);
    if (nk) nk.adamw(pv, gv, m, v, gv.length, b1, b2, stepSize, eps, decay, gs);
    else {
      for (let i = 0; i < gv.length; i++) {
        const gi = Math.fround(gv[i] * gs);
        const mi = m[i] = b1 * m[i] + (1 - b1) * gi;
        const vi = v[i] = b2 * v[i] + (1 - b2) * gi * gi;
        const pi = pv[i] - stepSize * mi / (Math.sqrt(vi) + eps);
        pv[i] = pi - decay * pi;
      }
    }
  }

  /** A copy of the optimizer state, for checkpoints (moments on the device: use {@link stateAsync}). */
  state(): AdamWState {
    if (this.mDevice.size > 0) {
      throw new Error("AdamW.state(): the moments are on the device; use stateAsync()");
    }
    return { step: this.t, m: Object.fromEntries(this.m), v: Object.fromEntries(this.v) };
  }

  /** A copy of the optimizer state, reading moments kept on the device in one asynchronous batch. */
  async stateAsync(): Promise<AdamWState> {
    const names = [...this.mDevice.keys()];
    const read = await Promise.all(
      names.flatMap((n) => [this.mDevice.get(n)!.data(), this.vDevice.get(n)!.data()]),
    ) as Float32Array[];
    const m = Object.fromEntries(this.m), v = Object.fromEntries(this.v);
    names.forEach((n, i) => {
      m[n] = read[2 * i];
      v[n] = read[2 * i + 1];
    });
    return { step: this.t, m, v };
  }

  /** Free the moments kept on the device. */
  dispose(): void {
    tf.dispose([...this.mDevice.values(), ...this.vDevice.values()]);
    this.mDevice.clear();
    this.vDevice.clear();
  }

  /** Restore a state saved by `state()`. */
  load(state: AdamWState): void {
    this.dispose();
    this.t = state.step;
    this.m = new Map(Object.entries(state.m));
    this.v = new Map(Object.entries(state.v));
  }
}

const ZERO_PIECE = 1 << 18; // elements of the shared zero gradient (1 MB)
let zeroArray: Float32Array | undefined;
function zeroPiece(): Float32Array {
  return zeroArray ??= new Float32Array(ZERO_PIECE);
}

/** Write `values` into variable `p` (a new tensor of its shape). */
function assignValues(p: tf.Variable, values: Float32Array): void {
  const t = tf.tensor(values, p.shape, "float32");
  p.assign(t);
  t.dispose();
}

/** HF `get_linear_schedule_with_warmup`: the lr multiplier used at (0-based) optimizer step `step`. */
export function linearSchedule(step: number, totalSteps: number, warmupSteps = 0): number {
  if (step < warmupSteps) return step / Math.max(1, warmupSteps);
  return Math.max(0, (totalSteps - step) / Math.max(1, totalSteps - warmupSteps));
}

/**
 * The global L2 norm of all gradients (torch `clip_grad_norm_`'s total norm), accumulated in double.
 * On the cpu backend the gradient buffers are read in place; values already read (Float32Array) are
 * taken as they are, which is how backends without synchronous reads use it.
 */
export function globalGradNorm(grads: Iterable<tf.Tensor | RowGradient | Float32Array>): number {
  const nk = nativeKernels();
  let sq = 0;
  for (const g of grads) {
    const d = g instanceof Float32Array ? g : g instanceof RowGradient
      ? g.rows // the absent rows' zeros add nothing
      : peekFloat32(g) ?? g.dataSync() as Float32Array;
    if (nk) sq += nk.sumSquares(d, d.length);
    else for (let i = 0; i < d.length; i++) sq += d[i] * d[i];
  }
  return Math.sqrt(sq);
}

/**
 * torch `clip_grad_norm_`'s factor: max/(norm + 1e-6) when that is below 1, else 1. `maxNorm` ≤ 0
 * switches clipping off (1), as HF's Trainer clips only when `max_grad_norm > 0`. A NaN norm gives 1:
 * the gradients are NaN already, and stay so either way. Pass the factor to {@link AdamW.step} as
 * `gradScale`.
 */
export function clipFactor(norm: number, maxNorm: number): number {
  if (!(maxNorm > 0)) return 1;
  const coef = maxNorm / (norm + 1e-6);
  return coef < 1 ? coef : 1;
}
