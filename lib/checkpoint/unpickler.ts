/**
 * A restricted unpickler: the protocol-2 opcodes a `torch.save`d state dict uses (plus the few
 * protocol-4 framing/memo opcodes, which cost nothing), and no others. It never imports or calls
 * anything by itself: each GLOBAL goes through the caller's `findGlobal`, which returns a
 * {@link PyCallable} or refuses the name; BINPERSID goes through `persistentLoad`. Anything
 * unexpected (unknown opcode, stack underflow, bad memo index, truncated argument) is one
 * {@link InputError} naming the file, the pickle's entry name and the opcode's byte offset.
 * Bounded: at most {@link MAX_PICKLE_ITEMS} stack and memo entries and four times as many opcodes,
 * GLOBAL names of at most 256 bytes, and (as in Python) no lists or dicts as dict keys.
 *
 * Python values map to: None -> null, bool, int -> number (bigint beyond 2^53), float -> number,
 * str -> string, list -> array, tuple -> frozen array, dict -> Map.
 *
 * @example
 * ```ts
 * import { unpickle } from "./unpickler.ts";
 * // pickle.dumps({"a": (1, 2)}, protocol=2)
 * const bytes = Uint8Array.from([128, 2, 125, 113, 0, 88, 1, 0, 0, 0, 97, 113, 1, 75, 1, 75, 2, 134, 113, 2, 115, 46]);
 * console.log(unpickle(bytes, { file: "demo.pkl" })); // Map(1) { "a" => [ 1, 2 ] }
 * ```
 * @module
 */

import { InputError } from "../runtime/errors.ts";
import { inputError } from "../runtime/printable.ts";

/** A value produced by the unpickler. */
export type PyValue =
  | null
  | boolean
  | number
  | bigint
  | string
  | PyValue[]
  | Map<PyValue, PyValue>
  | PyCallable
  | PyObject;

/** Something a GLOBAL resolved to, which REDUCE may call with its argument tuple. */
export interface PyCallable {
  readonly kind: "callable";
  readonly name: string;
  call(args: PyValue[]): PyValue;
}

/** An opaque object built by a {@link PyCallable} (a tensor, a storage type, ...). */
export interface PyObject {
  readonly kind: "object";
  readonly type: string;
  readonly value: unknown;
}

/** What the caller allows. Both hooks may throw; plain errors become {@link InputError}s. */
export interface UnpickleOptions {
  /** File name for messages. */
  file: string;
  /** Archive entry name for messages (e.g. `archive/data.pkl`). */
  key?: string;
  /** Resolve `module.name`; refuse (throw) anything not allowed. Default: refuse every global. */
  findGlobal?: (module: string, name: string) => PyValue;
  /** Resolve a persistent id (BINPERSID). Default: refuse. */
  persistentLoad?: (pid: PyValue) => PyValue;
  /**
   * Most stack and memo entries (default {@link MAX_PICKLE_ITEMS}); at most four times as many
   * opcodes run. Without a cap each opcode byte of a hostile pickle could cost a heap object.
   */
  maxItems?: number;
}

/**
 * Default cap on stack and memo entries: 1,000,000 (about 100 MB of heap at worst; 4,000,000
 * opcodes). A state dict needs about ten memo entries and 25 opcodes per tensor.
 */
export const MAX_PICKLE_ITEMS = 1_000_000;

/** A failure inside a hook, reported at the current opcode. */
export class PickleRefusal extends Error {}

const utf8 = new TextDecoder("utf-8", { fatal: true });

/** Run the pickle in `bytes` and return its single result (bytes after its STOP are ignored). */
export function unpickle(bytes: Uint8Array, opts: UnpickleOptions): PyValue {
  return unpickleFrom(bytes, 0, opts).value;
}

/**
 * Run the pickle that starts at byte `start` of `bytes` (files that hold several pickles one after
 * another, like the legacy `torch.save` format). Returns its result and the offset just past its
 * STOP opcode; error offsets are offsets in `bytes`.
 */
