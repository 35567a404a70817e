/**
 * Mutations of valid input files for the fuzz suite, as plain JSON-able operations (so a failing
 * case prints in a form that can be replayed), with `fast-check` arbitraries that generate them.
 *
 * - byte level: bit flips, byte sets to boundary values, truncation, deletion, duplication of a
 *   span (splices), insertion of odd bytes (invalid UTF-8, NUL, CR, BOM), 32/64-bit little-endian
 *   field overwrites at chosen offsets (header lengths, zip sizes and offsets);
 * - line level (text files): delete, duplicate, swap or blank a line; replace, add or remove a
 *   field; switch line ends to CRLF or CR, drop the final newline, prepend a BOM;
 * - JSON level (config.json, tokenizer.json, the safetensors header): set or delete a value at an
 *   existing path, rewritten with a correct length prefix for safetensors headers.
 *
 * Offsets and line numbers are taken modulo the current size, so every op applies to any input.
 * `["trunc" | "del" | "dup", ...]` follow Python slice semantics, like
 * `reference/make_checkpoint_fixtures.py`, whose recorded ops the tests replay.
 *
 * @example
 * ```ts
 * import fc from "fast-check";
 * import { applyOps, byteOps } from "./mutations.ts";
 * const [ops] = fc.sample(byteOps(100), { numRuns: 1, seed: 1 });
 * console.log(applyOps(new Uint8Array(100), ops).length);
 * ```
 * @module
 */

import fc from "fast-check";

/** JSON path into a parsed document. */
export type JsonPath = (string | number)[];

/** One mutation. */
export type Op =
  | ["flip", number, number]
  | ["set", number, number]
  | ["trunc", number]
  | ["del", number, number]
  | ["dup", number, number, number]
  | ["ins", number, number[]]
  | ["u32", number, number]
  | ["u64", number, string]
  | ["line", "del" | "dup" | "blank", number]
  | ["swap", number, number]
  | ["field", number, number, string]
  | ["addfield", number, string]
  | ["delfield", number, number]
  | ["eol", "crlf" | "cr" | "chop"]
  | ["bom"]
  | ["json", JsonPath, unknown]
  | ["jsondel", JsonPath]
  | ["stjson", JsonPath, unknown]
  | ["stjsondel", JsonPath]
  | ["stlen", string];

const enc = new TextEncoder();

/** Apply `ops` in order to a copy of `bytes`. `sep` is the field separator of line ops (TAB). */
export function applyOps(bytes: Uint8Array, ops: readonly Op[], sep = 0x09): Uint8Array {
  let b: Uint8Array = bytes.slice();
  for (const op of ops) b = applyOp(b, op, sep);
  return b;
}

function applyOp(b: Uint8Array, op: Op, sep: number): Uint8Array {
  const n = b.length;
  const at = (i: number) => (n === 0 ? 0 : ((i % n) + n) % n);
  switch (op[0]) {
    case "flip":
      if (n) b[at(op[1])] ^= 1 << (op[2] & 7);
      return b;
    case "set":
      if (n) b[at(op[1])] = op[2] & 255;
      return b;
    case "trunc":
      return b.slice(0, Math.max(0, op[1]));
    case "del":
      return concat(b.subarray(0, op[1]), b.subarray(op[1] + op[2]));
    case "dup":
      return concat(b.subarray(0, op[3]), b.subarray(op[1], op[1] + op[2]), b.subarray(op[3]));
    case "ins":
      return concat(b.subarray(0, op[1]), Uint8Array.from(op[2]), b.subarray(op[1]));
    case "u32":
      if (n >= 4) new DataView(b.buffer).setUint32(at(op[1]) % (n - 3), op[2] >>> 0, true);
      return b;
    case "u64":
      if (n >= 8) {
        new DataView(b.buffer).setBigUint64(at(op[1]) % (n - 7), BigInt.asUintN(64, BigInt(op[2])), true);
      }
      return b;
    case "line":
    case "swap":
    case "field":
    case "addfield":
    case "delfield":
      return lineOp(b, op, sep);
    case "eol": {
      if (op[1] === "chop") return n && b[n - 1] === 0x0a ? b.slice(0, n - 1) : b;
      const to = op[1] === "crlf" ? [0x0d, 0x0a] : [0x0d];
      const out: number[] = [];
      for (const c of b) c === 0x0a ? out.push(...to) : out.push(c);
      return Uint8Array.from(out);
    }
    case "bom":
      return concat(Uint8Array.from([0xef, 0xbb, 0xbf]), b);
    case "json":
    case "jsondel":
      return editJson(b, op);
    case "stjson":
    case "stjsondel":
    case "stlen":
      return editSafetensorsHeader(b, op);
  }
}

