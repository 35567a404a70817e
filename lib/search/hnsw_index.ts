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
import { InputError } from "../runtime/errors.ts";

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
    checkUsearchBlob(bytes, dim, params, expectCount, file);
    const idx = await HnswIndex.create(dim, {
      connectivity: params.connectivity,
      expansionAdd: params.expansionAdd,
      expansionSearch: opts.expansionSearch ?? params.expansionSearch,
      threads: opts.threads,
    });
    let tmp: string | undefined;
    try {
      tmp = await Deno.makeTempFile({ prefix: "simcse-hnsw-", suffix: ".usearch" });
      await Deno.writeFile(tmp, bytes);
      idx.index.load(tmp);
    } catch (e) {
      idx.dispose();
      throw new InputError(`the HNSW graph could not be read (${(e as Error).message})`, {
        file,
        key: "hnsw",
      });
    } finally {
      if (tmp !== undefined) await Deno.remove(tmp).catch(() => {});
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

/** USearch's file header (`index_dense_head_t`, 64 bytes) and graph header (`index_serialized_header_t`). */
const DENSE_HEAD = 64;
const GRAPH_HEAD = 40;
const NODE_HEAD = 10; // u64 key + i16 level
/** USearch's one-byte codes: metric `i` (inner product), scalars f32, u64 keys, u32 slots. */
const KIND_IP = 0x69, KIND_F32 = 11, KIND_U64 = 14, KIND_U32 = 15;
/** More levels than any graph of 2^53 nodes can reach with connectivity >= 2. */
const MAX_LEVEL = 64;

/**
 * Check a saved USearch graph against the layout USearch 2.x writes (`index_dense.hpp` and
 * `index.hpp` of the package: a u32 row count and row size, the float32 rows, a 64-byte head with
 * magic, version, kinds and counts, a 40-byte graph header, one i16 level per node, then each node's
 * key, level and neighbour lists), so that no count, size, level or neighbour slot the native library
 * reads from a damaged or hostile file can make it allocate absurd memory or read out of bounds.
 * Every violation is an InputError naming `file` and the byte offset.
 */
export function checkUsearchBlob(
  bytes: Uint8Array,
  dim: number,
  params: HnswParams,
  expectCount: number,
  file?: string,
): void {
  const fail = (detail: string, offset?: number): never => {
    throw new InputError(`the HNSW graph is damaged: ${detail}`, {
      file,
      key: "hnsw",
      ...(offset === undefined ? {} : { offset }),
    });
  };
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const need = (at: number, n: number, what: string) => {
    if (at + n > bytes.length) fail(`${what} needs ${n} bytes at ${at}, the graph has ${bytes.length}`, at);
  };
  const u64 = (at: number, what: string, max: number): number => {
    const v = view.getBigUint64(at, true);
    if (v > BigInt(max)) fail(`${what} is ${v}, at most ${max} expected`, at);
    return Number(v);
  };
  need(0, 8, "the matrix size");
  const rows = view.getUint32(0, true), cols = view.getUint32(4, true);
  if (rows !== expectCount) fail(`it stores ${rows} vectors, the index holds ${expectCount}`, 0);
  if (cols !== dim * 4) fail(`its vectors have ${cols} bytes, ${dim} float32 need ${dim * 4}`, 4);
  let at = 8 + rows * cols;
  need(at, DENSE_HEAD, "the USearch head");
  const head = at;
  if (new TextDecoder().decode(bytes.subarray(at, at + 7)) !== "usearch") fail("no USearch magic", at);
  const major = view.getUint16(at + 7, true), minor = view.getUint16(at + 9, true);
  if (major !== 2 || minor < 10) fail(`USearch format ${major}.${minor} (2.10 or later expected)`, at + 7);
  const kinds = [bytes[at + 13], bytes[at + 14], bytes[at + 15], bytes[at + 16]];
  if (kinds.join() !== [KIND_IP, KIND_F32, KIND_U64, KIND_U32].join()) {
    fail(`metric/scalar/key/slot kinds ${kinds.join("/")} are not inner product/f32/u64/u32`, at + 13);
  }
  const present = u64(at + 17, "the count of vectors", expectCount);
  u64(at + 25, "the count of deleted vectors", 0);
  const dims = u64(at + 33, "the dimension", dim);
  if (present !== expectCount || dims !== dim) {
    fail(
      `the head says ${present} vectors of size ${dims}, the index holds ${expectCount} of size ${dim}`,
      at,
    );
  }
  if (bytes[at + 41] !== 0) fail("it is a multi-vector index", at + 41);
  at = head + DENSE_HEAD;
  need(at, GRAPH_HEAD, "the graph header");
  const size = u64(at, "the node count", expectCount);
  if (size !== expectCount) fail(`it has ${size} nodes, the index holds ${expectCount}`, at);
  const conn = u64(at + 8, "the connectivity", 1 << 16);
  const connBase = u64(at + 16, "the base connectivity", 1 << 17);
  if (conn !== params.connectivity) {
    fail(`connectivity ${conn}, the header says ${params.connectivity}`, at + 8);
  }
  if (connBase < conn) fail(`base connectivity ${connBase} is below connectivity ${conn}`, at + 16);
  const maxLevel = size === 0 ? 0 : u64(at + 24, "the top level", MAX_LEVEL);
  const entry = size === 0 ? 0 : u64(at + 32, "the entry node", size - 1);
  at += GRAPH_HEAD;
  if (size === 0) {
    if (at !== bytes.length) fail(`${bytes.length - at} bytes after an empty graph`, at);
    return;
  }
  need(at, size * 2, "the node levels");
  const levels = new Int16Array(size);
  let total = 0, top = -1;
  const baseBytes = 4 + 4 * connBase, levelBytes = 4 + 4 * conn;
  for (let i = 0; i < size; i++) {
    const l = view.getInt16(at + 2 * i, true);
    if (l < 0 || l > maxLevel) fail(`node ${i} has level ${l}, outside 0..${maxLevel}`, at + 2 * i);
    levels[i] = l;
    top = Math.max(top, l);
    total += NODE_HEAD + baseBytes + l * levelBytes;
  }
  if (top !== maxLevel) fail(`the top level is ${maxLevel}, but the highest node level is ${top}`, head);
  if (levels[entry] !== maxLevel) fail(`the entry node ${entry} is not on the top level`, head);
  at += size * 2;
  if (bytes.length - at !== total) {
    fail(`the nodes need ${total} bytes, ${bytes.length - at} follow`, at);
  }
  for (let i = 0; i < size; i++) {
    const key = view.getBigUint64(at, true);
    if (key >= BigInt(size)) fail(`node ${i} has key ${key}, outside 0..${size - 1}`, at);
    if (view.getInt16(at + 8, true) !== levels[i]) fail(`node ${i} disagrees about its level`, at + 8);
    at += NODE_HEAD;
    for (let l = 0; l <= levels[i]; l++) {
      const cap = l === 0 ? connBase : conn;
      const n = view.getUint32(at, true);
      if (n > cap) fail(`node ${i} lists ${n} neighbours on level ${l}, at most ${cap} fit`, at);
      for (let j = 0; j < n; j++) {
        const slot = view.getUint32(at + 4 + 4 * j, true);
        if (slot >= size) fail(`node ${i} links to node ${slot}, outside 0..${size - 1}`, at + 4 + 4 * j);
      }
      at += 4 + 4 * cap;
    }
  }
}
