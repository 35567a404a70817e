/**
 * Fuzz targets for the checkpoint readers, each with its oracle:
 *
 * - `model.safetensors`: byte mutations (favouring the header), JSON edits of the header
 *   (re-prefixed), header-length overwrites. Oracle: an independent check of the file against the
 *   format's rules (header length, UTF-8 JSON object, dtypes, shapes, offsets that tile the data
 *   block); a file that breaks them must be refused, and a loaded one must hold exactly the
 *   tensors its header declares, with the bytes at the declared offsets. So a flipped data byte
 *   shows up as a changed value exactly where it was flipped, and nowhere else.
 * - `pytorch_model.bin (zip)`: byte mutations favouring the zip structures, and 32/64-bit
 *   overwrites of their size and offset fields. Every entry is CRC-checked, so a load must give
 *   exactly the seed's tensors (canonical hash).
 * - `data.pkl (re-zipped)`: mutations of the pickle alone, re-zipped with valid CRCs.
 * - `pytorch_model.bin (legacy)`: byte mutations of legacy `torch.save` files, favouring the pickles.
 *   For these two the oracle is PyTorch (`torch.load(weights_only=True)`): the long run defers
 *   each load's canonical hash to `reference/torch_fuzz_oracle.py` (see {@link torchVerdict});
 *   the short run replays `testdata/checkpoint/torch_fuzz_cases.json` (recorded by that oracle)
 *   and checks self-consistency here.
 *
 * @module
 */

import fc from "fast-check";
import { zipSync } from "fflate";
import { parseSafetensors } from "../../lib/checkpoint/safetensors.ts";
import { DTYPES, isDType, numelOf, type StateDict } from "../../lib/checkpoint/state_dict.ts";
import { parseTorchBin } from "../../lib/checkpoint/torch_bin.ts";
import { extractZipEntry, readZipDirectory } from "../../lib/checkpoint/zip_reader.ts";
import { stateDictHash } from "./canonical.ts";
import type { FuzzTarget, Seed, Verdict } from "./harness.ts";
import { byteOps, jsonOps, type Op } from "./mutations.ts";

const ROOT = new URL("../../", import.meta.url);
const path = (rel: string) => decodeURIComponent(new URL(rel, ROOT).pathname);

async function seedFiles(rels: string[]): Promise<Seed[]> {
  return await Promise.all(rels.map(async (rel) => ({ name: rel, bytes: await Deno.readFile(path(rel)) })));
}

/** Every tensor's data length agrees with its shape, and its dtype is known. */
function selfConsistent(sd: StateDict): Verdict {
  for (const [k, t] of sd) {
    if (!isDType(t.dtype)) return `${k}: unknown dtype ${t.dtype}`;
    if (!(t.data instanceof DTYPES[t.dtype].array)) {
      return `${k}: data is not a ${DTYPES[t.dtype].array.name}`;
    }
    if (t.data.length !== numelOf(t.shape)) return `${k}: ${t.data.length} values for shape [${t.shape}]`;
  }
  return null;
}

// ---------------------------------------------------------------------------------------------
// safetensors

/** What a safetensors file holds according to the format's rules, or why it is invalid. */
function safetensorsOracle(b: Uint8Array):
  | { valid: false; why: string }
  | { valid: true; tensors: Map<string, { dtype: string; shape: number[]; bytes: Uint8Array }> } {
  if (b.length < 8) return { valid: false, why: "shorter than 8 bytes" };
  const n = new DataView(b.buffer, b.byteOffset, b.byteLength).getBigUint64(0, true);
  if (n > 100_000_000n || n > BigInt(b.length - 8)) return { valid: false, why: "header length" };
  const start = 8 + Number(n);
  let header: unknown;
  try {
    header = JSON.parse(new TextDecoder("utf-8", { fatal: true }).decode(b.subarray(8, start)));
  } catch {
    return { valid: false, why: "header is not UTF-8 JSON" };
  }
  if (typeof header !== "object" || header === null || Array.isArray(header)) {
    return { valid: false, why: "header is not an object" };
  }
  const tensors = new Map<string, { dtype: string; shape: number[]; bytes: Uint8Array }>();
  const spans: [number, number][] = [];
  const isIdx = (x: unknown) => typeof x === "number" && Number.isSafeInteger(x) && x >= 0;
  for (const [name, info] of Object.entries(header)) {
    if (name === "__metadata__") {
      if (typeof info !== "object" || info === null || Array.isArray(info)) {
        return { valid: false, why: "metadata" };
      }
      if (!Object.values(info).every((v) => typeof v === "string")) {
        return { valid: false, why: "metadata value" };
      }
      continue;
    }
    if (typeof info !== "object" || info === null || Array.isArray(info)) return { valid: false, why: name };
    const { dtype, shape, data_offsets: off } = info as Record<string, unknown>;
    if (!isDType(dtype)) return { valid: false, why: `${name} dtype` };
    if (!Array.isArray(shape) || !shape.every(isIdx)) return { valid: false, why: `${name} shape` };
    if (!Array.isArray(off) || off.length !== 2 || !off.every(isIdx)) {
      return { valid: false, why: `${name} offsets` };
    }
    const [begin, end] = off as number[];
    let numel = 1;
    for (const d of shape as number[]) numel *= d;
    if (begin > end || numel * DTYPES[dtype].itemsize !== end - begin) {
      return { valid: false, why: `${name} size` };
    }
    spans.push([begin, end]);
    tensors.set(name, { dtype, shape: shape as number[], bytes: b.subarray(start + begin, start + end) });
  }
  spans.sort((x, y) => x[0] - y[0] || x[1] - y[1]);
  let pos = 0;
  for (const [begin, end] of spans) {
    if (begin !== pos) return { valid: false, why: "offsets do not tile" };
    pos = end;
  }
  if (pos !== b.length - start) return { valid: false, why: "data block size" };
  return { valid: true, tensors };
}

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

