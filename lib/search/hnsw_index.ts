/**
 * The approximate nearest-neighbour index for large corpora: an HNSW graph over unit embeddings
 * with inner-product similarity, from the maintained npm package `usearch` (Unum's USearch; a
 * prebuilt N-API binary ships inside the package, so it installs and runs offline in Deno). The
 * package is loaded on first use, so exact search never needs it.
 *
 * Like the official tool's faiss path (docs/SIMCSE.md §e.3), a query retrieves `topK` candidates by
 * inner product; the caller then drops those below the threshold. Scores are recomputed exactly
 * from the stored embeddings by the caller, so only the candidate set is approximate.
 *
 * The graph can be serialised to bytes (USearch's own format) and restored without rebuilding.
 *
 * @example
 * ```ts
 * import { HnswIndex } from "./hnsw_index.ts";
 * const idx = await HnswIndex.create(2);
 * idx.add(0, new Float32Array([1, 0, 0.6, 0.8]));
 * console.log(idx.search(new Float32Array([1, 0]), 1)); // [0]
 * idx.dispose();
 * ```
 * @module
 */
// deno-lint-ignore no-import-prefix
import type { Index as UsearchIndex } from "npm:usearch@2.26.2";
import { InputError } from "../errors.ts";

/** The npm package (and exact version) behind the approximate index, recorded in saved indexes. */
export const HNSW_LIBRARY = "usearch@2.26.2";

/** HNSW build and search parameters (USearch's names in brackets). */
export interface HnswOptions {
  /** Graph degree M [connectivity] (default 16). */
  connectivity?: number;
  /** Beam width while inserting [expansion_add] (default 128). */
  expansionAdd?: number;
  /** Beam width while searching [expansion_search] (default 64); a query uses max(this, k). */
  expansionSearch?: number;
  /** Threads used to insert (default 0 = all cores). */
  threads?: number;
}

/** The resolved parameters, as stored in an index file header. */
export interface HnswParams {
  library: string;
  metric: "ip";
  connectivity: number;
  expansionAdd: number;
  expansionSearch: number;
}

/** The key USearch reports for "no result" (-1 as an unsigned 64-bit integer). */
const MISSING = 0xffff_ffff_ffff_ffffn;

type UsearchModule = typeof import("npm:usearch@2.26.2");

let usearchModule: Promise<UsearchModule["default"]> | undefined;

/** Load `usearch` once (its native binary is only opened when an approximate index is used). */
function loadUsearch(): Promise<UsearchModule["default"]> {
  // deno-lint-ignore no-import-prefix
  usearchModule ??= import("npm:usearch@2.26.2").then((m) => m.default);
  return usearchModule;
}

export class HnswIndex {
  private constructor(
    private readonly index: UsearchIndex,
    readonly dim: number,
    readonly params: HnswParams,
    private readonly threads: number,
  ) {}

  /** An empty index for `dim`-dimensional unit vectors. */
  static async create(dim: number, opts: HnswOptions = {}): Promise<HnswIndex> {
    const params: HnswParams = {
      library: HNSW_LIBRARY,
      metric: "ip",
      connectivity: opts.connectivity ?? 16,
      expansionAdd: opts.expansionAdd ?? 128,
      expansionSearch: opts.expansionSearch ?? 64,
    };
    for (const k of ["connectivity", "expansionAdd", "expansionSearch"] as const) {
      if (!Number.isInteger(params[k]) || params[k] <= 0) {
        throw new InputError(`HNSW ${k} must be a positive integer, got ${params[k]}`, { key: k });
      }
    }
    const usearch = await loadUsearch();
    const index = new usearch.Index({
      dimensions: dim,
      metric: usearch.MetricKind.IP,
      quantization: usearch.ScalarKind.F32,
      connectivity: params.connectivity,
      expansion_add: params.expansionAdd,
      expansion_search: params.expansionSearch,
      multi: false,
    });
    return new HnswIndex(index, dim, params, opts.threads ?? 0);
  }

  /**
   * Restore a graph saved by {@link serialize}. `file` names the index file in errors; a blob that
   * USearch cannot read, or whose size or dimension disagrees with the header, is an InputError.
   */
  static async deserialize(
    bytes: Uint8Array,
    dim: number,
    params: HnswParams,
    expectCount: number,
    file?: string,
    opts: Pick<HnswOptions, "expansionSearch" | "threads"> = {},
  ): Promise<HnswIndex> {
    const idx = await HnswIndex.create(dim, {
      connectivity: params.connectivity,
      expansionAdd: params.expansionAdd,
      expansionSearch: opts.expansionSearch ?? params.expansionSearch,
      threads: opts.threads,
    });
    const tmp = await Deno.makeTempFile({ prefix: "simcse-hnsw-", suffix: ".usearch" });
    try {
      await Deno.writeFile(tmp, bytes);
      idx.index.load(tmp);
    } catch (e) {
      idx.dispose();
      throw new InputError(`the HNSW graph could not be read (${(e as Error).message})`, {
        file,
        key: "hnsw",
      });
    } finally {
      await Deno.remove(tmp).catch(() => {});
    }
    if (idx.index.size() !== expectCount || idx.index.dimensions() !== dim) {
      const got = `${idx.index.size()} vectors of size ${idx.index.dimensions()}`;
      idx.dispose();
      throw new InputError(`the HNSW graph holds ${got}, the header says ${expectCount} of size ${dim}`, {
        file,
        key: "hnsw",
      });
    }
    return idx;
  }

  /** Number of vectors in the graph. */
  get size(): number {
    return this.index.size();
  }

  /** Insert rows `firstKey, firstKey + 1, ...` from a row-major matrix of unit vectors. */
  add(firstKey: number, rows: Float32Array): void {
    const n = rows.length / this.dim;
    if (!Number.isInteger(n)) {
      throw new InputError(`matrix of ${rows.length} values is not a multiple of ${this.dim}`);
    }
    if (n === 0) return;
    const keys = new BigUint64Array(n);
    for (let i = 0; i < n; i++) keys[i] = BigInt(firstKey + i);
    this.index.add(keys, rows, this.threads);
  }

  /** Keys of the (approximately) `k` highest inner products with `query`, best first. */
  search(query: Float32Array, k: number): number[] {
    if (k <= 0 || this.size === 0) return [];
    const m = this.index.search(query, Math.min(k, this.size), 1);
    const out: number[] = [];
    for (let i = 0; i < m.keys.length; i++) {
      const key = m.keys[i];
      if (key !== MISSING) out.push(Number(key)); // USearch pads missing results with -1
    }
    return out;
  }

  /** The graph in USearch's file format. */
  async serialize(): Promise<Uint8Array> {
    const tmp = await Deno.makeTempFile({ prefix: "simcse-hnsw-", suffix: ".usearch" });
    try {
      this.index.save(tmp);
      return await Deno.readFile(tmp);
    } finally {
      await Deno.remove(tmp).catch(() => {});
    }
  }

  /** Nothing to free explicitly (USearch frees the graph when the object is collected); kept for symmetry. */
  dispose(): void {}
}
