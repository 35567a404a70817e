/**
 * The word-embedding gradient of a training step as its rows (docs/CPU-PERF.md, "The word-embedding
 * gradient as rows").
 *
 * TF.js differentiates a table lookup (`tf.gather`) into a dense gradient of the whole table: [30522,
 * 768] float32 for BERT-base, 94 MB, zero-filled every step although a batch of 4096 tokens touches at
 * most 4096 rows. It is the largest array of a step and comes last in the backward pass, when the memory
 * freed by activations lies in pieces that it does not fit, so the cpu pool made a new slab for it at
 * most steps; fresh memory costs a page fault per 4 KB (about 3 ms per MB on this project's machines),
 * 0.3 s of a 4.6 s BERT-base bf16 step.
 *
 * During {@link captureRowGradient}, {@link embeddingLookup} of the captured table returns the gathered
 * rows through a custom op whose only taped input is a scalar probe variable; its gradient function sums
 * the incoming gradient into the distinct rows (in token order, the additions of the dense kernel) and
 * hands them to the capture as a {@link RowGradient}. The optimizer updates every row of the table, the
 * absent ones with a zero gradient (`AdamW.step`), so the step is the dense one, value for value.
 * Outside a capture the lookup is `tf.gather`.
 *
 * @example
 * ```ts
 * import { tf } from "../runtime/tf.ts";
 * import { captureRowGradient, embeddingLookup } from "./row_gradient.ts";
 * const table = tf.variable(tf.ones([10, 4]));
 * const capture = captureRowGradient(table);
 * const { grads } = tf.variableGrads(() => tf.sum(embeddingLookup(table, tf.tensor1d([3, 1, 3], "int32"))), [capture.probe]);
 * const rows = capture.end(); // ids [1, 3]; rows [[1, 1, 1, 1], [2, 2, 2, 2]]
 * tf.dispose(Object.values(grads));
 * rows.dispose();
 * ```
 * @module
 */
import { tf } from "../runtime/tf.ts";
import { allocFloat32, nativeKernels, peekFloat32, peekInt32, releaseFloat32 } from "../kernels/mod.ts";

/** The gradient of a [V, H] table as its rows `ids` (ascending, distinct); every other row's is zero. */
export class RowGradient {
  constructor(
    readonly shape: readonly [number, number],
    readonly ids: Int32Array,
    /** [ids.length, H] float32: the gradient of row ids[k] at k·H. */
    readonly rows: Float32Array,
  ) {}

  /** Zero the gradient of row `id` where it has one (torch's `padding_idx`). */
  zeroRow(id: number): void {
    const H = this.shape[1], k = this.ids.indexOf(id);
    if (k >= 0) this.rows.fill(0, k * H, (k + 1) * H);
  }

  /** The dense [V, H] gradient (tests). */
  toDense(): Float32Array {
    const [V, H] = this.shape;
    const out = new Float32Array(V * H);
    this.ids.forEach((id, k) => out.set(this.rows.subarray(k * H, (k + 1) * H), id * H));
    return out;
  }

  /** Give the rows' storage back to the cpu pool. */
  dispose(): void {
    releaseFloat32(this.rows);
  }
}

/** A capture of one table's gradient as rows, from {@link captureRowGradient}. */
export interface RowGradientCapture {
  /** Pass this variable to `tf.variableGrads` in place of the table (its own gradient is zero). */
  readonly probe: tf.Variable;
  /** Stop capturing: the table's gradient (rows of zeros when it was not differentiated). */
  end(): RowGradient;
  /** Stop capturing after a failed pass: no gradient, nothing checked. */
  cancel(): void;
}

interface Active {
  table: tf.Variable;
  probe: tf.Variable;
  lookups: number;
  result?: RowGradient;
}
let active: Active | undefined;

/**
 * Capture the gradient of `table` as rows until `end()`: a forward pass in between must look the table
 * up once, through {@link embeddingLookup}, and be differentiated with respect to `probe` (not the table).
 */
export function captureRowGradient(table: tf.Variable): RowGradientCapture {
  if (active) throw new Error("captureRowGradient: a capture is already active");
  if (table.rank !== 2) throw new Error(`captureRowGradient: the table must be 2-D, not [${table.shape}]`);
  const zero = tf.scalar(0);
  const probe = tf.variable(zero, true, `row_gradient_probe_${probeCount++}`);
  zero.dispose();
  const a: Active = { table, probe, lookups: 0 };
  active = a;
  const close = () => {
    if (active === a) active = undefined;
    if (!probe.isDisposed) probe.dispose();
  };
  return {
    probe,
    cancel() {
      close();
      a.result?.dispose();
    },
    end() {
      close();
      if (a.lookups === 0) {
        throw new Error(`captureRowGradient: ${table.name} was not looked up through embeddingLookup`);
      }
      const [V, H] = table.shape as [number, number];
      return a.result ?? new RowGradient([V, H], new Int32Array(0), new Float32Array(0));
    },
  };
}
let probeCount = 0;

/** `tf.gather(table, ids)` (ids 1-D); during a capture of `table`, with its gradient captured as rows. */
export function embeddingLookup(table: tf.Variable, ids: tf.Tensor1D): tf.Tensor2D {
  const a = active;
  if (!a || a.table !== table) return tf.gather(table, ids) as tf.Tensor2D;
  if (++a.lookups > 1) throw new Error("captureRowGradient: the table was looked up twice");
  const idValues = (peekInt32(ids) ?? ids.dataSync()).slice() as Int32Array; // ids may be gone by the backward pass
  const op = tf.customGrad(
    ((probe: tf.Tensor) => ({
      value: tf.gather(table, ids),
      gradFunc: (dy: tf.Tensor) => {
        a.result = sumRows(dy, idValues, table.shape as [number, number]);
        return [tf.zerosLike(probe)];
      },
    })) as unknown as Parameters<typeof tf.customGrad>[0],
  );
  return op(a.probe) as tf.Tensor2D;
}

/** Σ of dy's rows per id, the ids ascending; each row's additions in token order from zero. */
function sumRows(dy: tf.Tensor, ids: Int32Array, [V, H]: [number, number]): RowGradient {
  const d = peekFloat32(dy) ?? (dy.dataSync() as Float32Array);
  // The distinct ids, ascending, and each token's row among them: a table over the vocabulary (no Set or Map).
  const rowOf = new Int32Array(V).fill(-1);
  for (let r = 0; r < ids.length; r++) {
    const id = ids[r];
    if (!(id >= 0 && id < V)) throw new Error(`embeddingLookup: ids must lie in [0, ${V})`);
    rowOf[id] = 0;
  }
  let count = 0;
  for (let id = 0; id < V; id++) if (rowOf[id] === 0) rowOf[id] = count++;
  const distinct = new Int32Array(count);
  for (let id = 0; id < V; id++) if (rowOf[id] >= 0) distinct[rowOf[id]] = id;
  const rows = allocFloat32(count * H);
  rows.fill(0);
  const k = rows.length < 2 ** 31 ? nativeKernels() : null; // the C pass takes int32 element offsets
  if (k) {
    // one C pass, each element's additions in token order
    k.sumRows(d, Int32Array.from(ids, (id) => rowOf[id] * H), rows, ids.length, H);
  } else {
    for (let r = 0; r < ids.length; r++) {
      const dst = rowOf[ids[r]] * H, src = r * H;
      for (let j = 0; j < H; j++) rows[dst + j] += d[src + j];
    }
  }
  return new RowGradient([V, H], distinct, rows);
}
