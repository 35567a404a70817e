/**
 * Layer-level ops with hand-written gradients: LayerNorm, exact (erf) GELU, the attention softmax
 * (scale + additive mask + softmax) and dropout. TF.js autodiff over the primitive ops of these
 * layers records 5–15 ops each and as many full-size intermediates on the tape; here each op saves
 * what its closed-form gradient needs and nothing else:
 *
 * - LayerNorm: y = x̂·γ + β with x̂ = (x − μ)·r, r = 1/√(σ² + ε);
 *   dx = r·(g − mean(g) − x̂·mean(g·x̂)) with g = dy·γ; dγ = Σ dy·x̂; dβ = Σ dy. Saves x̂ and r.
 * - GELU: y = x·Φ(x); dx = dy·(Φ(x) + x·φ(x)). Saves x. GPT-2's `gelu_new` likewise.
 * - Activation + Linear (`activationLinear`, the FFN's second half): y = act(x)·W + b. Saves x and
 *   W only; act(x) is recomputed in the backward pass instead of kept ([N, 4H] floats per layer).
 * - Attention softmax: p = softmax(s·scale + mask); ds = scale·p·(dp − Σ dp·p). Saves p.
 * - Dropout (fused kernel only): y = x·keep/(1 − rate); dx = dy·keep/(1 − rate). Saves nothing: the
 *   mask is a function of (seed, index) and the backward pass draws it again.
 * - Attention matmuls Q·Kᵀ and P·V on the [B·L, H] Linear outputs (`attentionScores`,
 *   `attentionContext`): per-head strided sgemm where the kernel exists, reshape + transpose + matMul
 *   otherwise.
 *
 * In a half precision the model passes its {@link HalfStore}: LayerNorm keeps x̂ and the softmax keeps p
 * as 16-bit codes instead of float32 (the forward values are unchanged; the gradients see x̂ and p
 * rounded to the format, docs/PRECISION.md "What is saved for the backward pass").
 *
 * Each op runs a fused backend kernel when one is registered for the active backend
 * (`lib/kernels/cpu_fused.ts` registers them for `cpu`: one pass per op, no temporaries), and the
 * same formulas as TF.js ops otherwise, so model code stays backend-agnostic.
 *
 * @example
 * ```ts
 * import { tf } from "../runtime/tf.ts";
 * import { fusedLayerNorm, fusedGelu } from "./fused.ts";
 * const x = tf.tensor2d([[1, 2, 3], [4, 5, 7]]);
 * fusedLayerNorm(x, tf.ones([3]), tf.zeros([3]), 1e-12).print();
 * fusedGelu(x).print();
 * ```
 * @module
 */
import { tf } from "../runtime/tf.ts";
import { releasing } from "./grad_release.ts";
import { linearGrads, linearValue } from "./linear.ts";
import { FUSED_KERNELS, type HeadDims, type HeadMatMulAttrs } from "../kernels/mod.ts";
import { emptyHalfCodes, packHalfInto } from "./half_codes.ts";
import { addSavedCopy, savedCopy } from "./saved_inputs.ts";

export { FUSED_KERNELS, type HeadDims, type HeadMatMulAttrs };

/** Whether the active backend has a fused kernel `name`. */
export function hasFusedKernel(name: string): boolean {
  return tf.getKernel(name, tf.getBackend()) !== undefined;
}

function run(name: string, inputs: Record<string, tf.Tensor>, attrs: Record<string, unknown> = {}) {
  return tf.engine().runKernel(name, inputs as never, attrs as never) as tf.Tensor | tf.Tensor[];
}

type CustomGradFn = Parameters<typeof tf.customGrad>[0];

/**
 * How a half precision keeps a float32 tensor for a backward pass at 16 bits: `pack` rounds it to
 * codes (not a taped op), `unpack` gives the float32 tensor of those rounded values back.
 */
export interface HalfStore {
  /** The 16-bit format of the codes. */
  type: "bf16" | "f16";
  pack(t: tf.Tensor): tf.Tensor;
  unpack(packed: tf.Tensor, shape: number[]): tf.Tensor;
}

/** `t` as it is kept for the backward pass: itself, or its packed codes (and `t` disposed). */
function keep(t: tf.Tensor, store: HalfStore | undefined): tf.Tensor {
  if (!store) return t;
  const packed = store.pack(t);
  t.dispose();
  return packed;
}