export function unpickleFrom(
  bytes: Uint8Array,
  start: number,
  opts: UnpickleOptions,
): { value: PyValue; end: number } {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const stack: PyValue[] = [];
  const marks: number[] = [];
  const memo = new Map<number, PyValue>();
  const findGlobal = opts.findGlobal ?? ((m: string, n: string) => {
    throw new PickleRefusal(`refusing pickle global ${m}.${n}`);
  });
  const persistentLoad = opts.persistentLoad ?? (() => {
    throw new PickleRefusal("persistent ids are not allowed here");
  });
  let pos = start, op = 0, opAt = start;
  const maxItems = opts.maxItems ?? MAX_PICKLE_ITEMS;
  let opcodes = 0;

  const fail = (detail: string): never => {
    throw inputError(detail, { file: opts.file, key: opts.key, offset: opAt });
  };
  const take = (n: number): number => {
    if (n > bytes.length - pos) fail(`truncated pickle: opcode 0x${hex(op)} needs ${n} more bytes`);
    const at = pos;
    pos += n;
    return at;
  };
  const pop = (): PyValue =>
    stack.length > (marks.at(-1) ?? 0) ? stack.pop()! : fail("pickle stack underflow");
  const top = (): PyValue =>
    stack.length > (marks.at(-1) ?? 0) ? stack.at(-1)! : fail("pickle stack underflow");
  const popMark = (): PyValue[] => {
    const m = marks.pop();
    if (m === undefined) return fail("pickle opcode needs a MARK but none is open");
    return stack.splice(m);
  };
  const text = (n: number): string => {
    const at = take(n);
    try {
      return utf8.decode(bytes.subarray(at, at + n));
    } catch {
      return fail("string is not valid UTF-8");
    }
  };
  const line = (): string => {
    const nl = bytes.subarray(pos, pos + 257).indexOf(0x0a);
    if (nl < 0) fail("GLOBAL name is not a short newline-terminated line");
    const end = pos + nl;
    const s = String.fromCharCode(...bytes.subarray(pos, end));
    pos = end + 1;
    return s;
  };
  const put = (i: number) => memo.set(i, top());
  const get = (i: number) => memo.has(i) ? memo.get(i)! : fail(`memo index ${i} was never stored`);
  const tuple = (items: PyValue[]): PyValue => Object.freeze(items) as PyValue[];
  const list = (): PyValue[] => {
    const l = top();
    return Array.isArray(l) && !Object.isFrozen(l) ? l : fail("APPEND target is not a list");
  };
  const dict = (): Map<PyValue, PyValue> => {
    const d = top();
    return d instanceof Map ? d : fail("SETITEM target is not a dict");
  };
  /** Python refuses lists and dicts (and tuples holding them) as dict keys: so do we. */
  const hashable = (k: PyValue): PyValue =>
    isHashable(k, 0) ? k : fail("unhashable dict key (a list or dict)");
  const hook = <T>(f: () => T): T => {
    try {
      return f();
    } catch (e) {
      if (e instanceof InputError) throw e;
      return fail((e as Error).message);
    }
  };

  while (true) {
    if (stack.length > maxItems || memo.size > maxItems || ++opcodes > 4 * maxItems) {
      fail(`pickle exceeds ${maxItems} stack/memo entries or ${4 * maxItems} opcodes: refused as a bomb`);
    }
    opAt = pos;
    if (pos >= bytes.length) fail("pickle ends without a STOP opcode");
    op = bytes[take(1)];
    switch (op) {
      case 0x80: // PROTO
        if (bytes[take(1)] > 5) fail(`unsupported pickle protocol ${bytes[pos - 1]}`);
        break;
      case 0x95: // FRAME (protocol 4): the frame length is only a hint
        take(8);
        break;
      case 0x2e: // STOP
        if (stack.length !== 1 || marks.length) fail("pickle ended with a malformed stack");
        return { value: stack[0], end: pos };
      case 0x28: // MARK
        marks.push(stack.length);
        break;
      case 0x7d: // EMPTY_DICT
        stack.push(new Map());
        break;
      case 0x5d: // EMPTY_LIST
        stack.push([]);
        break;
      case 0x29: // EMPTY_TUPLE
        stack.push(tuple([]));
        break;
      case 0x74: // TUPLE
        stack.push(tuple(popMark()));
        break;
      case 0x85: // TUPLE1
        stack.push(tuple([pop()]));
        break;
      case 0x86: { // TUPLE2
        const b = pop(), a = pop();
        stack.push(tuple([a, b]));
        break;
      }
      case 0x87: { // TUPLE3
        const c = pop(), b = pop(), a = pop();
        stack.push(tuple([a, b, c]));
        break;
      }
      case 0x4e: // NONE
        stack.push(null);
        break;
      case 0x88: // NEWTRUE
        stack.push(true);
        break;
      case 0x89: // NEWFALSE
        stack.push(false);
        break;
      case 0x4b: // BININT1
        stack.push(bytes[take(1)]);
        break;
      case 0x4d: // BININT2
        stack.push(view.getUint16(take(2), true));
        break;
      case 0x4a: // BININT
        stack.push(view.getInt32(take(4), true));
        break;
      case 0x8a: { // LONG1: little-endian two's complement of n bytes
        const n = bytes[take(1)];
        const at = take(n);
        let v = 0n;
        for (let i = n - 1; i >= 0; i--) v = (v << 8n) | BigInt(bytes[at + i]);
        if (n && bytes[at + n - 1] & 0x80) v -= 1n << BigInt(8 * n);
        stack.push(
          v >= BigInt(Number.MIN_SAFE_INTEGER) && v <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(v) : v,
        );
        break;
      }
      case 0x47: // BINFLOAT (big-endian double)
        stack.push(view.getFloat64(take(8), false));
        break;
      case 0x58: // BINUNICODE
        stack.push(text(view.getUint32(take(4), true)));
        break;
      case 0x8c: // SHORT_BINUNICODE
        stack.push(text(bytes[take(1)]));
        break;
      case 0x63: { // GLOBAL "module\nname\n"
        const module = line(), name = line();
        stack.push(hook(() => findGlobal(module, name)));
        break;
      }
      case 0x93: { // STACK_GLOBAL
        const name = pop(), module = pop();
        if (typeof module !== "string" || typeof name !== "string") fail("STACK_GLOBAL needs two strings");
        stack.push(hook(() => findGlobal(module as string, name as string)));
        break;
      }
      case 0x71: // BINPUT
        put(bytes[take(1)]);
        break;
      case 0x72: // LONG_BINPUT
        put(view.getUint32(take(4), true));
        break;
      case 0x94: // MEMOIZE
        put(memo.size);
        break;
      case 0x68: // BINGET
        stack.push(get(bytes[take(1)]));
        break;
      case 0x6a: // LONG_BINGET
        stack.push(get(view.getUint32(take(4), true)));
        break;
      case 0x51: { // BINPERSID
        const pid = pop();
        stack.push(hook(() => persistentLoad(pid)));
        break;
      }
      case 0x52: { // REDUCE
        const args = pop(), f = pop();
        if (!Array.isArray(args) || !Object.isFrozen(args)) fail("REDUCE arguments are not a tuple");
        if (!isCallable(f)) fail("REDUCE target is not an allowed callable");
        stack.push(hook(() => (f as PyCallable).call(args as PyValue[])));
        break;
      }
      case 0x73: { // SETITEM
        const v = pop(), k = pop();
        dict().set(hashable(k), v);
        break;
      }
      case 0x75: { // SETITEMS
        const items = popMark();
        if (items.length % 2) fail("SETITEMS needs key/value pairs");
        const d = dict();
        for (let i = 0; i < items.length; i += 2) d.set(hashable(items[i]), items[i + 1]);
        break;
      }
      case 0x61: { // APPEND
        const v = pop();
        list().push(v);
        break;
      }
      case 0x65: { // APPENDS
        const items = popMark();
        const l = list();
        for (const v of items) l.push(v);
        break;
      }
      case 0x62: { // BUILD: only attribute dicts on dicts (OrderedDict._metadata), ignored
        const state = pop();
        if (!(top() instanceof Map) || !(state instanceof Map || state === null)) {
          fail("BUILD is only allowed to set attributes of a dict");
        }
        break;
      }
      default:
        fail(`unsupported pickle opcode 0x${hex(op)}`);
    }
  }
}

/** Tuples already found hashable (a shared tuple used as a key many times is checked once). */
const hashableTuples = new WeakSet<PyValue[]>();

function isHashable(v: PyValue, depth: number): boolean {
  if (v instanceof Map) return false;
  if (!Array.isArray(v)) return true;
  if (hashableTuples.has(v)) return true;
  if (!Object.isFrozen(v) || depth >= 100 || !v.every((x) => isHashable(x, depth + 1))) return false;
  hashableTuples.add(v);
  return true;
}

function isCallable(v: PyValue): v is PyCallable {
  return typeof v === "object" && v !== null && !Array.isArray(v) && !(v instanceof Map) &&
    v.kind === "callable";
}

function hex(n: number): string {
  return n.toString(16).padStart(2, "0");
}
