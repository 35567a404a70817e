/**
 * safetensors reader and writer (https://github.com/huggingface/safetensors, format section).
 * Layout: an unsigned 64-bit little-endian header length N, N bytes of UTF-8 JSON
 * `{name: {dtype, shape, data_offsets: [begin, end]}, "__metadata__": {string: string}}`, then the
 * tensor bytes, with offsets relative to the start of that data block.
 *
 * Reading validates everything before touching the data: N within the file and at most 100 MB, a
 * JSON object header, known dtypes, shapes of non-negative integers, `end - begin == numel *
 * itemsize`, and offsets that tile the data block exactly (no gaps, no overlaps, nothing left
 * over). Every problem is one {@link InputError} naming the file and the tensor key. Aligned
 * tensors are zero-copy views into the file buffer; unaligned ones cost one copy each.
 *
 * Writing follows the reference implementation (`safetensors::tensor::serialize`): tensors sorted
 * by descending dtype alignment, then by name (so every tensor is aligned for its element size),
 * header keys in that order after `__metadata__`, compact JSON padded with spaces so the data
 * starts on an 8-byte boundary; files are written atomically.
 *
 * @example
 * ```ts
 * import { readSafetensors, writeSafetensors } from "./safetensors.ts";
 * const dir = await Deno.makeTempDir();
 * const sd = new Map([["w", { dtype: "F32" as const, shape: [2], data: new Float32Array([1, 2]) }]]);
 * await writeSafetensors(`${dir}/model.safetensors`, sd, { format: "pt" });
 * console.log((await readSafetensors(`${dir}/model.safetensors`)).get("w")!.data); // [1, 2]
 * ```
 * @module
 */

import { inputError } from "../runtime/printable.ts";
import { writeFileAtomic } from "../runtime/atomic_write.ts";
import {
  bytesOf,
  type DType,
  DTYPES,
  isDType,
  type NamedTensor,
  numelOf,
  type StateDict,
  typedFromBytes,
} from "./state_dict.ts";
import { readInputFile } from "./read_input.ts";

/** Largest header accepted, as in the reference implementation. */
export const MAX_HEADER_BYTES = 100_000_000;

/** Read and validate a `.safetensors` file. */
export async function readSafetensors(path: string): Promise<StateDict> {
  return parseSafetensors(await readInputFile(path), path);
}

/** The `__metadata__` of a safetensors file (empty when absent), validated as string -> string. */
export function safetensorsMetadata(bytes: Uint8Array, file: string): Record<string, string> {
  return parseHeader(bytes, file).metadata;
}

/**
 * The `__metadata__` of the safetensors file at `path`, reading only its header (not the tensors):
 * for questions about a checkpoint that must not load its weights. Errors as {@link safetensorsMetadata}.
 */
export async function readSafetensorsMetadata(path: string): Promise<Record<string, string>> {
  const file = await Deno.open(path);
  try {
    const readExactly = async (n: number, what: string) => {
      const buf = new Uint8Array(n);
      for (let got = 0; got < n;) {
        const r = await file.read(buf.subarray(got));
        if (r === null) throw inputError(`file ends inside the ${what}`, { file: path, offset: got });
        got += r;
      }
      return buf;
    };
    const n = new DataView((await readExactly(8, "header length")).buffer).getBigUint64(0, true);
    if (n > BigInt(MAX_HEADER_BYTES)) {
      throw inputError(`header length ${n} exceeds the ${MAX_HEADER_BYTES}-byte limit`, {
        file: path,
        offset: 0,
      });
    }
    let header: unknown;
    try {
      header = JSON.parse(
        new TextDecoder("utf-8", { fatal: true }).decode(await readExactly(Number(n), "header")),
      );
    } catch (e) {
      if (e instanceof Error && e.name === "InputError") throw e;
      throw inputError(`header is not valid UTF-8 JSON (${(e as Error).message})`, { file: path, offset: 8 });
    }
    if (!isPlainObject(header)) throw inputError("header is not a JSON object", { file: path, offset: 8 });
    return parseMetadata(header["__metadata__"], path);
  } finally {
    file.close();
  }
}

/** Parse safetensors bytes; `file` is only used in error messages. */
export function parseSafetensors(bytes: Uint8Array, file: string): StateDict {
  const { entries, dataStart } = parseHeader(bytes, file);
  const out: StateDict = new Map();
  for (const e of entries) {
    const raw = bytes.subarray(dataStart + e.begin, dataStart + e.end);
    out.set(e.name, { dtype: e.dtype, shape: e.shape, data: typedFromBytes(e.dtype, raw, e.numel) });
  }
  return out;
}

