/**
 * Reader for `pytorch_model.bin` files written by `torch.save` (zip format, torch >= 1.6):
 * `<archive>/data.pkl` is a protocol-2 pickle of the state dict whose tensors point, through
 * persistent ids `("storage", torch.FloatStorage, "<key>", "cpu", numel)`, at raw little-endian
 * storages `<archive>/data/<key>`.
 *
 * Safety: the pickle runs in the restricted {@link unpickle}r with an allow-list of globals
 * (`collections.OrderedDict`, `torch._utils._rebuild_tensor_v2` / `_rebuild_tensor` /
 * `_rebuild_parameter` / `_rebuild_parameter_with_state`, and the ten `torch.*Storage` types);
 * any other global is refused by name. A storage's declared size must equal its archive entry's
 * declared size before anything is extracted (CRC-checked), every view (offset, sizes, strides)
 * must stay inside its storage, and the bytes copied for views of shared, strided or expanded
 * storages are capped at a few times the file size. Views are rebuilt honouring offset and
 * strides (a transposed tensor comes out row-major and right). A contiguous tensor that is its
 * storage's only user is a zero-copy view of the archive buffer; every other tensor is copied, so
 * tensors never alias. The legacy pre-1.6 format is refused with a clear message.
 *
 * @example
 * ```ts
 * import { readTorchBin } from "./torch_bin.ts";
 * const sd = await readTorchBin("testdata/checkpoint/state_dict.bin");
 * console.log(sd.get("transposed")!.shape); // [4, 3]
 * ```
 * @module
 */

import { InputError } from "../errors.ts";
import {
  type DType,
  DTYPES,
  numelOf,
  type StateDict,
  type TensorData,
  typedFromBytes,
} from "./state_dict.ts";
import { readInputFile } from "./read_input.ts";
import { type PyCallable, type PyObject, type PyValue, unpickle } from "./unpickler.ts";
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

/** The error for pre-1.6 (non-zip) `torch.save` files. */
export const LEGACY_FORMAT_MESSAGE =
  "legacy (pre-1.6) torch.save format is not supported, re-save with torch>=1.6";

/** Read a `torch.save` zip checkpoint holding a state dict. */
export async function readTorchBin(path: string): Promise<StateDict> {
  return parseTorchBin(await readInputFile(path), path);
}

interface Storage {
  dtype: DType;
  numel: number;
  data: TensorData;
}

