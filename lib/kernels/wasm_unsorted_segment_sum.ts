/**
 * `UnsortedSegmentSum` for the wasm backend, which lacks it. It is the gradient of `tf.gather`, so
 * without it embedding tables cannot be trained on wasm. A plain JS scatter-add over the wasm heap.
 *
 * @example
 * ```ts
 * import { tf } from "../runtime/tf.ts";
 * import { registerWasmKernels } from "./wasm_unsorted_segment_sum.ts";
 * registerWasmKernels(); // idempotent; call after the wasm backend is registered
 * ```
 * @module
 */
import { tf } from "../runtime/tf.ts";

type TypedArray = Float32Array | Int32Array | Uint8Array;

interface WasmBackendLike {
  readSync(dataId: unknown): TypedArray;
  makeOutput(shape: number[], dtype: tf.DataType, memoryOffset?: number, values?: TypedArray): tf.TensorInfo;
}

/** Scatter-add rows of `x` ([n, ...inner]) into `numSegments` rows by `segmentIds` ([n]). Ids out of range are dropped, like TF. */
export function unsortedSegmentSumValues(
  x: ArrayLike<number>,
  ids: ArrayLike<number>,
  numSegments: number,
  inner: number,
  out: Float32Array | Int32Array,
): void {
  for (let r = 0; r < ids.length; r++) {
    const s = ids[r];
    if (s < 0 || s >= numSegments) continue;
    const src = r * inner;
    const dst = s * inner;
    for (let j = 0; j < inner; j++) out[dst + j] += x[src + j];
  }
}

let registered = false;

/** Register the missing wasm kernels (idempotent). */
export function registerWasmKernels(): void {
  if (registered) return;
  registered = true;
  if (tf.getKernel("UnsortedSegmentSum", "wasm")) return;
  tf.registerKernel({
    kernelName: "UnsortedSegmentSum",
    backendName: "wasm",
    kernelFunc: ({ inputs, backend, attrs }) => {
      const b = backend as unknown as WasmBackendLike;
      const x = inputs.x as tf.TensorInfo;
      const segmentIds = inputs.segmentIds as tf.TensorInfo;
      const numSegments = (attrs as { numSegments: number }).numSegments;
      const innerShape = x.shape.slice(segmentIds.shape.length);
      const inner = innerShape.reduce((a, c) => a * c, 1);
      const xv = b.readSync(x.dataId);
      const ids = b.readSync(segmentIds.dataId);
      const out = x.dtype === "int32"
        ? new Int32Array(numSegments * inner)
        : new Float32Array(numSegments * inner);
      unsortedSegmentSumValues(xv, ids, numSegments, inner, out);
      return b.makeOutput([numSegments, ...innerShape], x.dtype, undefined, out);
    },
  });
}
