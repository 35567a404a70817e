/**
 * Reader for `pytorch_model.bin` files written by `torch.save`, in both formats:
 *
 * - zip (torch >= 1.6): `<archive>/data.pkl` is a protocol-2 pickle of the state dict whose
 *   tensors point, through persistent ids `("storage", torch.FloatStorage, "<key>", "cpu", numel)`,
 *   at raw little-endian storages `<archive>/data/<key>`;
 * - legacy (torch < 1.6, or `_use_new_zipfile_serialization=False`; e.g. `bert-base-uncased` on the
 *   Hugging Face hub): pickles in a row (magic number, protocol version 1001, sys_info, the state
 *   dict, the list of storage keys), then each storage as an 8-byte little-endian element count
 *   and its raw bytes, in key-list order.
 *
 * Safety: the pickles run in the restricted {@link unpickle}r with an allow-list of globals
 * (`collections.OrderedDict`, `torch._utils._rebuild_tensor_v2` / `_rebuild_tensor` /
 * `_rebuild_parameter` / `_rebuild_parameter_with_state`, and the ten `torch.*Storage` types);
 * any other global is refused by name. A storage's declared size must equal its archive entry's
 * declared size (zip, CRC-checked) or its element count in the file and fit in what is left of
 * the file (legacy) before anything is extracted or allocated; every view (offset, sizes,
 * strides) must stay inside its storage, and the bytes copied for views of shared, strided or
 * expanded storages are capped at a few times the file size. Views are rebuilt honouring offset
 * and strides (a transposed tensor comes out row-major and right). A contiguous tensor that is its
 * storage's only user is a zero-copy view of the file buffer (when aligned); every other tensor is
 * copied, so tensors never alias. Legacy files must hold exactly the storages their pickle uses,
 * each once, and nothing after the last one. The pre-0.4 tar format is refused with a clear message.
 *
 * @example
 * ```ts
 * import { readTorchBin } from "./torch_bin.ts";
 * const sd = await readTorchBin("testdata/checkpoint/state_dict.bin");
 * console.log(sd.get("transposed")!.shape); // [4, 3]
 * ```
 * @module
 */

import { inputError } from "../runtime/printable.ts";
import {
  type DType,
  DTYPES,
  numelOf,
  type StateDict,
  type TensorData,
  typedFromBytes,
} from "./state_dict.ts";
import { readInputFile } from "./read_input.ts";
import {
  type PyCallable,
  type PyObject,
  type PyValue,
  unpickle,
  unpickleFrom,
  type UnpickleOptions,
} from "./unpickler.ts";
import { extractZipEntry, isZipArchive, readZipDirectory } from "./zip_reader.ts";

/** Storage classes torch pickles (`torch.FloatStorage`, ...) and their dtypes. */
const STORAGE_DTYPES: Readonly<Record<string, DType>> = {
  FloatStorage: "F32",
  HalfStorage: "F16",
  BFloat16Storage: "BF16",
  DoubleStorage: "F64",
  LongStorage: "I64",
  IntStorage: "I32",
  ShortStorage: "I16",
  CharStorage: "I8",
  ByteStorage: "U8",
  BoolStorage: "BOOL",
};

/** Materialized tensors may total at most this many times the file size (or the floor below). */
const EXPANSION_FACTOR = 4;
const EXPANSION_FLOOR_BYTES = 64 * 2 ** 20;

/** Most dimensions a tensor may have (PyTorch's own limit for most kernels is 64 too). */
const MAX_RANK = 64;

/** The first pickle of a legacy file: torch's `MAGIC_NUMBER`. */
export const LEGACY_MAGIC = 0x1950a86a20f9469cfc6cn;
/** The second pickle of a legacy file: torch's `PROTOCOL_VERSION`. */
export const LEGACY_PROTOCOL_VERSION = 1001;

/** Read a `torch.save` checkpoint (zip or legacy format) holding a state dict. */
export async function readTorchBin(path: string): Promise<StateDict> {
  return parseTorchBin(await readInputFile(path), path);
}

