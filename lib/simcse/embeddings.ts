/**
 * Sentence embeddings as one row-major float32 matrix with its shape, what `SentenceEncoder.encode`
 * returns (as sentence-transformers returns one array): `data` holds `shape[0]` rows of `shape[1]`
 * values; `row(i)` is a view, `toArray()` a plain `number[][]` copy.
 *
 * @example
 * ```ts
 * import { Embeddings } from "./embeddings.ts";
 * const e = Embeddings.fromRows([new Float32Array([1, 2]), new Float32Array([3, 4])]);
 * console.log(e.shape, e.row(1), e.toArray()); // [2, 2] Float32Array [3, 4] [[1, 2], [3, 4]]
 * ```
 * @module
 */

/** A [rows, dim] float32 matrix of sentence embeddings, row-major. */
export class Embeddings {
  /**
   * A matrix over `data` (not copied).
   *
   * @param data the rows one after another (`shape[0] * shape[1]` values)
   * @param shape [rows, dim]
   */
  constructor(
    /** The rows one after another, row-major. */
    readonly data: Float32Array,
    /** [rows, dim]. */
    readonly shape: [number, number],
  ) {
    if (data.length !== shape[0] * shape[1]) {
      throw new RangeError(`${data.length} values do not make a [${shape}] matrix`);
    }
  }

  /** Rows of equal length as one matrix (a `[0, 0]` matrix for none). */
  static fromRows(rows: readonly Float32Array[]): Embeddings {
    const dim = rows[0]?.length ?? 0;
    const data = new Float32Array(rows.length * dim);
    rows.forEach((r, i) => {
      if (r.length !== dim) throw new RangeError(`row ${i} has ${r.length} values, row 0 has ${dim}`);
      data.set(r, i * dim);
    });
    return new Embeddings(data, [rows.length, dim]);
  }

  /** Number of rows (sentences). */
  get rows(): number {
    return this.shape[0];
  }

  /** Row `i` as a view into `data`. */
  row(i: number): Float32Array {
    const d = this.shape[1];
    if (!Number.isInteger(i) || i < 0 || i >= this.shape[0]) {
      throw new RangeError(`no row ${i} of ${this.shape[0]}`);
    }
    return this.data.subarray(i * d, (i + 1) * d);
  }

  /** The rows as plain arrays of numbers. */
  toArray(): number[][] {
    return Array.from({ length: this.shape[0] }, (_, i) => Array.from(this.row(i)));
  }
}
