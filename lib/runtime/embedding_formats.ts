/**
 * The file formats `encode --output` writes, chosen by extension, each written as a stream (rows
 * appended as they are made; what depends on the row count sits in a fixed-size header rewritten at
 * the end):
 *
 * - `.jsonl`: one JSON array of floats per line, in input order (no header).
 * - `.npy`: NumPy format 1.0, little-endian float32, C order, shape (rows, dim); `np.load` reads it.
 *   The header is padded with spaces to 128 bytes, as NumPy's own writer pads to a multiple of 64.
 * - `.safetensors`: one F32 tensor `embeddings` [rows, dim]; the JSON header is padded with spaces to
 *   a fixed 256 bytes, which the format allows.
 *
 * @example
 * ```ts
 * import { embeddingFormat } from "./embedding_formats.ts";
 * const npy = embeddingFormat("out.npy");
 * console.log(npy.name, npy.headerBytes, npy.header(3, 2).length); // npy 128 128
 * ```
 * @module
 */
import { InputError } from "./errors.ts";

/** How rows are laid out in one output format. */
export interface EmbeddingFormat {
  name: "jsonl" | "npy" | "safetensors";
  /** Bytes reserved at the start of the file (0 for JSONL). */
  headerBytes: number;
  /** The header for `rows` rows of `dim` values, exactly `headerBytes` long. */
  header(rows: number, dim: number): Uint8Array;
  /** The bytes of some rows. */
  rows(vectors: Float32Array[]): Uint8Array;
}

const LITTLE_ENDIAN = new Uint8Array(new Float32Array([1]).buffer)[3] === 0x3f;

function float32Bytes(vectors: Float32Array[]): Uint8Array {
  const n = vectors.reduce((a, v) => a + v.length, 0);
  const out = new Uint8Array(n * 4);
  const view = new DataView(out.buffer);
  let off = 0;
  for (const v of vectors) {
    if (LITTLE_ENDIAN) {
      out.set(new Uint8Array(v.buffer, v.byteOffset, v.length * 4), off);
      off += v.length * 4;
    } else {
      for (let i = 0; i < v.length; i++, off += 4) view.setFloat32(off, v[i], true);
    }
  }
  return out;
}

/** `text` then spaces up to `size` bytes, ending with `end` (an error if it does not fit). */
function padded(text: string, size: number, end = ""): Uint8Array {
  const body = new TextEncoder().encode(text);
  const tail = new TextEncoder().encode(end);
  if (body.length + tail.length > size) throw new InputError(`the ${size}-byte header cannot hold ${text}`);
  const out = new Uint8Array(size).fill(0x20);
  out.set(body, 0);
  out.set(tail, size - tail.length);
  return out;
}

const JSONL: EmbeddingFormat = {
  name: "jsonl",
  headerBytes: 0,
  header: () => new Uint8Array(0),
  rows: (vectors) =>
    new TextEncoder().encode(vectors.map((v) => JSON.stringify(Array.from(v)) + "\n").join("")),
};

const NPY_HEADER = 128;
const NPY: EmbeddingFormat = {
  name: "npy",
  headerBytes: NPY_HEADER,
  header(rows, dim) {
    // magic, version 1.0, little-endian uint16 header length, then the dict padded to end in '\n'.
    const prefix = new Uint8Array([0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59, 1, 0, 0, 0]);
    new DataView(prefix.buffer).setUint16(8, NPY_HEADER - prefix.length, true);
    const dict = padded(
      `{'descr': '<f4', 'fortran_order': False, 'shape': (${rows}, ${dim}), }`,
      NPY_HEADER - prefix.length,
      "\n",
    );
    const out = new Uint8Array(NPY_HEADER);
    out.set(prefix, 0);
    out.set(dict, prefix.length);
    return out;
  },
  rows: float32Bytes,
};

const ST_HEADER = 256;
const SAFETENSORS: EmbeddingFormat = {
  name: "safetensors",
  headerBytes: ST_HEADER,
  header(rows, dim) {
    const json = JSON.stringify({
      __metadata__: { format: "pt", producer: "simcse-ts encode" },
      embeddings: { dtype: "F32", shape: [rows, dim], data_offsets: [0, rows * dim * 4] },
    });
    const out = new Uint8Array(ST_HEADER);
    new DataView(out.buffer).setBigUint64(0, BigInt(ST_HEADER - 8), true);
    out.set(padded(json, ST_HEADER - 8), 8);
    return out;
  },
  rows: float32Bytes,
};

/** The format of an output path, by its extension (`.jsonl`, `.npy`, `.safetensors`). */
export function embeddingFormat(path: string): EmbeddingFormat {
  const ext = path.toLowerCase().match(/\.([a-z]+)$/)?.[1];
  if (ext === "jsonl" || ext === "json" || ext === undefined) return JSONL;
  if (ext === "npy") return NPY;
  if (ext === "safetensors") return SAFETENSORS;
  throw new InputError(`cannot tell the output format from '.${ext}'; use .jsonl, .npy or .safetensors`, {
    file: path,
  });
}