function concat(...parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((s, p) => s + p.length, 0));
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}

function splitBytes(b: Uint8Array, sep: number): Uint8Array[] {
  const out: Uint8Array[] = [];
  let start = 0;
  for (let i = 0; i <= b.length; i++) {
    if (i === b.length || b[i] === sep) {
      out.push(b.subarray(start, i));
      start = i + 1;
    }
  }
  return out;
}

function joinBytes(parts: Uint8Array[], sep: number): Uint8Array {
  const withSep: Uint8Array[] = [];
  parts.forEach((p, i) => {
    if (i) withSep.push(Uint8Array.of(sep));
    withSep.push(p);
  });
  return concat(...withSep);
}

/** Line and field edits on raw bytes (lines split at LF, fields at `sep`): invalid UTF-8 survives. */
function lineOp(b: Uint8Array, op: Op, sep: number): Uint8Array {
  const lines = splitBytes(b, 0x0a);
  // A final LF ends the last line; keep it out of the line list.
  const trailing = lines.length > 1 && lines[lines.length - 1].length === 0;
  if (trailing) lines.pop();
  const k = lines.length;
  const i = (x: number) => ((x % k) + k) % k;
  switch (op[0]) {
    case "line": {
      const j = i(op[2]);
      if (op[1] === "del") lines.splice(j, 1);
      else if (op[1] === "dup") lines.splice(j, 0, lines[j]);
      else lines[j] = new Uint8Array(0);
      break;
    }
    case "swap": {
      const a = i(op[1]), c = i(op[2]);
      [lines[a], lines[c]] = [lines[c], lines[a]];
      break;
    }
    case "field":
    case "addfield":
    case "delfield": {
      const j = i(op[1]);
      const fields = splitBytes(lines[j], sep);
      if (op[0] === "addfield") fields.push(enc.encode(op[2]));
      else {
        const f = ((op[2] % fields.length) + fields.length) % fields.length;
        if (op[0] === "field") fields[f] = enc.encode(op[3]);
        else if (fields.length > 1) fields.splice(f, 1);
      }
      lines[j] = joinBytes(fields, sep);
      break;
    }
  }
  const out = joinBytes(lines, 0x0a);
  return trailing || lines.length === 0 ? concat(out, Uint8Array.of(0x0a)) : out;
}

/** Set or delete the value at `path` of a JSON document (no-op if it does not parse). */
function editJson(b: Uint8Array, op: Op): Uint8Array {
  let doc: unknown;
  try {
    doc = JSON.parse(new TextDecoder().decode(b));
  } catch {
    return b;
  }
  const edited = op[0] === "json" ? setPath(doc, op[1] as JsonPath, op[2]) : setPath(doc, op[1] as JsonPath);
  return enc.encode(JSON.stringify(edited, null, 2));
}

/** Edit the JSON header of a safetensors file and re-prefix its length; or overwrite the length. */
function editSafetensorsHeader(b: Uint8Array, op: Op): Uint8Array {
  if (b.length < 8) return b;
  const view = new DataView(b.buffer, b.byteOffset, b.byteLength);
  if (op[0] === "stlen") {
    view.setBigUint64(0, BigInt.asUintN(64, BigInt(op[1])), true);
    return b;
  }
  const n = Number(view.getBigUint64(0, true));
  if (n > b.length - 8) return b;
  let doc: unknown;
  try {
    doc = JSON.parse(new TextDecoder().decode(b.subarray(8, 8 + n)));
  } catch {
    return b;
  }
  const edited = op[0] === "stjson"
    ? setPath(doc, op[1] as JsonPath, op[2])
    : setPath(doc, op[1] as JsonPath);
  const json = enc.encode(JSON.stringify(edited));
  const out = new Uint8Array(8 + json.length + (b.length - 8 - n));
  new DataView(out.buffer).setBigUint64(0, BigInt(json.length), true);
  out.set(json, 8);
  out.set(b.subarray(8 + n), 8 + json.length);
  return out;
}

