/**
 * `linear(x, W, b)` = x @ W + b for x [N, in], W [in, out], with a custom gradient that feeds only
 * plain (untransposed) 2-D matmuls: dx = dy @ Wᵀ and dW = xᵀ @ dy with the transposes materialised
 * first. Why custom: on the wasm backend, autograd's `matMul(…, transposeA/B)` takes a slow path
 * (0.5 GFLOP/s against 11.4 for a plain [4096, 768] × [768, 768] matmul; docs/CPU-PERF.md), and these two matmuls are most of a training step.
 * On other backends (cpu with BLAS sgemm, tensorflow, webgpu) the transposes are free flags, so
 * the gradient passes them instead of materialising, and the forward fuses the bias add.
 *
 * @example
 * ```ts
 * import { tf } from "../runtime/tf.ts";
 * import { linear } from "./linear.ts";
 * linear(tf.ones([2, 3]) as tf.Tensor2D, tf.ones([3, 4]) as tf.Tensor2D, tf.zeros([4]) as tf.Tensor1D).print(); // all 3
 * ```
 * @module
 */
import { tf } from "../runtime/tf.ts";
import { releasing } from "./grad_release.ts";

/** Whether matmul transpose flags are free on the active backend (all but wasm). */
const freeTransposes = () => tf.getBackend() !== "wasm";

/** x @ W + b, the forward value (bias fused into the matmul where the backend can). */
export function linearValue(x: tf.Tensor2D, w: tf.Tensor2D, b: tf.Tensor1D): tf.Tensor2D {
  return (freeTransposes()
    ? tf.fused.matMul({ a: x, b: w, bias: b })
    : tf.add(tf.matMul(x, w), b)) as tf.Tensor2D;
}

/** The gradients of x @ W + b for an output gradient dy: dx = dy @ Wᵀ, dW = xᵀ @ dy, db = Σ_rows dy. */
export function linearGrads(
  dy: tf.Tensor2D,
  x: tf.Tensor2D,
  w: tf.Tensor2D,
): { dx: tf.Tensor2D; dw: tf.Tensor2D; db: tf.Tensor1D } {
  const flags = freeTransposes();
  return {
    dx: flags ? tf.matMul(dy, w, false, true) : tf.matMul(dy, tf.transpose(w)),
    dw: flags ? tf.matMul(x, dy, true, false) : tf.matMul(tf.transpose(x), dy),
    db: tf.sum(dy, 0),
  };
}

/**
 * W given as columns [col, col + out) of a wider weight `full` (GPT-2's q, k and v blocks of c_attn):
 * the op saves `full` itself (a variable: no copy) instead of the sliced W, and slices it again in its
 * backward pass, so the slice can be disposed as soon as the forward product is done.
 */
export interface WeightColumns {
  full: tf.Tensor2D;
  col: number;
}

/** The Linear op; with `cols`, one that saves the wider weight W was sliced from (see {@link WeightColumns}). */
function linearOpFor(cols?: WeightColumns) {
  return tf.customGrad(
    ((x: tf.Tensor, w: tf.Tensor, b: tf.Tensor, save: tf.GradSaveFunc) => {
      save([x, cols ? cols.full : w]);
      const [nIn, nOut] = w.shape as [number, number];
      return {
        value: linearValue(x as tf.Tensor2D, w as tf.Tensor2D, b as tf.Tensor1D),
        gradFunc: releasing((dy: tf.Tensor, saved: tf.Tensor[]) => {
          const [xs, wSaved] = saved as tf.Tensor2D[];
          const ws = cols ? tf.slice(wSaved, [0, cols.col], [nIn, nOut]) as tf.Tensor2D : wSaved;
          const { dx, dw, db } = linearGrads(dy as tf.Tensor2D, xs, ws);
          if (ws !== wSaved) ws.dispose();
          return [dx, dw, db];
        }),
      };
    }) as unknown as Parameters<typeof tf.customGrad>[0],
  );
}

const linearOp = linearOpFor();

/**
 * x [N, in] @ W [in, out] + b [out] -> [N, out]. With `cols`, W is those columns of a wider weight,
 * which the backward pass reads instead of W.
 */
export function linear(x: tf.Tensor2D, w: tf.Tensor2D, b: tf.Tensor1D, cols?: WeightColumns): tf.Tensor2D {
  if (x.rank !== 2 || w.rank !== 2 || x.shape[1] !== w.shape[0]) {
    throw new Error(`linear: x [${x.shape}] and W [${w.shape}] do not chain`);
  }
  if (cols) checkColumns(w, cols);
  return (cols ? linearOpFor(cols) : linearOp)(x, w, b) as tf.Tensor2D;
}

/** That `cols` can hold W: the same rows, and out columns from `col` on. */
export function checkColumns(w: tf.Tensor2D, cols: WeightColumns): void {
  const [nIn, nOut] = w.shape, [rows, width] = cols.full.shape;
  if (rows !== nIn || !Number.isInteger(cols.col) || cols.col < 0 || cols.col + nOut > width) {
    throw new Error(`W [${w.shape}] is not columns ${cols.col}.. of a weight [${cols.full.shape}]`);
  }
}