/** The store to use: none when no gradient tape is recording (evaluation keeps nothing to pack). */
function taping(store: HalfStore | undefined): HalfStore | undefined {
  return store && tf.engine().isTapeOn() ? store : undefined;
}

/** The op's cache of custom-gradient functions, one per (store, attribute). */
function cached<K>(
  cache: Map<HalfStore | undefined, Map<K, ReturnType<typeof tf.customGrad>>>,
  store: HalfStore | undefined,
  key: K,
  make: () => ReturnType<typeof tf.customGrad>,
): ReturnType<typeof tf.customGrad> {
  let byKey = cache.get(store);
  if (!byKey) cache.set(store, byKey = new Map());
  let op = byKey.get(key);
  if (!op) byKey.set(key, op = make());
  return op;
}

// ---------------------------------------------------------------------------------------------
// LayerNorm

const layerNormOps = (eps: number, store: HalfStore | undefined) =>
  tf.customGrad(
    ((x: tf.Tensor, gamma: tf.Tensor, beta: tf.Tensor, save: tf.GradSaveFunc) => {
      const H = x.shape[x.rank - 1];
      let y: tf.Tensor, xhat: tf.Tensor, rstd: tf.Tensor;
      if (hasFusedKernel(FUSED_KERNELS.layerNorm)) {
        [y, xhat, rstd] = run(FUSED_KERNELS.layerNorm, { x, gamma, beta }, { eps }) as tf.Tensor[];
      } else {
        // the forward in the same ops and order as before fusion ((x − μ) / √(σ² + ε)), so that
        // evaluation numbers on backends without the kernel do not move by a rounding
        const { mean, variance } = tf.moments(x, -1, true);
        const std = tf.sqrt(tf.add(variance, eps));
        xhat = tf.div(tf.sub(x, mean), std);
        rstd = tf.reciprocal(std); // [..., 1]
        y = tf.add(tf.mul(xhat, gamma), beta);
      }
      const outer = pendingXhat;
      pendingXhat = undefined;
      if (outer && store) {
        packHalfInto(store.type, xhat, outer);
        xhat.dispose();
      }
      save([outer ?? keep(xhat, store), rstd, gamma]);
      return {
        value: y,
        gradFunc: releasing((dy: tf.Tensor, saved: tf.Tensor[]) => {
          const [kept, r, g] = saved;
          // On cpu the kernel reads x̂'s codes itself (no float32 copy of x̂).
          if (store && tf.getBackend() === "cpu" && hasFusedKernel(FUSED_KERNELS.layerNormGrad)) {
            return run(FUSED_KERNELS.layerNormGrad, { dy, xhat: kept, rstd: r, gamma: g }, {
              codes: store.type,
            }) as tf.Tensor[];
          }
          const xh = store ? store.unpack(kept, x.shape) : kept;
          const grads = layerNormGrads(dy, xh, r, g, H);
          if (xh !== kept) xh.dispose();
          return grads;
        }),
      };
    }) as unknown as CustomGradFn,
  );

function layerNormGrads(dy: tf.Tensor, xh: tf.Tensor, r: tf.Tensor, g: tf.Tensor, H: number): tf.Tensor[] {
  if (hasFusedKernel(FUSED_KERNELS.layerNormGrad)) {
    return run(FUSED_KERNELS.layerNormGrad, { dy, xhat: xh, rstd: r, gamma: g }) as tf.Tensor[];
  }
  return tf.tidy(() => {
    const lead = xh.shape.slice(0, -1).reduce((a, b) => a * b, 1);
    const dy2 = tf.reshape(dy, [lead, H]), xh2 = tf.reshape(xh, [lead, H]);
    const gx = tf.mul(dy2, g);
    const dx = tf.mul(
      tf.sub(tf.sub(gx, tf.mean(gx, -1, true)), tf.mul(xh2, tf.mean(tf.mul(gx, xh2), -1, true))),
      tf.reshape(r, [lead, 1]),
    );
    return [tf.reshape(dx, xh.shape), tf.sum(tf.mul(dy2, xh2), 0), tf.sum(dy2, 0)];
  });
}

const layerNormCache = new Map<HalfStore | undefined, Map<number, ReturnType<typeof tf.customGrad>>>();

