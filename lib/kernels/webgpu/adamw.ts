/**
 * One AdamW update of one parameter tensor as ONE WGSL dispatch on the TF.js webgpu backend: the
 * parameter p and both moments m, v are updated in place on the device from the gradient g, with the
 * float32 formula of `AdamW.step` (`lib/train/adamw.ts`; HF `transformers.AdamW`, docs/SIMCSE.md):
 *
 *     g' = g·gradScale                      (the clipping factor, as torch's in-place clip_grad_norm_)
 *     m = β1·m + (1 − β1)·g';  v = β2·v + (1 − β2)·g'²
 *     p = p − stepSize·m/(√v + ε)           (stepSize = lr·√(1 − β2^t)/(1 − β1^t), bias correction)
 *     p = p − decay·p                       (decay = lr·weightDecay, decoupled; 0 for no-decay names)
 *
 * A parameter whose buffer is shared with another tensor (TF.js shares buffers between a tensor and
 * its reshapes or the tensor a variable was made from) is not written in place: the kernel writes a
 * new buffer and the variable is assigned it. The moments are the caller's own tensors.
 *
 * @example
 * ```ts
 * import { tf } from "../../runtime/tf.ts";
 * import { useBackend } from "../backend.ts";
 * import { webgpuAdamW } from "./adamw.ts";
 * await useBackend("webgpu");
 * const p = tf.variable(tf.tensor1d([1, 2])), m = tf.zeros([2]), v = tf.zeros([2]);
 * webgpuAdamW(p, tf.tensor1d([0.1, -0.1]), m, v, {
 *   beta1: 0.9, beta2: 0.999, eps: 1e-8, stepSize: 1e-3 * Math.sqrt(0.001) / 0.1, decay: 0, gradScale: 1,
 * });
 * console.log(await p.data()); // [0.999, 2.001]
 * ```
 * @module
 */
import { tf } from "../../runtime/tf.ts";
import { bindingsWgsl, dispatchWgsl, exclusiveOnDevice, groupIndexWgsl, newOutput } from "./dispatch.ts";

/** The scalars of one update (see the module doc). */
export interface AdamWScalars {
  beta1: number;
  beta2: number;
  eps: number;
  /** lr·√(1 − β2^t)/(1 − β1^t). */
  stepSize: number;
  /** lr·weightDecay, or 0. */
  decay: number;
  /** Gradient multiplier (clipping factor), 1 for none. */
  gradScale: number;
}

const WG = 256;

const code = (inPlace: boolean) =>
  bindingsWgsl(
    inPlace ? ["P", "M", "V"] : ["M", "V", "Pout"],
    inPlace ? ["G"] : ["G", "P"],
    "n : u32, b1 : f32, c1 : f32, b2 : f32, c2 : f32, eps : f32, stepSize : f32, decay : f32, gs : f32,",
  ) + /* wgsl */ `
@compute @workgroup_size(${WG})
fn main(@builtin(workgroup_id) wid : vec3<u32>, @builtin(local_invocation_index) lid : u32) {
  let i = ${groupIndexWgsl} * ${WG}u + lid;
  if (i >= u.n) { return; }
  let g = G[i] * u.gs;
  let m = u.b1 * M[i] + u.c1 * g;
  let v = u.b2 * V[i] + u.c2 * g * g;
  M[i] = m;
  V[i] = v;
  let p = P[i] - u.stepSize * m / (sqrt(v) + u.eps);
  ${inPlace ? "P" : "Pout"}[i] = p - u.decay * p;
}`;

const CODE = { inPlace: code(true), copy: code(false) };

/**
 * Update variable `p` and its moments `m`, `v` (float32 tensors of p's size, owned by the caller) in
 * place from gradient `g`, in one dispatch; nothing is read back.
 */
export function webgpuAdamW(p: tf.Variable, g: tf.Tensor, m: tf.Tensor, v: tf.Tensor, s: AdamWScalars): void {
  const n = p.size;
  if (g.size !== n || m.size !== n || v.size !== n) {
    throw new Error(`webgpuAdamW: sizes differ (p ${n}, g ${g.size}, m ${m.size}, v ${v.size})`);
  }
  if (!exclusiveOnDevice(m) || !exclusiveOnDevice(v)) {
    throw new Error("webgpuAdamW: the moments must be tensors of their own (updated in place)");
  }
  const flat = (t: tf.TensorInfo) => ({ dataId: t.dataId, shape: [n], dtype: t.dtype });
  const f = Math.fround;
  const uniforms = [
    { type: "uint32" as const, data: [n] },
    ...[s.beta1, 1 - s.beta1, s.beta2, 1 - s.beta2, s.eps, s.stepSize, s.decay, s.gradScale].map((x) => ({
      type: "float32" as const,
      data: [f(x)],
    })),
  ];
  const groups = Math.ceil(n / WG);
  if (exclusiveOnDevice(p)) {
    dispatchWgsl({
      key: "simcse_adamw_in_place",
      code: CODE.inPlace,
      outputs: [flat(p), flat(m), flat(v)],
      inputs: [flat(g)],
      uniforms,
      workgroups: groups,
    });
    return;
  }
  const out = newOutput(p.shape);
  dispatchWgsl({
    key: "simcse_adamw_copy",
    code: CODE.copy,
    outputs: [flat(m), flat(v), flat(out)],
    inputs: [flat(g), flat(p)],
    uniforms,
    workgroups: groups,
  });
  const t = tf.engine().makeTensorFromTensorInfo(out);
  p.assign(t);
  t.dispose();
}