interface Storage {
  dtype: DType;
  numel: number;
  /** Filled when the storage's bytes are read (legacy files hold them after the pickle). */
  data: TensorData | null;
}

/** Parse `torch.save` bytes (zip or legacy format); `file` is only used in messages. */
export function parseTorchBin(bytes: Uint8Array, file: string): StateDict {
  if (isZipArchive(bytes)) return parseZipFormat(bytes, file);
  if (bytes.length > 0 && bytes[0] === 0x80) return parseLegacyFormat(bytes, file);
  if (isTarArchive(bytes)) {
    throw inputError(
      "tar-format torch.save checkpoint (torch < 0.4) is not supported; re-save it with a newer torch",
      { file, offset: 0 },
    );
  }
  throw inputError("not a torch.save checkpoint (neither a ZIP archive nor a legacy pickle)", {
    file,
    offset: 0,
  });
}

/** The zip format (torch >= 1.6): `<archive>/data.pkl` plus one entry per storage. */
function parseZipFormat(bytes: Uint8Array, file: string): StateDict {
  const entries = readZipDirectory(bytes, file);
  const pickles = [...entries.keys()].filter((n) => /^([^/]+\/)?data\.pkl$/.test(n));
  if (pickles.length !== 1) {
    throw inputError(
      pickles.length
        ? `several pickles (${pickles.join(", ")}): ambiguous archive`
        : "no <archive>/data.pkl entry",
      { file },
    );
  }
  const pklName = pickles[0];
  const prefix = pklName.slice(0, -"data.pkl".length);
  const byteorder = entries.get(`${prefix}byteorder`);
  if (byteorder) {
    const order = new TextDecoder().decode(extractZipEntry(bytes, byteorder, file)).trim();
    if (order !== "little") {
      throw inputError(`unsupported byte order ${brief(order)}`, { file, key: byteorder.name });
    }
  }
  const storages = new Map<string, Storage>();
  const loadStorage = (pid: PyValue): PyObject => {
    const s = parseStorageId(pid, 5);
    const known = knownStorage(storages, s);
    if (known) return known;
    const entry = entries.get(`${prefix}data/${s.key}`);
    if (!entry) fail(`storage "${s.key}" has no archive entry ${prefix}data/${s.key}`);
    const need = s.numel * DTYPES[s.dtype].itemsize;
    if (entry.size !== need) {
      throw inputError(
        `storage declares ${s.numel} ${s.dtype} elements (${need} bytes) but the entry holds ${entry.size} bytes`,
        { file, key: entry.name },
      );
    }
    const data = typedFromBytes(s.dtype, extractZipEntry(bytes, entry, file), s.numel);
    const storage: Storage = { dtype: s.dtype, numel: s.numel, data };
    storages.set(s.key, storage);
    return { kind: "object", type: "storage", value: storage };
  };
  const root = unpickle(extractZipEntry(bytes, entries.get(pklName)!, file), {
    file,
    key: pklName,
    findGlobal,
    persistentLoad: loadStorage,
  });
  return materialize(stateDictViews(root, file, pklName), bytes.length, file);
}

/**
 * The legacy format (`torch.save(..., _use_new_zipfile_serialization=False)`, and every file saved
 * by torch < 1.6): five pickles in a row (magic number, protocol version 1001, a sys_info dict, the
 * object, the list of storage keys), then for each key in that list an 8-byte little-endian
 * element count and the storage's raw bytes. Persistent ids are
 * `("storage", <storage type>, root_key, location, numel, view_metadata)`, where view_metadata is
 * None or `(view_key, offset, numel)`: a slice of the root storage (written by torch < 0.4).
 */
