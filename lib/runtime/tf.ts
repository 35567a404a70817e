/**
 * The one place the toolkit imports TensorFlow.js from. `lib/` stays backend-agnostic: the
 * backend is chosen at the entry point (see `backend.ts`).
 *
 * @example
 * ```ts
 * import { tf } from "./tf.ts";
 * const x = tf.tensor1d([1, 2, 3]);
 * x.dispose();
 * ```
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import { installTapeRelease } from "./tape_release.ts";

// tfjs prints an "install tfjs-node" banner the first time a backend is used under Node/Deno;
// the toolkit tells users about backends itself (`--backend`), so silence it.
tf.env().set("PROD", true);
// Free each intermediate gradient once the backward pass has used it (docs/PRECISION.md, "What is saved").
installTapeRelease(tf.engine());

export { tf };

/** A TF.js tensor of any rank (`tf.Tensor` of `@tensorflow/tfjs`). */
export type Tensor = tf.Tensor;
/** A rank-2 TF.js tensor (`tf.Tensor2D` of `@tensorflow/tfjs`), e.g. token ids [B, L] or embeddings [B, H]. */
export type Tensor2D = tf.Tensor2D;
/** A rank-3 TF.js tensor (`tf.Tensor3D` of `@tensorflow/tfjs`), e.g. hidden states [B, L, H]. */
export type Tensor3D = tf.Tensor3D;
/** A trainable TF.js variable (`tf.Variable` of `@tensorflow/tfjs`) of any rank: a model parameter. */
export type Variable = tf.Variable;
