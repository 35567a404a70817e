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

// tfjs prints an "install tfjs-node" banner the first time a backend is used under Node/Deno;
// the toolkit tells users about backends itself (`--backend`), so silence it.
tf.env().set("PROD", true);

export { tf };