export const safetensorsTarget: FuzzTarget = {
  name: "model.safetensors",
  file: "fuzz/model.safetensors",
  async seeds() {
    const seeds = await seedFiles([
      "testdata/checkpoint/hand_written.safetensors",
      "testdata/checkpoint/unaligned.safetensors",
      "testdata/bert/tiny-safetensors/model.safetensors",
    ]);
    for (const s of seeds) {
      const n = Number(new DataView(s.bytes.buffer).getBigUint64(0, true));
      s.info = { headerEnd: 8 + n, header: JSON.parse(new TextDecoder().decode(s.bytes.subarray(8, 8 + n))) };
    }
    return seeds;
  },
  mutations(seed) {
    const { headerEnd, header } = seed.info;
    return fc.oneof(
      { weight: 3, arbitrary: byteOps(seed.bytes.length, [[0, headerEnd]], [0]) },
      // data bytes: such files load, with values changed exactly where the bytes were
      { weight: 1, arbitrary: byteOps(seed.bytes.length, [[headerEnd, seed.bytes.length]]) },
      { weight: 2, arbitrary: jsonOps(header, "st") },
      {
        weight: 1,
        arbitrary: fc.constantFrom(
          "0",
          "2",
          String(headerEnd - 9),
          String(headerEnd - 7),
          String(seed.bytes.length),
          "100000001",
          "18446744073709551615",
        )
          .map((v): Op[] => [["stlen", v]]),
      },
    );
  },
  run(bytes) {
    const sd = parseSafetensors(bytes, this.file);
    const oracle = safetensorsOracle(bytes);
    if (!oracle.valid) {
      return Promise.resolve({ verdict: `loaded a file the format forbids (${oracle.why})` });
    }
    const keys = [...sd.keys()].sort(), want = [...oracle.tensors.keys()].sort();
    if (JSON.stringify(keys) !== JSON.stringify(want)) {
      return Promise.resolve({ verdict: `tensors ${keys} but the header declares ${want}` });
    }
    for (const [k, t] of sd) {
      const o = oracle.tensors.get(k)!;
      if (t.dtype !== o.dtype || JSON.stringify(t.shape) !== JSON.stringify(o.shape)) {
        return Promise.resolve({
          verdict: `${k}: ${t.dtype}[${t.shape}] but the header says ${o.dtype}[${o.shape}]`,
        });
      }
      const raw = new Uint8Array(t.data.buffer, t.data.byteOffset, t.data.byteLength);
      if (!sameBytes(raw, o.bytes)) {
        return Promise.resolve({ verdict: `${k}: values differ from the bytes at its offsets` });
      }
    }
    return Promise.resolve({ verdict: selfConsistent(sd) });
  },
};

// ---------------------------------------------------------------------------------------------
// torch.save zip

/** Byte ranges and field offsets of a zip's structures (central directory, local headers, EOCD). */
function zipLayout(b: Uint8Array): { hot: [number, number][]; fields: number[] } {
  const v = new DataView(b.buffer, b.byteOffset, b.byteLength);
  const hot: [number, number][] = [];
  const fields: number[] = [];
  for (let p = 0; p + 4 <= b.length; p++) {
    if (b[p] !== 0x50 || b[p + 1] !== 0x4b) continue;
    const sig = v.getUint32(p, true);
    if (sig === 0x04034b50 && p + 30 <= b.length) {
      hot.push([p, p + 30 + v.getUint16(p + 26, true) + v.getUint16(p + 28, true)]);
      fields.push(p + 14, p + 18, p + 22, p + 26, p + 28);
    } else if (sig === 0x02014b50 && p + 46 <= b.length) {
      hot.push([p, p + 46 + v.getUint16(p + 28, true) + v.getUint16(p + 30, true)]);
      fields.push(p + 16, p + 20, p + 24, p + 28, p + 30, p + 42);
    } else if (sig === 0x06054b50 || sig === 0x06064b50 || sig === 0x07064b50) {
      hot.push([p, Math.min(b.length, p + 56)]);
      fields.push(p + 8, p + 10, p + 12, p + 16, p + 24, p + 32, p + 40, p + 48);
    }
  }
  return { hot, fields };
}

