/**
 * Activation checkpointing for TF.js: `checkpointed(fn, x, params)` returns fn(x), but the gradient
 * tape keeps only `x` for it; the backward pass recomputes fn(x) and differentiates it there. TF.js
 * otherwise keeps every intermediate of a training step's forward pass alive until its backward pass
 * ends, which for BERT-base at batch 64 × 2 × 32 tokens is several GB.
 *
 * `fn` must be deterministic (dropout masks are functions of (seed, step, site) in this toolkit) and
 * may only depend on `x`, on constant tensors passed as `consts`, and on the variables in `params`,
 * which receive their gradients through this op.
 *
 * The recompute runs `tf.grads` inside the outer backward pass. TF.js's `gradients()` clears the
 * engine's active tape when it finishes (it assumes it is the outermost call), which would break the
 * outer backward pass; the tape is put back afterwards. That is the one reach into engine state here.
 *
 * @example
 * ```ts
 * import { tf } from "../runtime/tf.ts";
 * import { checkpointed } from "./checkpointing.ts";
 * const w = tf.variable(tf.tensor2d([[1, 2], [3, 4]]));
 * const f = (x: tf.Tensor) => tf.tanh(tf.matMul(x, w));
 * const { grads } = tf.variableGrads(() => tf.sum(checkpointed(f, tf.ones([1, 2]), [], [w])));
 * grads[w.name].print(); // same as without checkpointing
 * ```
 * @module
 */
import { tf } from "../runtime/tf.ts";
import { releasing } from "./grad_release.ts";

interface EngineState {
  activeTape: unknown;
}

/**
 * fn(x, consts), recomputed in the backward pass instead of kept; gradients flow to x and to
 * `params`. Every tensor fn reads besides x and the variables must come in through `consts` (e.g. an
 * attention mask): tensors created in the forward pass are disposed before the backward pass runs,
 * except those an op saved.
 */
export function checkpointed(
  fn: (x: tf.Tensor, consts: tf.Tensor[]) => tf.Tensor,
  x: tf.Tensor,
  consts: tf.Tensor[],
  params: tf.Variable[],
): tf.Tensor {
  const nc = consts.length;
  const op = tf.customGrad(
    ((...args: unknown[]) => {
      const save = args[args.length - 1] as tf.GradSaveFunc;
      const inputs = args.slice(0, 1 + nc) as tf.Tensor[];
      save(inputs);
      return {
        value: fn(inputs[0], inputs.slice(1)),
        gradFunc: releasing((dy: tf.Tensor, saved: tf.Tensor[]) => {
          const state = (tf.engine() as unknown as { state: EngineState }).state;
          const tape = state.activeTape;
          try {
            const c = saved.slice(1);
            const g = tf.grads((...xs: tf.Tensor[]) => fn(xs[0], c))([saved[0], ...params], dy);
            return [g[0], ...c.map((t) => tf.zerosLike(t)), ...g.slice(1)];
          } finally {
            state.activeTape = tape;
          }
        }),
      };
    }) as unknown as Parameters<typeof tf.customGrad>[0],
  );
  return op(x, ...consts, ...params) as tf.Tensor;
}