/** A deep copy of `doc` with `path` set to `value` (or deleted when `value` is omitted). */
function setPath(doc: unknown, path: JsonPath, ...value: unknown[]): unknown {
  if (path.length === 0) return value.length ? value[0] : null;
  if (typeof doc !== "object" || doc === null) return doc;
  const copy = (Array.isArray(doc) ? [...doc] : { ...doc }) as Record<string | number, unknown>;
  const [head, ...rest] = path;
  if (!Object.hasOwn(copy, head)) return doc;
  if (rest.length === 0 && value.length === 0) {
    if (Array.isArray(copy)) (copy as unknown[]).splice(head as number, 1);
    else delete copy[head];
  } else {
    copy[head] = setPath(copy[head], rest, ...value);
  }
  return copy;
}

/** Every path to a value inside `doc` (objects and arrays included), at most `limit`, breadth first. */
export function jsonPaths(doc: unknown, limit = 5000): JsonPath[] {
  const out: JsonPath[] = [];
  const queue: [unknown, JsonPath][] = [[doc, []]];
  while (queue.length && out.length < limit) {
    const [v, p] = queue.shift()!;
    if (typeof v !== "object" || v === null) continue;
    const entries: [string | number, unknown][] = Array.isArray(v)
      ? v.map((x, i) => [i, x])
      : Object.entries(v);
    for (const [k, x] of entries) {
      out.push([...p, k]);
      queue.push([x, [...p, k]]);
    }
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// Arbitraries

/** Byte values that sit on boundaries (sign bits, pickle opcodes, ASCII structure). */
const BOUNDARY_BYTES = [0, 1, 0x0a, 0x0d, 0x20, 0x22, 0x2c, 0x2e, 0x7f, 0x80, 0xc0, 0xef, 0xfe, 0xff];
/** Inserted byte strings: invalid UTF-8, a BOM, NUL, a lone CR, a tab, a NEL, a huge-ish run. */
const ODD_INSERTS: number[][] = [
  [0xff],
  [0xc3],
  [0xed, 0xa0, 0x80],
  [0xef, 0xbb, 0xbf],
  [0],
  [0x0d],
  [0x09],
  [0xc2, 0x85],
  [0xe2, 0x80, 0xa8],
  [0x22],
  new Array(300).fill(0x61),
];
/** 32- and 64-bit values for length and offset fields. */
const BOUNDARY_U32 = [0, 1, 7, 8, 0x7fffffff, 0x80000000, 0xfffffffe, 0xffffffff];
const BOUNDARY_U64 = ["0", "1", "8", "4294967295", "4294967296", "9007199254740993", "18446744073709551615"];

/** 1-4 byte-level ops on an input of `len` bytes; offsets favour the `hot` ranges when given. */
export function byteOps(
  len: number,
  hot: [number, number][] = [],
  fields: number[] = [],
): fc.Arbitrary<Op[]> {
  const n = Math.max(1, len);
  const pos = hot.length
    ? fc.oneof(
      {
        weight: 3,
        arbitrary: fc.constantFrom(...hot).chain(([a, b]) => fc.integer({ min: a, max: Math.max(a, b - 1) })),
      },
      { weight: 1, arbitrary: fc.nat(n - 1) },
    )
    : fc.nat(n - 1);
  const field = fields.length ? fc.constantFrom(...fields) : pos;
  const op: fc.Arbitrary<Op> = fc.oneof(
    { weight: 6, arbitrary: fc.tuple(fc.constant("flip" as const), pos, fc.nat(7)) },
    { weight: 3, arbitrary: fc.tuple(fc.constant("set" as const), pos, fc.constantFrom(...BOUNDARY_BYTES)) },
    { weight: 2, arbitrary: fc.tuple(fc.constant("trunc" as const), fc.nat(n)) },
    { weight: 1, arbitrary: fc.tuple(fc.constant("del" as const), pos, fc.integer({ min: 1, max: 64 })) },
    {
      weight: 1,
      arbitrary: fc.tuple(fc.constant("dup" as const), pos, fc.integer({ min: 1, max: 64 }), pos),
    },
    { weight: 1, arbitrary: fc.tuple(fc.constant("ins" as const), pos, fc.constantFrom(...ODD_INSERTS)) },
    { weight: 1, arbitrary: fc.tuple(fc.constant("u32" as const), field, fc.constantFrom(...BOUNDARY_U32)) },
    { weight: 1, arbitrary: fc.tuple(fc.constant("u64" as const), field, fc.constantFrom(...BOUNDARY_U64)) },
  );
  return fc.array(op, { minLength: 1, maxLength: 4 });
}

/** Text fields that trip number and column parsers. */
export const ODD_FIELDS = [
  "",
  " ",
  "nan",
  "NaN",
  "inf",
  "-Infinity",
  "1e999",
  "3,5",
  "0x10",
  "1_0",
  "\u0663",
  "+4",
  "-0",
  ".5",
  "5.",
  "1e-5",
  " 4.2 ",
  "4.2\r",
  "\ufeff3",
  "\u00a03",
  "3\u20284",
  "a\tb",
  '"quoted, field"',
  '"unterminated',
  ",",
  "\u0000",
  "\u001b[31mred",
  "x".repeat(5000),
  "word ".repeat(3000),
];

/** 1-3 line-level ops for a text file of about `lines` lines (fields split by TAB or comma). */
export function lineOps(lines: number): fc.Arbitrary<Op[]> {
  const i = fc.nat(Math.max(0, lines - 1) + 2);
  const value = fc.oneof({ weight: 3, arbitrary: fc.constantFrom(...ODD_FIELDS) }, {
    weight: 1,
    arbitrary: fc.string({ maxLength: 12 }),
  });
  const op: fc.Arbitrary<Op> = fc.oneof(
    fc.tuple(
      fc.constant("line" as const),
      fc.constantFrom("del" as const, "dup" as const, "blank" as const),
      i,
    ),
    fc.tuple(fc.constant("swap" as const), i, i),
    { weight: 3, arbitrary: fc.tuple(fc.constant("field" as const), i, fc.nat(8), value) },
    fc.tuple(fc.constant("addfield" as const), i, value),
    fc.tuple(fc.constant("delfield" as const), i, fc.nat(8)),
    fc.tuple(fc.constant("eol" as const), fc.constantFrom("crlf" as const, "cr" as const, "chop" as const)),
    fc.constant(["bom"] as Op),
  );
  return fc.array(op, { minLength: 1, maxLength: 3 });
}

/** JSON values that trip config readers. */
export const ODD_JSON: unknown[] = [
  null,
  true,
  false,
  0,
  -1,
  1,
  0.5,
  1.5,
  -0.5,
  1e-12,
  1e308,
  -1e308,
  2 ** 31,
  2 ** 53,
  2 ** 53 + 2,
  2 ** 64,
  "",
  "x",
  "gelu",
  "bert",
  "[UNK]",
  [],
  [1, 2],
  {},
  { content: "[UNK]" },
  "\u0000\n\u001b",
];

/** 1-3 JSON edits at existing paths of `doc` (`prefix` "st" edits a safetensors header instead). */
export function jsonOps(doc: unknown, prefix: "" | "st" = ""): fc.Arbitrary<Op[]> {
  const paths = jsonPaths(doc);
  if (paths.length === 0) return fc.constant([]);
  const path = fc.constantFrom(...paths);
  const value = fc.oneof({ weight: 3, arbitrary: fc.constantFrom(...ODD_JSON) }, {
    weight: 1,
    arbitrary: fc.jsonValue({ maxDepth: 2 }),
  });
  const set = (prefix ? "stjson" : "json") as "json";
  const del = (prefix ? "stjsondel" : "jsondel") as "jsondel";
  const op: fc.Arbitrary<Op> = fc.oneof(
    { weight: 3, arbitrary: fc.tuple(fc.constant(set), path, value) as fc.Arbitrary<Op> },
    { weight: 1, arbitrary: fc.tuple(fc.constant(del), path) as fc.Arbitrary<Op> },
  );
  return fc.array(op, { minLength: 1, maxLength: 3 });
}