/** x̂'s codes made outside the op for the next LayerNorm call to fill and save (read once, synchronously). */
let pendingXhat: tf.Tensor | undefined;

/** What `savedCopy(y, LAYER_NORM_SOURCE)` holds: the codes of x̂, for y = x̂·γ + β. */
const LAYER_NORM_SOURCE = "x̂ of x̂·γ + β";
const layerNormOf = new WeakMap<tf.Tensor, { type: HalfStore["type"]; gamma: tf.Tensor; beta: tf.Tensor }>();

/**
 * LayerNorm over the last axis with biased variance (torch.nn.LayerNorm semantics). With `store`, x̂ is
 * kept for the gradient at 16 bits; on cpu those codes are made outside the op and registered as the
 * output's source ({@link layerNormSource}), so that a half Linear reading the output can save them in
 * place of a 16-bit copy of the output.
 */
export function fusedLayerNorm(
  x: tf.Tensor,
  gamma: tf.Tensor,
  beta: tf.Tensor,
  eps: number,
  store?: HalfStore,
): tf.Tensor {
  const s = taping(store);
  const outer = s && tf.getBackend() === "cpu" ? emptyHalfCodes(x.size) : undefined;
  pendingXhat = outer;
  let y: tf.Tensor;
  try {
    y = cached(layerNormCache, s, eps, () => layerNormOps(eps, s))(x, gamma, beta) as tf.Tensor;
  } finally {
    pendingXhat = undefined;
  }
  if (outer && s) markLayerNormSource(y, outer, s.type, gamma, beta);
  return y;
}

/**
 * Register `codes` (x̂'s, in `type`) as the LayerNorm source of y = x̂·γ + β ({@link layerNormSource}), for
 * an op that made y as {@link fusedLayerNorm} does (`add_norm.ts`).
 */
export function markLayerNormSource(
  y: tf.Tensor,
  codes: tf.Tensor,
  type: HalfStore["type"],
  gamma: tf.Tensor,
  beta: tf.Tensor,
): void {
  layerNormOf.set(codes, { type, gamma, beta });
  addSavedCopy(y, LAYER_NORM_SOURCE, codes);
}

/**
 * For `y` made by {@link fusedLayerNorm} with a store while a tape records: x̂'s codes (the LayerNorm
 * saved them), their format, γ and β. y = x̂·γ + β, so a Linear reading y can form its weight gradient
 * yᵀg as γ·(x̂ᵀg) + β·Σg from the codes already kept.
 */
export function layerNormSource(
  y: tf.Tensor,
): { xhat: tf.Tensor; type: HalfStore["type"]; gamma: tf.Tensor; beta: tf.Tensor } | undefined {
  const xhat = savedCopy(y, LAYER_NORM_SOURCE);
  const info = xhat && layerNormOf.get(xhat);
  return info && { xhat: xhat!, ...info };
}

// ---------------------------------------------------------------------------------------------
// GELU (exact, erf) and GPT-2's gelu_new

/** Exact GELU x·Φ(x): the kernel where registered, else TF.js ops. */
function geluValue(x: tf.Tensor): tf.Tensor {
  return hasFusedKernel(FUSED_KERNELS.gelu)
    ? run(FUSED_KERNELS.gelu, { x }) as tf.Tensor
    : tf.mul(tf.mul(x, 0.5), tf.add(1, tf.erf(tf.mul(x, Math.SQRT1_2))));
}

/** dy·GELU'(x) = dy·(Φ(x) + x·φ(x)). */
function geluGradValue(dy: tf.Tensor, x: tf.Tensor): tf.Tensor {
  if (hasFusedKernel(FUSED_KERNELS.geluGrad)) return run(FUSED_KERNELS.geluGrad, { dy, x }) as tf.Tensor;
  const cdf = tf.mul(0.5, tf.add(1, tf.erf(tf.mul(x, Math.SQRT1_2))));
  const pdf = tf.mul(tf.exp(tf.mul(tf.square(x), -0.5)), 1 / Math.sqrt(2 * Math.PI));
  return tf.mul(dy, tf.add(cdf, tf.mul(x, pdf)));
}

const GELU_NEW_C = Math.sqrt(2 / Math.PI);
const geluNewInner = (t: tf.Tensor) =>
  tf.mul(GELU_NEW_C, tf.add(t, tf.mul(0.044715, tf.mul(tf.mul(t, t), t))));