export const torchZipTarget: FuzzTarget = {
  name: "pytorch_model.bin (zip)",
  file: "fuzz/pytorch_model.bin",
  async seeds() {
    const seeds = await seedFiles([
      "testdata/checkpoint/state_dict.bin",
      "testdata/checkpoint/state_dict_deflated.bin",
      "testdata/bert/tiny-fp16-torchbin/pytorch_model.bin",
    ]);
    for (const s of seeds) {
      s.info = { ...zipLayout(s.bytes), hash: stateDictHash(parseTorchBin(s.bytes, s.name)) };
    }
    return seeds;
  },
  mutations(seed) {
    return byteOps(seed.bytes.length, seed.info.hot, seed.info.fields);
  },
  run(bytes, seed) {
    const sd = parseTorchBin(bytes, this.file);
    const bad = selfConsistent(sd);
    if (bad) return Promise.resolve({ verdict: bad });
    const same = stateDictHash(sd) === seed.info.hash;
    return Promise.resolve({
      verdict: same ? null : "loaded tensors differ from the seed's (every entry is CRC-checked)",
    });
  },
};

/** data.pkl of a torch zip, with the other entries, for re-zipping. */
function pickleSeed(name: string, zip: Uint8Array): Seed {
  const files: Record<string, Uint8Array> = {};
  let pkl = "";
  for (const [entry, e] of readZipDirectory(zip, name)) {
    files[entry] = extractZipEntry(zip, e, name).slice();
    if (entry.endsWith("/data.pkl")) pkl = entry;
  }
  return { name: `${name}:${pkl}`, bytes: files[pkl], info: { files, pkl } };
}

/** Re-zip a mutated data.pkl with the seed's other entries. */
export function rezipPickle(seed: Seed, pkl: Uint8Array): Uint8Array {
  return zipSync({ ...seed.info.files, [seed.info.pkl]: pkl }, { level: 0 });
}

export const torchPickleTarget: FuzzTarget = {
  name: "data.pkl (re-zipped)",
  file: "fuzz/pytorch_model.bin",
  deferredOracle: "torch",
  async seeds() {
    const zips = await seedFiles([
      "testdata/checkpoint/state_dict.bin",
      "testdata/bert/tiny-fp16-torchbin/pytorch_model.bin",
    ]);
    const seeds = zips.map((z) => pickleSeed(z.name, z.bytes));
    for (const s of seeds) s.info.hash = stateDictHash(parseTorchBin(rezipPickle(s, s.bytes), s.name));
    return seeds;
  },
  mutations(seed) {
    return byteOps(seed.bytes.length);
  },
  run(bytes, seed) {
    const zip = rezipPickle(seed, bytes);
    const sd = parseTorchBin(zip, this.file);
    return Promise.resolve({
      verdict: selfConsistent(sd),
      deferred: `${stateDictHash(sd)} ${seed.info.hash}`,
      files: { bin: zip },
    });
  },
};

export const torchLegacyTarget: FuzzTarget = {
  name: "pytorch_model.bin (legacy)",
  file: "fuzz/pytorch_model.bin",
  deferredOracle: "torch",
  async seeds() {
    const seeds = await seedFiles([
      "testdata/checkpoint/legacy_state_dict.bin",
      "testdata/checkpoint/legacy.bin",
      "testdata/checkpoint/legacy_view.bin",
      "testdata/checkpoint/legacy_bert/pytorch_model.bin",
    ]);
    for (const s of seeds) {
      // The pickles end where the storage key list's STOP is followed by the first count.
      const keyList = lastIndexOf(s.bytes, [0x80, 0x02, 0x5d]);
      s.info = { pickles: [0, keyList + 64], hash: stateDictHash(parseTorchBin(s.bytes, s.name)) };
    }
    return seeds;
  },
  mutations(seed) {
    return byteOps(seed.bytes.length, [seed.info.pickles]);
  },
  run(bytes, seed) {
    const sd = parseTorchBin(bytes, this.file);
    return Promise.resolve({
      verdict: selfConsistent(sd),
      deferred: `${stateDictHash(sd)} ${seed.info.hash}`,
    });
  },
};

function lastIndexOf(b: Uint8Array, pat: number[]): number {
  outer: for (let i = b.length - pat.length; i >= 0; i--) {
    for (let j = 0; j < pat.length; j++) if (b[i + j] !== pat[j]) continue outer;
    return i;
  }
  return b.length;
}

/**
 * The verdict of PyTorch's outcome on a case we loaded. `summary` is the deferred summary, "<our
 * hash> <seed's hash>": we must agree with torch.load, or, where torch refuses a file we load (a
 * location string, a sys_info field or a byte it checks and we ignore), give the seed's tensors.
 */
export function torchVerdict(summary: string, torch: { ok?: string; error?: string }): Verdict {
  const [ours, original] = summary.split(" ");
  if (torch.ok !== undefined) return torch.ok === ours ? null : "loaded tensors differ from torch.load's";
  if (original !== undefined && ours === original) return null; // a byte torch reads and we ignore
  return `loaded what torch.load refuses (${torch.error}) and it differs from the seed`;
}
