/**
 * The saved sentence-index file (`.simidx`, format `simcse-sentence-index` version 1). Layout:
 *
 * | bytes | content |
 * |---|---|
 * | 0–7 | magic `SIMCSEIX` |
 * | 8–15 | header length H, unsigned 64-bit little-endian |
 * | 16 … 16+H | header JSON (UTF-8, space-padded so the data starts at a multiple of 8) |
 * | then | the sections named in `header.sections`, at offsets relative to the end of the header |
 *
 * Sections: `sentences` (a UTF-8 JSON array of strings), `embeddings` (count × dim float32,
 * little-endian, row-major, rows L2-normalised) and, for an approximate index, `hnsw` (the graph in
 * USearch's own format, so loading does not rebuild it). The header also records the model folder,
 * the pooler, the sizes and the HNSW parameters.
 *
 * Reading checks every size against the file length, so a truncated or foreign file is an
 * {@link InputError} naming the file (and the key or byte offset), never a crash or garbage results.
 *
 * @example
 * ```ts
 * import { decodeIndexFile, encodeIndexFile } from "./index_file.ts";
 * const bytes = encodeIndexFile({
 *   meta: { modelPath: null, pooler: null, dim: 2, count: 1, createdAt: "2026-01-01T00:00:00Z", hnsw: null },
 *   sentences: ["hi"], embeddings: new Float32Array([0.6, 0.8]), hnsw: null,
 * });
 * console.log(decodeIndexFile(bytes, "mem").sentences); // ["hi"]
 * ```
 * @module
 */
import { InputError } from "../runtime/errors.ts";
import { inputError } from "../runtime/printable.ts";
import { writeFileAtomic } from "../runtime/atomic_write.ts";
import { describeIoError, readInputFile } from "../checkpoint/read_input.ts";
import type { HnswParams } from "./hnsw_index.ts";

export const INDEX_FORMAT = "simcse-sentence-index";
export const INDEX_VERSION = 1;
const MAGIC = "SIMCSEIX";
const PREAMBLE = 16;

/** What the header says about the index (besides the section layout). */
export interface IndexMeta {
  /** The model folder the embeddings came from (as given when building), or null. */
  modelPath: string | null;
  /** The pooler used (e.g. `cls_before_pooler`), or null when unknown (a custom embedding function). */
  pooler: string | null;
  /** Embedding size. */
  dim: number;
  /** Number of sentences (= embedding rows). */
  count: number;
  /** ISO time the file was written. */
  createdAt: string;
  /** Parameters of the saved HNSW graph, or null when the file holds none. */
  hnsw: HnswParams | null;
}

/** The whole content of an index file. */
export interface IndexFileContents {
  meta: IndexMeta;
  sentences: string[];
  /** count × dim, row-major, unit rows. */
  embeddings: Float32Array;
  /** USearch graph bytes, or null. */
  hnsw: Uint8Array | null;
}

interface Section {
  offset: number;
  length: number;
}

interface RawHeader extends IndexMeta {
  format: string;
  version: number;
  dtype: string;
  byteOrder: string;
  sections: { sentences: Section; embeddings: Section; hnsw?: Section };
}

const pad8 = (n: number) => (8 - (n % 8)) % 8;
/** Whether this host stores numbers little-endian (then float32 data is copied in bulk). */
const HOST_LE = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

/** Serialise an index to bytes (see the module doc for the layout). */
export function encodeIndexFile(c: IndexFileContents): Uint8Array {
  const { dim, count } = c.meta;
  if (c.sentences.length !== count || c.embeddings.length !== count * dim) {
    throw new Error(
      `index has ${c.sentences.length} sentences and ${c.embeddings.length} values; header says ${count} × ${dim}`,
    );
  }
  const te = new TextEncoder();
  const sentences = te.encode(JSON.stringify(c.sentences));
  const embOffset = sentences.length + pad8(sentences.length);
  const embLength = c.embeddings.length * 4;
  const hnswOffset = embOffset + embLength;
  const header: RawHeader = {
    format: INDEX_FORMAT,
    version: INDEX_VERSION,
    ...c.meta,
    dtype: "float32",
    byteOrder: "little",
    sections: {
      sentences: { offset: 0, length: sentences.length },
      embeddings: { offset: embOffset, length: embLength },
      ...(c.hnsw ? { hnsw: { offset: hnswOffset, length: c.hnsw.length } } : {}),
    },
  };
  let headerText = JSON.stringify(header);
  headerText += " ".repeat(pad8(PREAMBLE + te.encode(headerText).length));
  const headerBytes = te.encode(headerText);
  const dataStart = PREAMBLE + headerBytes.length;
  const total = dataStart + hnswOffset + (c.hnsw?.length ?? 0);
  const out = new Uint8Array(total);
  out.set(te.encode(MAGIC), 0);
  new DataView(out.buffer).setBigUint64(8, BigInt(headerBytes.length), true);
  out.set(headerBytes, PREAMBLE);
  out.set(sentences, dataStart);
  if (HOST_LE) {
    out.set(new Uint8Array(c.embeddings.buffer, c.embeddings.byteOffset, embLength), dataStart + embOffset);
  } else {
    const emb = new DataView(out.buffer, dataStart + embOffset, embLength);
    for (let i = 0; i < c.embeddings.length; i++) emb.setFloat32(i * 4, c.embeddings[i], true);
  }
  if (c.hnsw) out.set(c.hnsw, dataStart + hnswOffset);
  return out;
}