/** GPT-2's gelu_new 0.5·x·(1 + tanh(√(2/π)·(x + 0.044715·x³))). */
function geluNewValue(x: tf.Tensor): tf.Tensor {
  return hasFusedKernel(FUSED_KERNELS.geluNew)
    ? run(FUSED_KERNELS.geluNew, { x }) as tf.Tensor
    : tf.mul(tf.mul(x, 0.5), tf.add(1, tf.tanh(geluNewInner(x))));
}

/** dy · d gelu_new/dx = dy·(0.5·(1 + t) + 0.5·x·(1 − t²)·c·(1 + 3·0.044715·x²)), t = tanh(c·(x + 0.044715·x³)). */
function geluNewGradValue(dy: tf.Tensor, x: tf.Tensor): tf.Tensor {
  if (hasFusedKernel(FUSED_KERNELS.geluNewGrad)) {
    return run(FUSED_KERNELS.geluNewGrad, { dy, x }) as tf.Tensor;
  }
  const t = tf.tanh(geluNewInner(x));
  const du = tf.mul(GELU_NEW_C, tf.add(1, tf.mul(3 * 0.044715, tf.square(x))));
  const d = tf.add(tf.mul(0.5, tf.add(1, t)), tf.mul(tf.mul(tf.mul(0.5, x), tf.sub(1, tf.square(t))), du));
  return tf.mul(dy, d);
}

/** The fused activations: value and input gradient. */
const ACTIVATIONS = {
  gelu: { value: geluValue, grad: geluGradValue },
  gelu_new: { value: geluNewValue, grad: geluNewGradValue },
} as const;

/** An activation that {@link fusedActivation} and {@link activationLinear} cover. */
export type FusedActivation = keyof typeof ACTIVATIONS;

/** Every activation an op may apply after a Linear (HF names; "none" = identity). */
export type AnyActivation = FusedActivation | "relu" | "none";

/**
 * act(x), untaped (for use inside custom-gradient ops): the one table of activation values every
 * path uses (fp32 fused ops and the half-precision Linear alike).
 */
export function activationValue(act: AnyActivation, x: tf.Tensor): tf.Tensor {
  if (act === "none") return x;
  if (act === "relu") return tf.relu(x);
  return ACTIVATIONS[act].value(x);
}

/** dy · act'(x), untaped: the gradient half of the same table (relu' is 0 at 0, as in torch). */
export function activationInputGrad(act: AnyActivation, dy: tf.Tensor, x: tf.Tensor): tf.Tensor {
  if (act === "none") return dy;
  if (act === "relu") return tf.mul(dy, tf.cast(tf.greater(x, 0), "float32"));
  return ACTIVATIONS[act].grad(dy, x);
}

const activationOps = Object.fromEntries(
  Object.entries(ACTIVATIONS).map(([name, f]) => [
    name,
    tf.customGrad(
      ((x: tf.Tensor, save: tf.GradSaveFunc) => {
        save([x]);
        return {
          value: f.value(x),
          gradFunc: releasing((dy: tf.Tensor, saved: tf.Tensor[]) => [f.grad(dy, saved[0])]),
        };
      }) as unknown as CustomGradFn,
    ),
  ]),
) as Record<FusedActivation, ReturnType<typeof tf.customGrad>>;

/** Exact GELU x·Φ(x) (HF `hidden_act="gelu"`). */
export function fusedGelu(x: tf.Tensor): tf.Tensor {
  return activationOps.gelu(x) as tf.Tensor;
}

/** GPT-2's `gelu_new` (tanh approximation), with x³ as x·x·x. */
export function fusedGeluNew(x: tf.Tensor): tf.Tensor {
  return activationOps.gelu_new(x) as tf.Tensor;
}

// ---------------------------------------------------------------------------------------------
// Activation + Linear (the FFN's second half)

