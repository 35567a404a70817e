/**
 * The SimCSE contrastive loss (docs/SIMCSE.md §a.4; paper Eq. 1 and 4). Rows of `z` are interleaved
 * views per example: row `numSent*i` is view 1 of example i, row `numSent*i+1` its positive, and with
 * `numSent = 3` row `3i+2` its hard negative. Logits are cos(z1_i, z2_j) / temp (and, for hard
 * negatives, cos(z1_i, z3_j) / temp with `hardNegativeWeight` added at (i, N+i)); the loss is the mean
 * cross-entropy with label i for row i. One direction only, as the official code does.
 *
 * @example
 * ```ts
 * import { tf } from "../runtime/tf.ts";
 * import { simcseLoss } from "./contrastive_loss.ts";
 * const z = tf.tensor2d([[1, 0], [1, 0.1], [0, 1], [0.1, 1]]); // 2 examples x 2 views
 * console.log(simcseLoss(z, { temp: 0.05 }).dataSync()[0] < 0.01); // true: positives are aligned
 * ```
 * @module
 */
import { tf } from "../runtime/tf.ts";

export interface ContrastiveOptions {
  /** Temperature τ (SimCSE default 0.05). */
  temp: number;
  /** 2 (unsupervised / pairs) or 3 (with hard negatives). */
  numSent?: 2 | 3;
  /** Log-weight added to the logit of each example's own hard negative (default 0). */
  hardNegativeWeight?: number;
}

/** Cosine matrix [N, M] with torch `CosineSimilarity` semantics: x·y / max(‖x‖‖y‖, 1e-8). */
export function cosineMatrix(a: tf.Tensor2D, b: tf.Tensor2D): tf.Tensor2D {
  const dots = tf.matMul(a, b, false, true); // [N, M]
  const na = tf.sqrt(tf.sum(tf.square(a), 1, true)); // [N, 1]
  const nb = tf.reshape(tf.sqrt(tf.sum(tf.square(b), 1)), [1, -1]); // [1, M]
  return tf.div(dots, tf.maximum(tf.mul(na, nb), 1e-8));
}

/** Select every `step`-th row starting at `offset`: [R, H] -> [R/step, H]. */
function rows(z: tf.Tensor2D, step: number, offset: number): tf.Tensor2D {
  const [R, H] = z.shape;
  const n = R / step;
  return tf.reshape(tf.slice(tf.reshape(z, [n, step, H]), [0, offset, 0], [n, 1, H]), [n, H]);
}

/** Mean softmax cross-entropy of `logits` [N, C] with target class i for row i. */
export function diagonalCrossEntropy(logits: tf.Tensor2D): tf.Scalar {
  const [N, C] = logits.shape;
  const labels = tf.oneHot(tf.range(0, N, 1, "int32"), C);
  const logp = tf.logSoftmax(logits, -1);
  return tf.neg(tf.div(tf.sum(tf.mul(labels, logp)), N));
}

/** The SimCSE loss for pooled (post-MLP) rows `z` [numSent*N, H]. */
export function simcseLoss(z: tf.Tensor2D, opts: ContrastiveOptions): tf.Scalar {
  const numSent = opts.numSent ?? 2;
  if (z.shape[0] % numSent !== 0) {
    throw new Error(`rows ${z.shape[0]} are not a multiple of numSent ${numSent}`);
  }
  const z1 = rows(z, numSent, 0);
  const z2 = rows(z, numSent, 1);
  let logits = tf.div(cosineMatrix(z1, z2), opts.temp) as tf.Tensor2D; // [N, N]
  if (numSent === 3) {
    const z3 = rows(z, numSent, 2);
    const N = z1.shape[0];
    let hard = tf.div(cosineMatrix(z1, z3), opts.temp) as tf.Tensor2D; // [N, N]
    const w = opts.hardNegativeWeight ?? 0;
    if (w !== 0) hard = tf.add(hard, tf.mul(tf.eye(N), w));
    logits = tf.concat([logits, hard], 1); // [N, 2N]
  }
  return diagonalCrossEntropy(logits);
}