function parseLegacyFormat(bytes: Uint8Array, file: string): StateDict {
  let pos = 0;
  const next = (what: string, opts: Partial<UnpickleOptions> = {}): PyValue => {
    const r = unpickleFrom(bytes, pos, { file, key: what, ...opts });
    pos = r.end;
    return r.value;
  };
  const magic = next("magic number");
  if (magic !== LEGACY_MAGIC) {
    throw inputError("not a torch.save checkpoint (a pickle without torch's magic number)", {
      file,
      offset: 0,
    });
  }
  const at = pos;
  const version = next("protocol version");
  if (version !== LEGACY_PROTOCOL_VERSION) {
    throw inputError(`unsupported legacy torch.save protocol version ${brief(version)}, expected 1001`, {
      file,
      offset: at,
    });
  }
  const infoAt = pos;
  const sysInfo = next("sys_info");
  if (!(sysInfo instanceof Map) || sysInfo.get("little_endian") !== true) {
    throw inputError(
      sysInfo instanceof Map
        ? "checkpoint was saved on a big-endian machine (sys_info little_endian is not True)"
        : "sys_info is not a dict",
      { file, offset: infoAt },
    );
  }
  const roots = new Map<string, Storage>();
  const views = new Map<string, { root: string; offset: number; storage: Storage }>();
  const loadStorage = (pid: PyValue): PyObject => {
    const s = parseStorageId(pid, 6);
    const known = knownStorage(roots, s);
    const root = known ? known.value as Storage : { dtype: s.dtype, numel: s.numel, data: null };
    if (!known) roots.set(s.key, root);
    if (s.view === null) return { kind: "object", type: "storage", value: root };
    const v = views.get(s.view.key);
    if (v) {
      if (v.root !== s.key || v.offset !== s.view.offset || v.storage.numel !== s.view.numel) {
        fail(`storage view "${s.view.key}" is declared twice differently`);
      }
      return { kind: "object", type: "storage", value: v.storage };
    }
    if (s.view.offset + s.view.numel > root.numel) {
      fail(
        `storage view [${s.view.offset}, +${s.view.numel}) lies outside its ${root.numel}-element storage "${s.key}"`,
      );
    }
    const storage: Storage = { dtype: s.dtype, numel: s.view.numel, data: null };
    views.set(s.view.key, { root: s.key, offset: s.view.offset, storage });
    return { kind: "object", type: "storage", value: storage };
  };
  const pklAt = pos;
  const root = next("state dict pickle", { findGlobal, persistentLoad: loadStorage });
  const stateViews = stateDictViews(root, file, `pickle at byte ${pklAt}`);
  const keysAt = pos;
  const keys = next("storage key list");
  if (!Array.isArray(keys) || !keys.every((k) => typeof k === "string")) {
    throw inputError("the storage key list is not a list of strings", { file, offset: keysAt });
  }
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  for (const key of keys as string[]) {
    const storage = roots.get(key);
    const where = { file, key: `storage ${key}`, offset: pos };
    if (!storage) throw inputError("storage is listed but no tensor uses it", where);
    if (storage.data) throw inputError("storage is listed twice", where);
    if (bytes.length - pos < 8) throw inputError("file ends before the storage's element count", where);
    const count = view.getBigUint64(pos, true);
    if (count !== BigInt(storage.numel)) {
      throw inputError(`storage holds ${count} elements, its tensors declared ${storage.numel}`, where);
    }
    const nbytes = storage.numel * DTYPES[storage.dtype].itemsize;
    if (nbytes > bytes.length - pos - 8) {
      throw inputError(
        `storage needs ${nbytes} bytes, the file has ${bytes.length - pos - 8} left (truncated?)`,
        where,
      );
    }
    storage.data = typedFromBytes(storage.dtype, bytes.subarray(pos + 8, pos + 8 + nbytes), storage.numel);
    pos += 8 + nbytes;
  }
  for (const [key, storage] of roots) {
    if (!storage.data) {
      throw inputError("storage is used by a tensor but missing from the storage key list", {
        file,
        key: `storage ${key}`,
      });
    }
  }
  if (pos !== bytes.length) {
    throw inputError(`${bytes.length - pos} unexpected bytes after the last storage`, {
      file,
      offset: pos,
    });
  }
  for (const v of views.values()) {
    const data = roots.get(v.root)!.data!;
    v.storage.data = data.subarray(v.offset, v.offset + v.storage.numel);
  }
  return materialize(stateViews, bytes.length, file);
}