interface HeaderEntry {
  name: string;
  dtype: DType;
  shape: number[];
  numel: number;
  begin: number;
  end: number;
}

function parseHeader(bytes: Uint8Array, file: string) {
  if (bytes.length < 8) {
    throw inputError(`file is ${bytes.length} bytes, too short for a safetensors header length`, {
      file,
      offset: 0,
    });
  }
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const n = view.getBigUint64(0, true);
  if (n > BigInt(MAX_HEADER_BYTES)) {
    throw inputError(`header length ${n} exceeds the ${MAX_HEADER_BYTES}-byte limit`, {
      file,
      offset: 0,
    });
  }
  if (n > BigInt(bytes.length - 8)) {
    throw inputError(`header length ${n} runs past the end of the file (${bytes.length} bytes)`, {
      file,
      offset: 0,
    });
  }
  const dataStart = 8 + Number(n);
  let header: unknown;
  try {
    const text = new TextDecoder("utf-8", { fatal: true }).decode(bytes.subarray(8, dataStart));
    header = JSON.parse(text);
  } catch (e) {
    throw inputError(`header is not valid UTF-8 JSON (${(e as Error).message})`, { file, offset: 8 });
  }
  if (!isPlainObject(header)) {
    throw inputError("header is not a JSON object", { file, offset: 8 });
  }
  const metadata = parseMetadata(header["__metadata__"], file);
  const entries: HeaderEntry[] = [];
  for (const [name, info] of Object.entries(header)) {
    if (name === "__metadata__") continue;
    entries.push(parseEntry(name, info, file));
  }
  checkTiling(entries, dataStart, bytes.length - dataStart, file);
  return { entries, dataStart, metadata };
}

function parseMetadata(meta: unknown, file: string): Record<string, string> {
  if (meta === undefined) return {};
  if (!isPlainObject(meta)) {
    throw inputError("__metadata__ is not an object of strings", { file, key: "__metadata__" });
  }
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(meta)) {
    if (typeof v !== "string") {
      throw inputError(`__metadata__ value for "${k}" is not a string`, { file, key: "__metadata__" });
    }
    out[k] = v;
  }
  return out;
}

function parseEntry(name: string, info: unknown, file: string): HeaderEntry {
  const fail = (detail: string) => inputError(detail, { file, key: name });
  if (!isPlainObject(info)) throw fail("tensor entry is not an object");
  const { dtype, shape, data_offsets: offsets } = info;
  if (!isDType(dtype)) throw fail(`unsupported dtype ${brief(dtype)}`);
  if (!Array.isArray(shape) || !shape.every(isIndex)) {
    throw fail(`shape ${brief(shape)} is not a list of non-negative integers`);
  }
  if (!Array.isArray(offsets) || offsets.length !== 2 || !offsets.every(isIndex)) {
    throw fail(`data_offsets ${brief(offsets)} is not a pair of non-negative integers`);
  }
  const [begin, end] = offsets as number[];
  if (begin > end) throw fail(`data_offsets [${begin}, ${end}] end before they begin`);
  const numel = numelOf(shape);
  const nbytes = numel * DTYPES[dtype].itemsize;
  if (!Number.isSafeInteger(nbytes) || nbytes !== end - begin) {
    throw fail(
      `shape [${shape}] of ${dtype} needs ${nbytes} bytes but data_offsets [${begin}, ${end}] span ${
        end - begin
      }`,
    );
  }
  return { name, dtype, shape: [...shape], numel, begin, end };
}

/** Offsets must cover [0, dataLength) exactly once. */
function checkTiling(entries: HeaderEntry[], dataStart: number, dataLength: number, file: string): void {
  const sorted = [...entries].sort((a, b) => a.begin - b.begin || a.end - b.end);
  let pos = 0;
  for (const e of sorted) {
    if (e.begin < pos) {
      throw inputError(
        `data_offsets [${e.begin}, ${e.end}] overlap the previous tensor (ends at ${pos})`,
        {
          file,
          key: e.name,
        },
      );
    }
    if (e.begin > pos) {
      throw inputError(`data_offsets [${e.begin}, ${e.end}] leave a gap after byte ${pos} of the data`, {
        file,
        key: e.name,
      });
    }
    if (e.end > dataLength) {
      throw inputError(
        `data_offsets [${e.begin}, ${e.end}] run past the end of the data block (${dataLength} bytes)`,
        { file, key: e.name },
      );
    }
    pos = e.end;
  }
  if (pos !== dataLength) {
    throw inputError(`tensors cover ${pos} bytes but the data block holds ${dataLength}`, {
      file,
      offset: dataStart + pos,
    });
  }
}