const activationLinearOps = Object.fromEntries(
  Object.entries(ACTIVATIONS).map(([name, f]) => [
    name,
    tf.customGrad(
      ((x: tf.Tensor, w: tf.Tensor, b: tf.Tensor, save: tf.GradSaveFunc) => {
        save([x, w]);
        const g = f.value(x);
        const y = linearValue(g as tf.Tensor2D, w as tf.Tensor2D, b as tf.Tensor1D);
        g.dispose();
        return {
          value: y,
          gradFunc: releasing((dy: tf.Tensor, saved: tf.Tensor[]) => {
            const [xs, ws] = saved;
            const g = f.value(xs); // recomputed: one elementwise pass instead of keeping [N, I] floats
            const { dx: dg, dw, db } = linearGrads(dy as tf.Tensor2D, g as tf.Tensor2D, ws as tf.Tensor2D);
            g.dispose();
            const dx = f.grad(dg, xs);
            dg.dispose();
            return [dx, dw, db];
          }),
        };
      }) as unknown as CustomGradFn,
    ),
  ]),
) as Record<FusedActivation, ReturnType<typeof tf.customGrad>>;

/**
 * act(x) @ W + b for x [N, I], W [I, H], b [H], with act GELU or gelu_new: the FFN's activation and
 * output Linear as one op that saves only x for the backward pass and recomputes act(x) there. The
 * activation's output, [N, I] with I = 4H the largest tensor of a layer, is otherwise kept by the
 * Linear until the backward pass reaches it (PyTorch keeps it too).
 */
export function activationLinear(
  act: FusedActivation,
  x: tf.Tensor2D,
  w: tf.Tensor2D,
  b: tf.Tensor1D,
): tf.Tensor2D {
  if (x.rank !== 2 || w.rank !== 2 || x.shape[1] !== w.shape[0]) {
    throw new Error(`activationLinear: x [${x.shape}] and W [${w.shape}] do not chain`);
  }
  return activationLinearOps[act](x, w, b) as tf.Tensor2D;
}

// ---------------------------------------------------------------------------------------------
// Attention softmax

const attnSoftmaxOps = (scale: number, store: HalfStore | undefined) =>
  tf.customGrad(
    ((scores: tf.Tensor, mask: tf.Tensor, save: tf.GradSaveFunc) => {
      const p = hasFusedKernel(FUSED_KERNELS.attnSoftmax)
        ? run(FUSED_KERNELS.attnSoftmax, { scores, mask }, { scale }) as tf.Tensor
        : tf.softmax(tf.add(tf.mul(scores, scale), mask), -1);
      save([store ? store.pack(p) : p, mask]);
      return {
        value: p,
        gradFunc: releasing((dp: tf.Tensor, saved: tf.Tensor[]) => {
          const [kept, m] = saved;
          const ps = store ? store.unpack(kept, scores.shape) : kept;
          const ds = hasFusedKernel(FUSED_KERNELS.attnSoftmaxGrad)
            ? run(FUSED_KERNELS.attnSoftmaxGrad, { dp, p: ps }, { scale }) as tf.Tensor
            : tf.tidy(() => tf.mul(tf.mul(ps, tf.sub(dp, tf.sum(tf.mul(dp, ps), -1, true))), scale));
          if (ps !== kept) ps.dispose();
          return [ds, tf.zerosLike(m)];
        }),
      };
    }) as unknown as CustomGradFn,
  );

const attnCache = new Map<HalfStore | undefined, Map<number, ReturnType<typeof tf.customGrad>>>();

/**
 * softmax(scores·scale + mask) over the last axis; `mask` broadcasts to `scores` (e.g. [B,1,1,L]
 * against [B,heads,L,L]) and gets no gradient. With `store`, p is kept for the gradient at 16 bits.
 */
export function attentionSoftmax(
  scores: tf.Tensor,
  mask: tf.Tensor,
  scale: number,
  store?: HalfStore,
): tf.Tensor {
  const s = taping(store);
  return cached(attnCache, s, scale, () => attnSoftmaxOps(scale, s))(scores, mask) as tf.Tensor;
}

// ---------------------------------------------------------------------------------------------
// Dropout

const dropoutOps = (rate: number, seed: number) =>
  tf.customGrad(
    ((x: tf.Tensor) => {
      return {
        value: run(FUSED_KERNELS.dropout, { x }, { rate, seed }) as tf.Tensor,
        // dx = dy·keep/(1−p): the forward kernel on dy, whose mask (seed, index) gives again.
        gradFunc: releasing((
          dy: tf.Tensor,
        ) => [run(FUSED_KERNELS.dropout, { x: dy }, { rate, seed }) as tf.Tensor]),
      };
    }) as unknown as CustomGradFn,
  );