/** A ustar/gnu tar header at offset 0 (the pre-0.4 `torch.save` format was a tar archive). */
function isTarArchive(bytes: Uint8Array): boolean {
  if (bytes.length < 512) return false;
  const magic = String.fromCharCode(...bytes.subarray(257, 262));
  return magic === "ustar";
}

/** The storage a persistent id refers to when `key` was seen before (it must agree). */
function knownStorage(
  storages: Map<string, Storage>,
  s: { key: string; dtype: DType; numel: number },
): PyObject | null {
  const known = storages.get(s.key);
  if (!known) return null;
  if (known.dtype !== s.dtype || known.numel !== s.numel) {
    fail(`storage "${s.key}" is declared twice with different types or sizes`);
  }
  return { kind: "object", type: "storage", value: known };
}

/** The allowed globals (see the module doc); anything else is refused by name. */
function findGlobal(module: string, name: string): PyValue {
  const qualified = `${module}.${name}`;
  if (module === "torch" && Object.hasOwn(STORAGE_DTYPES, name)) {
    return { kind: "object", type: "storage_type", value: STORAGE_DTYPES[name] };
  }
  switch (ALLOWED[qualified]) {
    case "dict":
      return callable(qualified, (a) => a.length ? fail("OrderedDict() takes no arguments") : new Map());
    case "tensor":
      return callable(qualified, (a) => {
        // _rebuild_tensor(storage, offset, size, stride);
        // _rebuild_tensor_v2(storage, offset, size, stride, requires_grad, backward_hooks, metadata=None)
        const v2 = name === "_rebuild_tensor_v2";
        if (v2 ? a.length !== 6 && a.length !== 7 : a.length !== 4) {
          fail(`${name}() takes ${v2 ? "6 or 7" : "4"} arguments, the pickle gives ${a.length}`);
        }
        const view = parseView(a);
        if (v2) {
          checkRequiresGrad(a[4], view.storage.dtype);
          const metadata = a[6];
          if (
            metadata !== undefined && metadata !== null && !(metadata instanceof Map && metadata.size === 0)
          ) {
            fail("tensor metadata (conjugate/negative bits) is not supported");
          }
        }
        return { kind: "object", type: "tensor", value: view };
      });
    case "parameter":
      return callable(qualified, (a) => {
        // _rebuild_parameter(data, requires_grad, backward_hooks)
        // _rebuild_parameter_with_state(data, requires_grad, backward_hooks, state)
        const arity = name === "_rebuild_parameter" ? 3 : 4;
        if (a.length !== arity) fail(`${name}() takes ${arity} arguments, the pickle gives ${a.length}`);
        if (!isObject(a[0], "tensor")) fail("parameter data is not a tensor");
        checkRequiresGrad(a[1], ((a[0] as PyObject).value as View).storage.dtype);
        return a[0];
      });
    default:
      throw new Error(
        `refusing pickle global ${qualified.length > 100 ? qualified.slice(0, 97) + "..." : qualified}`,
      );
  }
}

/** `requires_grad` must be a bool, and true only for floating-point tensors (as torch checks). */
function checkRequiresGrad(v: PyValue | undefined, dtype: DType): void {
  if (typeof v !== "boolean") fail(`requires_grad is ${brief(v)}, not True or False`);
  if (v && !(dtype === "F32" || dtype === "F16" || dtype === "BF16" || dtype === "F64")) {
    fail(`requires_grad is True on a ${dtype} tensor (only floating-point tensors can require gradients)`);
  }
}

