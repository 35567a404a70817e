/**
 * 16-bit codes widened once into float32 for several backward passes that read them, where the matmuls
 * widen 16-bit operands at every call (binary16 on OpenBLAS: `gemmWidensOperands`).
 *
 * A LayerNorm's x̂ codes are read by the weight gradients of every Linear after it (BERT's Q, K and V):
 * each product widened the same codes into a float32 copy of its own. Here the Linears count themselves
 * as readers in the forward pass ({@link expectWidening}); the first backward pass widens the codes into
 * pooled storage, the others take that copy, and the last one gives it back ({@link doneWidened}). The
 * values are the codes' values either way (the product's bits do not change).
 *
 * At most two copies are alive: the readers of one LayerNorm run within one layer's backward pass, so a
 * third copy means a reader never came (a tape whose gradient skipped it); the oldest then goes back to
 * the pool, and a late reader would widen the codes again.
 *
 * @example
 * ```ts
 * import { tf } from "../runtime/tf.ts";
 * import { doneWidened, expectWidening, widenedFor } from "./widened_codes.ts";
 * const codes = tf.tensor1d([0x3c003c00], "int32"); // two binary16 ones
 * expectWidening(codes);
 * expectWidening(codes);
 * widenedFor("f16", codes, 2); // Float32Array [1, 1], for both readers
 * doneWidened(codes);
 * doneWidened(codes);
 * ```
 * @module
 */
import type { tf } from "../runtime/tf.ts";
import { allocFloat32, peekInt32, releaseFloat32, unpackHalfFast } from "../kernels/mod.ts";

interface Entry {
  words: Int32Array;
  values: Float32Array;
  left: number;
}

const readers = new WeakMap<Int32Array, number>();
const live: Entry[] = [];
const MAX_LIVE = 2;

function storage(codes: tf.Tensor): Int32Array | null {
  return peekInt32(codes);
}

function release(e: Entry): void {
  live.splice(live.indexOf(e), 1);
  readers.delete(e.words);
  releaseFloat32(e.values);
}

/** One more backward pass will read `codes` (a tensor of packed 16-bit codes on the cpu backend) widened. */
export function expectWidening(codes: tf.Tensor): void {
  const w = storage(codes);
  if (w) readers.set(w, (readers.get(w) ?? 0) + 1);
}

/**
 * The float32 values of the first `n` codes of `codes` in `type`, widened once for every reader counted by
 * {@link expectWidening}; undefined for fewer than two readers (the product widens them itself). Each
 * reader that took them calls {@link doneWidened} once it has used them.
 */
export function widenedFor(type: "bf16" | "f16", codes: tf.Tensor, n: number): Float32Array | undefined {
  const w = storage(codes);
  const count = w ? readers.get(w) ?? 0 : 0;
  if (!w || count < 2) return undefined;
  let e = live.find((x) => x.words === w);
  if (!e) {
    const values = unpackHalfFast(type, new Uint16Array(w.buffer, w.byteOffset, n), n, allocFloat32(n));
    e = { words: w, values, left: count };
    live.push(e);
    while (live.length > MAX_LIVE) release(live[0]);
  }
  return e.values;
}

/** A reader of {@link widenedFor} is done: the last one gives the copy back to the pool. */
export function doneWidened(codes: tf.Tensor): void {
  const w = storage(codes);
  const e = w && live.find((x) => x.words === w);
  if (!e) return;
  e.left--;
  if (e.left <= 0) release(e);
}