/** Check the preamble and header of `bytes` (the whole file, or at least its first 16 + H bytes). */
function parseHeader(
  bytes: Uint8Array,
  file: string,
  fileSize = bytes.length,
): { h: RawHeader; dataStart: number } {
  const fail = (detail: string, where: { key?: string; offset?: number } = {}) =>
    inputError(detail, { file, ...where });
  if (fileSize < PREAMBLE || bytes.length < PREAMBLE) {
    throw fail(
      `not a sentence index: the file is ${fileSize} bytes, shorter than the ${PREAMBLE}-byte preamble`,
    );
  }
  const magic = new TextDecoder().decode(bytes.subarray(0, 8));
  if (magic !== MAGIC) {
    throw fail(`not a sentence index (it starts with ${JSON.stringify(magic)}, expected "${MAGIC}")`, {
      offset: 0,
    });
  }
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const headerLen = view.getBigUint64(8, true);
  if (headerLen > BigInt(fileSize - PREAMBLE)) {
    throw fail(`truncated: the header needs ${headerLen} bytes, only ${fileSize - PREAMBLE} follow`, {
      offset: 8,
    });
  }
  const dataStart = PREAMBLE + Number(headerLen);
  let h: RawHeader;
  try {
    h = JSON.parse(new TextDecoder("utf-8", { fatal: true }).decode(bytes.subarray(PREAMBLE, dataStart)));
  } catch (e) {
    throw fail(`the header is not valid JSON (${(e as Error).message})`, { offset: PREAMBLE });
  }
  if (typeof h !== "object" || h === null || Array.isArray(h)) throw fail("the header is not a JSON object");
  if (h.format !== INDEX_FORMAT) {
    throw fail(`format is ${JSON.stringify(h.format)}, expected "${INDEX_FORMAT}"`, { key: "format" });
  }
  if (h.version !== INDEX_VERSION) {
    throw fail(
      `version ${
        JSON.stringify(h.version)
      } is not supported (this toolkit reads version ${INDEX_VERSION}; rebuild the index)`,
      { key: "version" },
    );
  }
  if (h.dtype !== "float32" || h.byteOrder !== "little") {
    throw fail(`embeddings must be little-endian float32, header says ${h.byteOrder} ${h.dtype}`, {
      key: "dtype",
    });
  }
  for (const k of ["dim", "count"] as const) {
    if (!Number.isSafeInteger(h[k]) || h[k] < (k === "dim" ? 1 : 0)) {
      throw fail(
        `${k} must be a ${k === "dim" ? "positive" : "non-negative"} integer, got ${JSON.stringify(h[k])}`,
        {
          key: k,
        },
      );
    }
  }
  for (const k of ["modelPath", "pooler"] as const) {
    if (h[k] !== null && typeof h[k] !== "string") throw fail(`${k} must be a string or null`, { key: k });
  }
  return { h, dataStart };
}