/** The unpickled root as `name -> view`; it must be a dict of string keys and tensor values. */
function stateDictViews(root: PyValue, file: string, pickle: string): Map<string, View> {
  if (!(root instanceof Map)) {
    throw inputError("the pickle does not hold a dict (state dict)", { file, key: pickle });
  }
  const views = new Map<string, View>();
  for (const [k, v] of root) {
    if (typeof k !== "string") {
      throw inputError(`state dict key ${brief(k)} is not a string`, { file, key: pickle });
    }
    if (!isObject(v, "tensor")) throw inputError("state dict value is not a tensor", { file, key: k });
    views.set(k, v.value as View);
  }
  return views;
}

/** A validated tensor view of a storage, not yet materialized. */
interface View {
  storage: Storage;
  offset: number;
  size: number[];
  stride: number[];
  numel: number;
}

/**
 * Turn views into row-major tensors. A contiguous view that is its storage's only user becomes a
 * zero-copy subarray; the others are copied (so tensors never alias), within the expansion budget.
 */
function materialize(views: Map<string, View>, fileBytes: number, file: string): StateDict {
  const users = new Map<Storage, number>();
  for (const v of views.values()) users.set(v.storage, (users.get(v.storage) ?? 0) + 1);
  const shareless = (v: View) => users.get(v.storage) === 1 && isContiguous(v.size, v.stride);
  let copied = 0;
  for (const v of views.values()) if (!shareless(v)) copied += v.numel * DTYPES[v.storage.dtype].itemsize;
  const budget = Math.max(EXPANSION_FACTOR * fileBytes, EXPANSION_FLOOR_BYTES);
  if (copied > budget) {
    throw inputError(`tensor views would materialize ${copied} bytes, far more than the file holds`, {
      file,
    });
  }
  const out: StateDict = new Map();
  for (const [k, v] of views) {
    const { dtype } = v.storage;
    const data = v.storage.data!;
    const t = shareless(v)
      ? data.subarray(v.offset, v.offset + v.numel)
      : isContiguous(v.size, v.stride)
      ? data.slice(v.offset, v.offset + v.numel)
      : gather(v);
    out.set(k, { dtype, shape: v.size, data: t });
  }
  return out;
}

const ALLOWED: Readonly<Record<string, "dict" | "tensor" | "parameter">> = {
  "collections.OrderedDict": "dict",
  "torch._utils._rebuild_tensor_v2": "tensor",
  "torch._utils._rebuild_tensor": "tensor",
  "torch._utils._rebuild_parameter": "parameter",
  "torch._utils._rebuild_parameter_with_state": "parameter",
};

/**
 * A storage persistent id -> its parts: `("storage", <storage type>, key, location, numel)` in the
 * zip format (`length` 5), plus `view_metadata` (None or `(view_key, offset, numel)`) in the
 * legacy format (`length` 6).
 */
function parseStorageId(pid: PyValue, length: 5 | 6) {
  const bad = (detail: string): never => fail(`bad storage persistent id: ${detail}`);
  if (!Array.isArray(pid) || pid.length !== length || pid[0] !== "storage") {
    bad(`not ('storage', type, key, location, numel${length === 6 ? ", view_metadata" : ""})`);
  }
  const [, type, key, , numel, viewMeta] = pid as PyValue[];
  if (!isObject(type, "storage_type")) bad("second item is not a torch storage type");
  if (typeof key !== "string") bad("key is not a string");
  if (!isCount(numel)) bad(`size ${brief(numel)} is not a non-negative integer`);
  let view: { key: string; offset: number; numel: number } | null = null;
  if (length === 6 && viewMeta !== null) {
    const m = viewMeta as PyValue[];
    if (!Array.isArray(m) || m.length !== 3 || typeof m[0] !== "string" || !isCount(m[1]) || !isCount(m[2])) {
      bad("view_metadata is not None or (view_key, offset, numel)");
    }
    view = { key: m[0] as string, offset: m[1] as number, numel: m[2] as number };
  }
  return { dtype: (type as PyObject).value as DType, key: key as string, numel: numel as number, view };
}