/**
 * Dropout with a fused kernel that keeps nothing for the gradient (the mask is recomputed from
 * `seed`), or null when the active backend has none (callers then use `tf.dropout`). The mask is a
 * function of (`seed`, element index) only, so a run repeats exactly on one backend.
 */
export function fusedDropout(x: tf.Tensor, rate: number, seed: number): tf.Tensor | null {
  if (!hasFusedKernel(FUSED_KERNELS.dropout)) return null;
  return dropoutOps(rate, seed)(x) as tf.Tensor;
}

// ---------------------------------------------------------------------------------------------
// Attention matmuls on [B·L, H] rows (no head transposes where a kernel exists)

function headMatMul(a: tf.Tensor, b: tf.Tensor, attrs: HeadMatMulAttrs): tf.Tensor {
  return run(FUSED_KERNELS.headMatMul, { a, b }, attrs as unknown as Record<string, unknown>) as tf.Tensor;
}

function splitHeads(x: tf.Tensor, d: HeadDims): tf.Tensor4D {
  const H = x.shape[x.rank - 1];
  return tf.transpose(tf.reshape(x, [d.batch, d.seqLen, d.heads, H / d.heads]), [0, 2, 1, 3]);
}

const scoresOps = (d: HeadDims) =>
  tf.customGrad(
    ((q: tf.Tensor, k: tf.Tensor, save: tf.GradSaveFunc) => {
      save([q, k]);
      const m = { ...d, outHeads: false };
      return {
        value: headMatMul(q, k, { ...m, aHeads: true, bHeads: true, transposeA: false, transposeB: true }),
        gradFunc: releasing((ds: tf.Tensor, saved: tf.Tensor[]) => {
          const [qs, ks] = saved;
          const h = { ...d, outHeads: true };
          return [
            headMatMul(ds, ks, { ...h, aHeads: false, bHeads: true, transposeA: false, transposeB: false }),
            headMatMul(ds, qs, { ...h, aHeads: false, bHeads: true, transposeA: true, transposeB: false }),
          ];
        }),
      };
    }) as unknown as CustomGradFn,
  );

const contextOps = (d: HeadDims) =>
  tf.customGrad(
    ((p: tf.Tensor, v: tf.Tensor, save: tf.GradSaveFunc) => {
      save([p, v]);
      return {
        value: headMatMul(p, v, {
          ...d,
          aHeads: false,
          bHeads: true,
          transposeA: false,
          transposeB: false,
          outHeads: true,
        }),
        gradFunc: releasing((dc: tf.Tensor, saved: tf.Tensor[]) => {
          const [ps, vs] = saved;
          return [
            headMatMul(dc, vs, {
              ...d,
              aHeads: true,
              bHeads: true,
              transposeA: false,
              transposeB: true,
              outHeads: false,
            }),
            headMatMul(ps, dc, {
              ...d,
              aHeads: false,
              bHeads: true,
              transposeA: true,
              transposeB: false,
              outHeads: true,
            }),
          ];
        }),
      };
    }) as unknown as CustomGradFn,
  );

/** Raw attention scores Q·Kᵀ per head, [B, heads, L, L], from Q and K as [B·L, H] Linear outputs. */
export function attentionScores(q: tf.Tensor2D, k: tf.Tensor2D, d: HeadDims): tf.Tensor4D {
  if (!hasFusedKernel(FUSED_KERNELS.headMatMul)) {
    return tf.matMul(splitHeads(q, d), splitHeads(k, d), false, true);
  }
  return scoresOps(d)(q, k) as tf.Tensor4D;
}

/** The attention context probs·V with V as [B·L, H] rows, heads merged back: [B·L, H]. */
export function attentionContext(probs: tf.Tensor4D, v: tf.Tensor2D, d: HeadDims): tf.Tensor2D {
  const H = v.shape[1];
  if (!hasFusedKernel(FUSED_KERNELS.headMatMul)) {
    const ctx = tf.matMul(probs, splitHeads(v, d)); // [B, heads, L, dh]
    return tf.reshape(tf.transpose(ctx, [0, 2, 1, 3]), [d.batch * d.seqLen, H]);
  }
  return contextOps(d)(probs, v) as tf.Tensor2D;
}
