/**
 * Blocks shared by the encoders (BERT, GPT-2) and the SimCSE heads: position ids, LayerNorm, the
 * activations by HF name, the FFN's activation + output Linear, and early release of forward
 * intermediates. Each is a thin front over the fused ops of `fused.ts`, so every model runs the same
 * arithmetic on every backend.
 *
 * @module
 */
import { tf } from "../runtime/tf.ts";
import { linear } from "../ops/linear.ts";
import { releaseSavedCopies } from "../ops/saved_inputs.ts";
import { activationLinear, fusedGelu, fusedGeluNew, fusedLayerNorm } from "../ops/fused.ts";

/** Activation names of HF configs (`hidden_act`, `activation_function`). */
export type HiddenAct = "gelu" | "gelu_new" | "relu";

/** Position ids 0..L-1 for each of B rows, flattened: int32 [B·L] (built directly; TF.js's cpu Tile is slow). */
export function positionIds(B: number, L: number): tf.Tensor1D {
  const ids = new Int32Array(B * L);
  for (let i = 0; i < ids.length; i++) ids[i] = i % L;
  return tf.tensor1d(ids, "int32");
}

/**
 * Dispose intermediates of a training forward pass as soon as nothing reads them again. TF.js would
 * keep them until the whole backward pass ends, although every op that needs a tensor for its
 * gradient keeps its own clone (`saveTensorsForBackwardMode`): a dense output that only fed a
 * dropout, a dropout output that only fed an add, a sum that only fed a LayerNorm (which saves x̂),
 * the raw attention scores. Freed memory comes back only for tensors no op saved; disposing the
 * others is harmless. The 16-bit copies that the half-precision ops made of a released tensor go with
 * it: each op that saved one keeps its own clone until its gradient has run.
 */
export function release(...ts: tf.Tensor[]): void {
  for (const t of ts) {
    releaseSavedCopies(t); // the 16-bit copies the half-precision ops made of it (saved_inputs.ts)
    if (!t.isDisposed) t.dispose();
  }
}

/**
 * LayerNorm over the last axis with biased variance, as torch.nn.LayerNorm; with a half precision's
 * `store`, what its gradient needs is kept at 16 bits (`fusedLayerNorm`).
 */
export const layerNorm: typeof fusedLayerNorm = fusedLayerNorm;

/** Activations by HF name: "gelu" is exact erf GELU; "gelu_new" is the tanh approximation (GPT-2). */
export function activation(name: HiddenAct, x: tf.Tensor): tf.Tensor {
  switch (name) {
    case "gelu":
      return fusedGelu(x);
    case "gelu_new":
      return fusedGeluNew(x);
    case "relu":
      return tf.relu(x);
    default: {
      const never: never = name;
      throw new Error(`unknown activation ${never}`);
    }
  }
}

/**
 * act(x) @ W + b, the FFN's second half. For GELU and gelu_new one fused op that recomputes the
 * activation in the backward pass instead of keeping its [N, 4H] output (`activationLinear`).
 */
export function activationThenLinear(
  name: HiddenAct,
  x: tf.Tensor2D,
  w: tf.Tensor2D,
  b: tf.Tensor1D,
): tf.Tensor2D {
  return name === "relu" ? linear(tf.relu(x), w, b) : activationLinear(name, x, w, b);
}