/** `_rebuild_tensor_v2(storage, storage_offset, size, stride, ...)` -> a view checked to lie inside its storage. */
function parseView(args: PyValue[]): View {
  const [storageObj, offset, sizeV, strideV] = args;
  if (args.length < 4 || !isObject(storageObj, "storage")) {
    fail("tensor rebuild needs (storage, offset, size, stride)");
  }
  if (Array.isArray(sizeV) && sizeV.length > MAX_RANK) {
    fail(`tensor has ${sizeV.length} dimensions, more than ${MAX_RANK}`);
  }
  const storage = (storageObj as PyObject).value as Storage;
  if (!isCount(offset)) fail(`storage offset ${brief(offset)} is not a non-negative integer`);
  if (
    !Array.isArray(sizeV) || !Array.isArray(strideV) || sizeV.length > MAX_RANK ||
    sizeV.length !== strideV.length || !isCountList(sizeV) || !isCountList(strideV)
  ) {
    fail("tensor size and stride are not equal-length tuples of non-negative integers");
  }
  const size = [...sizeV as number[]], stride = [...strideV as number[]];
  const numel = numelOf(size);
  if (!Number.isSafeInteger(numel)) fail(`tensor size [${size}] is too large`);
  let last = offset as number;
  for (let d = 0; d < size.length; d++) last += (size[d] - 1) * stride[d];
  if (numel > 0 && last >= storage.numel) {
    fail(
      `view (offset ${offset}, size [${size}], stride [${stride}]) reaches element ${last} of a ${storage.numel}-element storage`,
    );
  }
  return { storage, offset: numel ? offset as number : 0, size, stride, numel };
}

/** Copy a strided view into a new row-major array. */
function gather(v: View): TensorData {
  const { size, stride, numel } = v;
  const data = new (DTYPES[v.storage.dtype].array)(numel);
  const out = data as unknown as { [i: number]: number | bigint };
  const from = v.storage.data! as unknown as { [i: number]: number | bigint };
  const idx = new Array<number>(size.length).fill(0);
  let p = v.offset;
  for (let i = 0; i < numel; i++) {
    out[i] = from[p];
    for (let d = size.length - 1; d >= 0; d--) {
      p += stride[d];
      if (++idx[d] < size[d]) break;
      p -= stride[d] * size[d];
      idx[d] = 0;
    }
  }
  return data;
}

function isContiguous(size: number[], stride: number[]): boolean {
  let expected = 1;
  for (let d = size.length - 1; d >= 0; d--) {
    if (size[d] !== 1 && stride[d] !== expected) return false;
    expected *= size[d];
  }
  return true;
}

function callable(name: string, call: (args: PyValue[]) => PyValue): PyCallable {
  return { kind: "callable", name, call };
}

function isObject(v: PyValue | undefined, type: string): v is PyObject {
  return typeof v === "object" && v !== null && !Array.isArray(v) && !(v instanceof Map) &&
    v.kind === "object" &&
    v.type === type;
}

function isCount(v: PyValue | undefined): v is number {
  return typeof v === "number" && Number.isSafeInteger(v) && v >= 0;
}

function isCountList(v: PyValue | undefined): v is number[] {
  return Array.isArray(v) && v.every(isCount);
}

/** A short rendering of a pickled value for messages (never recurses deeply, never throws). */
function brief(v: PyValue | undefined): string {
  if (typeof v === "string") return JSON.stringify(v.length > 60 ? v.slice(0, 57) + "..." : v);
  if (typeof v === "number" || typeof v === "bigint" || typeof v === "boolean") return String(v);
  if (v === null) return "None";
  if (v === undefined) return "nothing";
  if (Array.isArray(v)) return Object.isFrozen(v) ? `a ${v.length}-tuple` : `a ${v.length}-item list`;
  if (v instanceof Map) return "a dict";
  return v.kind === "callable" ? `global ${v.name}` : `a ${v.type}`;
}

/** Errors inside pickle callbacks: the unpickler turns them into an InputError at the opcode. */
function fail(detail: string): never {
  throw new Error(detail);
}