/** Parse `torch.save` bytes; `file` is only used in messages. */
export function parseTorchBin(bytes: Uint8Array, file: string): StateDict {
  if (!isZipArchive(bytes)) {
    if (bytes[0] === 0x80) throw new InputError(LEGACY_FORMAT_MESSAGE, { file, offset: 0 });
    throw new InputError("not a torch.save checkpoint (not a ZIP archive)", { file, offset: 0 });
  }
  const entries = readZipDirectory(bytes, file);
  const pickles = [...entries.keys()].filter((n) => /^([^/]+\/)?data\.pkl$/.test(n));
  if (pickles.length !== 1) {
    throw new InputError(
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
      throw new InputError(`unsupported byte order "${order}"`, { file, key: byteorder.name });
    }
  }

  const storages = new Map<string, Storage>();
  const loadStorage = (pid: PyValue): PyObject => {
    const s = parseStorageId(pid, file);
    const known = storages.get(s.key);
    if (known) {
      if (known.dtype !== s.dtype || known.numel !== s.numel) {
        throw new InputError(`storage "${s.key}" is declared twice with different types or sizes`, { file });
      }
      return { kind: "object", type: "storage", value: known };
    }
    const entry = entries.get(`${prefix}data/${s.key}`);
    if (!entry) {
      throw new InputError(`storage "${s.key}" has no archive entry ${prefix}data/${s.key}`, { file });
    }
    const need = s.numel * DTYPES[s.dtype].itemsize;
    if (entry.size !== need) {
      throw new InputError(
        `storage declares ${s.numel} ${s.dtype} elements (${need} bytes) but the entry holds ${entry.size} bytes`,
        { file, key: entry.name },
      );
    }
    const data = typedFromBytes(s.dtype, extractZipEntry(bytes, entry, file), s.numel);
    const storage = { dtype: s.dtype, numel: s.numel, data };
    storages.set(s.key, storage);
    return { kind: "object", type: "storage", value: storage };
  };
  const findGlobal = (module: string, name: string): PyValue => {
    const qualified = `${module}.${name}`;
    if (module === "torch" && Object.hasOwn(STORAGE_DTYPES, name)) {
      return { kind: "object", type: "storage_type", value: STORAGE_DTYPES[name] };
    }
    switch (ALLOWED[qualified]) {
      case "dict":
        return callable(qualified, (a) => a.length ? fail("OrderedDict() takes no arguments") : new Map());
      case "tensor":
        return callable(qualified, (a) => ({ kind: "object", type: "tensor", value: parseView(a) }));
      case "parameter":
        return callable(
          qualified,
          (a) => isObject(a[0], "tensor") ? a[0] : fail("parameter data is not a tensor"),
        );
      default:
        throw new Error(`refusing pickle global ${qualified}`);
    }
  };
  const root = unpickle(extractZipEntry(bytes, entries.get(pklName)!, file), {
    file,
    key: pklName,
    findGlobal,
    persistentLoad: loadStorage,
  });
  if (!(root instanceof Map)) {
    throw new InputError("data.pkl does not hold a dict (state dict)", { file, key: pklName });
  }
  const views = new Map<string, View>();
  for (const [k, v] of root) {
    if (typeof k !== "string") {
      throw new InputError(`state dict key ${String(k)} is not a string`, { file, key: pklName });
    }
    if (!isObject(v, "tensor")) throw new InputError("state dict value is not a tensor", { file, key: k });
    views.set(k, v.value as View);
  }
  return materialize(views, bytes.length, file);
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
    throw new InputError(`tensor views would materialize ${copied} bytes, far more than the file holds`, {
      file,
    });
  }
  const out: StateDict = new Map();
  for (const [k, v] of views) {
    const { dtype, data } = v.storage;
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

/** `("storage", <storage type>, key, location, numel)` -> its parts. */
function parseStorageId(pid: PyValue, file: string) {
  const bad = (detail: string) => new InputError(`bad storage persistent id: ${detail}`, { file });
  if (!Array.isArray(pid) || pid.length !== 5 || pid[0] !== "storage") {
    throw bad("not ('storage', type, key, location, numel)");
  }
  const [, type, key, , numel] = pid;
  if (!isObject(type, "storage_type")) throw bad("second item is not a torch storage type");
  if (typeof key !== "string") throw bad("key is not a string");
  if (!isCount(numel)) throw bad(`size ${String(numel)} is not a non-negative integer`);
  return { dtype: type.value as DType, key, numel };
}

/** `_rebuild_tensor_v2(storage, storage_offset, size, stride, ...)` -> a view checked to lie inside its storage. */
function parseView(args: PyValue[]): View {
  const [storageObj, offset, sizeV, strideV] = args;
  if (args.length < 4 || !isObject(storageObj, "storage")) {
    fail("tensor rebuild needs (storage, offset, size, stride)");
  }
  const storage = (storageObj as PyObject).value as Storage;
  if (!isCount(offset)) fail(`storage offset ${String(offset)} is not a non-negative integer`);
  if (!isCountList(sizeV) || !isCountList(strideV) || sizeV.length !== strideV.length) {
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
  const from = v.storage.data as unknown as { [i: number]: number | bigint };
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

/** Errors inside pickle callbacks: the unpickler turns them into an InputError at the opcode. */
function fail(detail: string): never {
  throw new Error(detail);
}