/**
 * Serialize a state dict to safetensors bytes. Every tensor's `data` must be the typed-array
 * class of its dtype and hold exactly `numel(shape)` elements.
 */
export function serializeSafetensors(
  tensors: StateDict,
  metadata?: Record<string, string>,
  file = "<safetensors>",
): Uint8Array {
  for (const [name, t] of tensors) checkTensor(name, t, file);
  const names = [...tensors.keys()].sort((a, b) =>
    WRITE_RANK[tensors.get(b)!.dtype] - WRITE_RANK[tensors.get(a)!.dtype] || (a < b ? -1 : a > b ? 1 : 0)
  );
  // Built by hand: a JS object would move integer-like names ("0", "12") to the front.
  const parts: string[] = [];
  if (metadata !== undefined) {
    for (const [k, v] of Object.entries(metadata)) {
      if (typeof v !== "string") {
        throw inputError(`metadata value for "${k}" is not a string`, { file, key: "__metadata__" });
      }
    }
    parts.push(`"__metadata__":${JSON.stringify(metadata)}`);
  }
  let offset = 0;
  for (const name of names) {
    if (name === "__metadata__") {
      throw inputError("a tensor may not be named __metadata__", { file, key: name });
    }
    const t = tensors.get(name)!;
    const info = { dtype: t.dtype, shape: t.shape, data_offsets: [offset, offset + t.data.byteLength] };
    parts.push(`${JSON.stringify(name)}:${JSON.stringify(info)}`);
    offset += t.data.byteLength;
  }
  let json = new TextEncoder().encode(`{${parts.join(",")}}`);
  const pad = (8 - (json.length % 8)) % 8;
  if (pad) {
    const padded = new Uint8Array(json.length + pad).fill(0x20);
    padded.set(json);
    json = padded;
  }
  const out = new Uint8Array(8 + json.length + offset);
  new DataView(out.buffer).setBigUint64(0, BigInt(json.length), true);
  out.set(json, 8);
  let pos = 8 + json.length;
  for (const name of names) {
    const bytes = bytesOf(tensors.get(name)!.data);
    out.set(bytes, pos);
    pos += bytes.length;
  }
  return out;
}

/** The reference's `Dtype` enum order ("increasing alignment"); the writer sorts by it, descending. */
const WRITE_RANK: Readonly<Record<DType, number>> = {
  BOOL: 0,
  U8: 1,
  I8: 2,
  I16: 5,
  F16: 7,
  BF16: 8,
  I32: 9,
  F32: 11,
  F64: 12,
  I64: 13,
};

/**
 * Write `tensors` (any supported dtype) to `path` as safetensors, atomically. Pass
 * `{ format: "pt" }` in `metadata` for Hugging Face `transformers`, which checks that field.
 */
export async function writeSafetensors(
  path: string,
  tensors: StateDict,
  metadata?: Record<string, string>,
): Promise<void> {
  await writeFileAtomic(path, serializeSafetensors(tensors, metadata, path));
}

function checkTensor(name: string, t: NamedTensor, file: string): void {
  const fail = (detail: string) => inputError(detail, { file, key: name });
  if (!isDType(t.dtype)) throw fail(`unsupported dtype ${brief(t.dtype)}`);
  if (!Array.isArray(t.shape) || !t.shape.every(isIndex)) {
    throw fail(`shape ${brief(t.shape)} is not a list of non-negative integers`);
  }
  const want = DTYPES[t.dtype].array;
  if (!(t.data instanceof want)) {
    throw fail(`${t.dtype} data must be a ${want.name}, got ${t.data?.constructor?.name}`);
  }
  if (t.data.length !== numelOf(t.shape)) {
    throw fail(`shape [${t.shape}] needs ${numelOf(t.shape)} elements, data holds ${t.data.length}`);
  }
}

/** A short, never-throwing rendering of a JSON value for messages. */
function brief(x: unknown): string {
  let s: string;
  try {
    s = JSON.stringify(x) ?? String(x);
  } catch {
    s = Array.isArray(x) ? "[...]" : typeof x;
  }
  return s.length > 80 ? s.slice(0, 77) + "..." : s;
}

function isIndex(x: unknown): x is number {
  return typeof x === "number" && Number.isSafeInteger(x) && x >= 0;
}

function isPlainObject(x: unknown): x is Record<string, unknown> {
  return typeof x === "object" && x !== null && !Array.isArray(x);
}
