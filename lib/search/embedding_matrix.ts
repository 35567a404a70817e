/**
 * A growable row-major Float32 matrix of unit-length sentence embeddings: the brute-force index.
 * `scores(query)` is the cosine of a unit query against every row, computed by a tight dot-product
 * loop (rows are already L2-normalised, so the dot product is the cosine).
 *
 * @example
 * ```ts
 * import { EmbeddingMatrix } from "./embedding_matrix.ts";
 * const m = new EmbeddingMatrix(2);
 * m.append([new Float32Array([3, 4]), new Float32Array([0, 2])]);
 * console.log(m.scores(new Float32Array([0, 1]))); // Float32Array [0.8, 1]
 * ```
 * @module
 */
import { InputError } from "../runtime/errors.ts";

export class EmbeddingMatrix {
  private buf: Float32Array;
  private rows = 0;

  /** An empty matrix of `dim` columns; `initialRows` reserves space. */
  constructor(readonly dim: number, initialRows = 16) {
    if (!Number.isInteger(dim) || dim <= 0) {
      throw new InputError(`embedding size must be positive, got ${dim}`);
    }
    this.buf = new Float32Array(dim * Math.max(1, initialRows));
  }

  /** Wrap an existing row-major matrix of `count` rows (taken as is: rows must already be unit length). */
  static fromData(dim: number, data: Float32Array): EmbeddingMatrix {
    if (data.length % dim !== 0) {
      throw new InputError(`matrix of ${data.length} values is not a multiple of ${dim}`);
    }
    const m = new EmbeddingMatrix(dim, 1);
    m.buf = data;
    m.rows = data.length / dim;
    return m;
  }

  /** Number of rows. */
  get count(): number {
    return this.rows;
  }

  /** The used part of the matrix (a view, `count * dim` values). */
  get data(): Float32Array {
    return this.buf.subarray(0, this.rows * this.dim);
  }

  /** Row `i` (a view). */
  row(i: number): Float32Array {
    return this.buf.subarray(i * this.dim, (i + 1) * this.dim);
  }

  /** Append vectors, each L2-normalised on the way in (a zero vector stays zero). */
  append(vectors: Float32Array[]): void {
    for (const v of vectors) {
      if (v.length !== this.dim) {
        throw new InputError(`embedding has ${v.length} values, the index has ${this.dim}`);
      }
    }
    const need = (this.rows + vectors.length) * this.dim;
    if (need > this.buf.length) {
      const grown = new Float32Array(Math.max(need, this.buf.length * 2));
      grown.set(this.data);
      this.buf = grown;
    }
    for (const v of vectors) {
      this.buf.set(unitVector(v), this.rows * this.dim);
      this.rows++;
    }
  }

  /** Dot product of `query` (length `dim`) with every row. */
  scores(query: Float32Array): Float32Array {
    const d = this.dim, n = this.rows, m = this.buf;
    if (query.length !== d) {
      throw new InputError(`query embedding has ${query.length} values, the index has ${d}`);
    }
    const out = new Float32Array(n);
    for (let r = 0, off = 0; r < n; r++, off += d) {
      let s0 = 0, s1 = 0, s2 = 0, s3 = 0;
      let j = 0;
      for (; j + 3 < d; j += 4) {
        s0 += m[off + j] * query[j];
        s1 += m[off + j + 1] * query[j + 1];
        s2 += m[off + j + 2] * query[j + 2];
        s3 += m[off + j + 3] * query[j + 3];
      }
      for (; j < d; j++) s0 += m[off + j] * query[j];
      out[r] = (s0 + s1) + (s2 + s3);
    }
    return out;
  }
}

/** `v` scaled to unit L2 norm, as a new Float32Array (norm computed in float64; zero stays zero). */
export function unitVector(v: ArrayLike<number>): Float32Array {
  let ss = 0;
  for (let i = 0; i < v.length; i++) ss += v[i] * v[i];
  const out = Float32Array.from(v);
  if (ss > 0 && Number.isFinite(ss)) {
    const inv = 1 / Math.sqrt(ss);
    for (let i = 0; i < out.length; i++) out[i] *= inv;
  }
  return out;
}