/** Parse and validate index bytes; `file` names the source in every error. */
export function decodeIndexFile(bytes: Uint8Array, file: string): IndexFileContents {
  const fail = (detail: string, where: { key?: string; offset?: number } = {}) =>
    inputError(detail, { file, ...where });
  const { h, dataStart } = parseHeader(bytes, file);
  const dataLength = bytes.length - dataStart;
  const section = (name: "sentences" | "embeddings" | "hnsw"): Section | undefined => {
    const s = h.sections?.[name];
    if (s === undefined) return undefined;
    if (
      !Number.isSafeInteger(s?.offset) || !Number.isSafeInteger(s?.length) || s.offset < 0 || s.length < 0
    ) {
      throw fail(`section ${name} has no valid offset/length`, { key: `sections.${name}` });
    }
    if (s.offset + s.length > dataLength) {
      throw fail(
        `truncated: section ${name} ends at byte ${
          dataStart + s.offset + s.length
        }, the file has ${bytes.length} bytes`,
        { key: `sections.${name}` },
      );
    }
    return s;
  };
  const sent = section("sentences"), emb = section("embeddings"), hnswSec = section("hnsw");
  if (!sent || !emb) throw fail("the header lists no sentences or embeddings section", { key: "sections" });
  const expectEmb = h.count * h.dim * 4;
  if (emb.length !== expectEmb) {
    throw fail(
      `the embeddings section has ${emb.length} bytes, ${h.count} × ${h.dim} float32 need ${expectEmb}`,
      {
        key: "sections.embeddings",
      },
    );
  }
  const end = Math.max(
    sent.offset + sent.length,
    emb.offset + emb.length,
    hnswSec ? hnswSec.offset + hnswSec.length : 0,
  );
  if (end !== dataLength) {
    throw fail(`${dataLength - end} unexpected bytes after the last section (a damaged file?)`, {
      offset: dataStart + end,
    });
  }
  if ((hnswSec === undefined) !== (h.hnsw === null || h.hnsw === undefined)) {
    throw fail("the hnsw parameters and the hnsw section must both be present or both absent", {
      key: "hnsw",
    });
  }
  if (h.hnsw) {
    for (const k of ["connectivity", "expansionAdd", "expansionSearch"] as const) {
      if (!Number.isSafeInteger(h.hnsw[k]) || h.hnsw[k] <= 0) {
        throw fail(`must be a positive integer, got ${JSON.stringify(h.hnsw[k])}`, { key: `hnsw.${k}` });
      }
    }
    if (h.hnsw.metric !== "ip") {
      throw fail(`metric must be "ip", got ${JSON.stringify(h.hnsw.metric)}`, { key: "hnsw.metric" });
    }
  }

  let sentences: unknown;
  try {
    sentences = JSON.parse(
      new TextDecoder("utf-8", { fatal: true }).decode(
        bytes.subarray(dataStart + sent.offset, dataStart + sent.offset + sent.length),
      ),
    );
  } catch (e) {
    throw fail(`the sentences section is not a valid JSON array (${(e as Error).message})`, {
      offset: dataStart + sent.offset,
    });
  }
  if (!Array.isArray(sentences) || sentences.some((s) => typeof s !== "string")) {
    throw fail("the sentences section must be a JSON array of strings", { offset: dataStart + sent.offset });
  }
  if (sentences.length !== h.count) {
    throw fail(`the file holds ${sentences.length} sentences, the header says ${h.count}`, { key: "count" });
  }
  const embeddings = new Float32Array(h.count * h.dim);
  const embStart = dataStart + emb.offset;
  if (HOST_LE) {
    new Uint8Array(embeddings.buffer).set(bytes.subarray(embStart, embStart + emb.length));
  } else {
    const ev = new DataView(bytes.buffer, bytes.byteOffset + embStart, emb.length);
    for (let i = 0; i < embeddings.length; i++) embeddings[i] = ev.getFloat32(i * 4, true);
  }
  for (let i = 0; i < embeddings.length; i++) {
    if (!Number.isFinite(embeddings[i])) {
      throw fail(`embedding value ${i} (sentence ${Math.floor(i / h.dim)}) is not finite`, {
        offset: embStart + i * 4,
      });
    }
  }
  const hnsw = hnswSec
    ? bytes.slice(dataStart + hnswSec.offset, dataStart + hnswSec.offset + hnswSec.length)
    : null;
  return {
    meta: {
      modelPath: h.modelPath ?? null,
      pooler: h.pooler ?? null,
      dim: h.dim,
      count: h.count,
      createdAt: String(h.createdAt ?? ""),
      hnsw: hnsw ? h.hnsw : null,
    },
    sentences: sentences as string[],
    embeddings,
    hnsw,
  };
}

/** Write an index file atomically. */
export async function writeIndexFile(path: string, c: IndexFileContents): Promise<void> {
  await writeFileAtomic(path, encodeIndexFile(c));
}

/** Read only the header of an index file (cheap: the matrix is not read), checked as {@link readIndexFile} does. */
export async function readIndexHeader(path: string): Promise<IndexMeta> {
  let f: Deno.FsFile | undefined;
  try {
    f = await Deno.open(path);
    const size = (await f.stat()).size;
    const pre = new Uint8Array(Math.min(PREAMBLE, size));
    await readFull(f, pre);
    let bytes = pre;
    if (size >= PREAMBLE && new TextDecoder().decode(pre.subarray(0, 8)) === MAGIC) {
      const len = new DataView(pre.buffer).getBigUint64(8, true);
      if (len <= BigInt(size - PREAMBLE)) {
        bytes = new Uint8Array(PREAMBLE + Number(len));
        bytes.set(pre);
        await readFull(f, bytes.subarray(PREAMBLE));
      }
    }
    const { h } = parseHeader(bytes, path, size);
    return {
      modelPath: h.modelPath ?? null,
      pooler: h.pooler ?? null,
      dim: h.dim,
      count: h.count,
      createdAt: String(h.createdAt ?? ""),
      hnsw: h.hnsw ?? null,
    };
  } catch (e) {
    if (e instanceof InputError) throw e;
    throw new InputError(describeIoError(e), { file: path });
  } finally {
    f?.close();
  }
}

async function readFull(f: Deno.FsFile, buf: Uint8Array): Promise<void> {
  let off = 0;
  while (off < buf.length) {
    const n = await f.read(buf.subarray(off));
    if (n === null) throw new Error("unexpected end of file");
    off += n;
  }
}

/** Read and validate an index file (an InputError names the file for a missing, foreign or damaged one). */
export async function readIndexFile(path: string): Promise<IndexFileContents> {
  return decodeIndexFile(await readInputFile(path), path);
}
