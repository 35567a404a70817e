import { deepStrictEqual as assertEquals, ok as assert } from "node:assert/strict";
import { zipSync } from "fflate";
import { InputError } from "../runtime/errors.ts";
import {
  assertInputError,
  assertTensorMatches,
  expectInputError,
  fixturePath,
  flipBits,
  loadExpected,
  seededRandom,
} from "./test_fixtures.ts";
import { parseTorchBin, readTorchBin } from "./torch_bin.ts";
import { loadStateDictFromFolder } from "./hf_folder.ts";
import { extractZipEntry, readZipDirectory } from "./zip_reader.ts";

const expected = await loadExpected();
const F = "model.bin";

for (const name of ["state_dict.bin", "state_dict_deflated.bin"]) {
  Deno.test(`\`readTorchBin()\` reads ${name} exactly as PyTorch saved it (views, shared storages, all dtypes)`, async () => {
    const sd = await readTorchBin(fixturePath(name));
    assertEquals([...sd.keys()].sort(), Object.keys(expected.torch).sort());
    assertEquals([...sd.keys()].slice(0, 4), ["0.weight", "0.bias", "1.weight", "1.bias"]);
    for (const [k, e] of Object.entries(expected.torch)) assertTensorMatches(sd.get(k), e, k);
    // Tensors of one storage are independent copies.
    sd.get("shared.base")!.data[2] = 99;
    assertEquals(sd.get("shared.view")!.data[0], 0);
  });
}

Deno.test("`readTorchBin()` refuses pickles that call os.system, by name", async () => {
  for (
    const [name, global] of [["malicious_os_system.bin", "os.system"], [
      "malicious_reduce.bin",
      "posix.system",
    ]]
  ) {
    const path = fixturePath(name);
    await readTorchBin(path).then(
      () => assert(false),
      (e) => assertInputError(e, path, `refusing pickle global ${global}`),
    );
  }
});

Deno.test("`readTorchBin()` checks storage sizes before allocating and bounds inflation", async () => {
  const cases: [string, string][] = [
    [
      "storage_larger_than_entry.bin",
      "storage declares 1000000000 F32 elements (4000000000 bytes) but the entry holds 24",
    ],
    ["inflate_beyond_declared.bin", "inflates beyond its declared 16 bytes"],
  ];
  for (const [name, fragment] of cases) {
    const path = fixturePath(name);
    await readTorchBin(path).then(() => assert(false), (e) => assertInputError(e, path, fragment));
  }
  expectInputError(
    () => parseTorchBin(new TextEncoder().encode("hello"), F),
    F,
    "not a torch.save checkpoint",
  );
  await readTorchBin("/nonexistent/pytorch_model.bin").then(
    () => assert(false),
    (e) => assertInputError(e, "/nonexistent/pytorch_model.bin", "file not found"),
  );
});

const latin1 = (s: string) => Uint8Array.from(s, (c) => c.charCodeAt(0));
const u32 = (n: number) => [n & 255, (n >>> 8) & 255, (n >>> 16) & 255, (n >>> 24) & 255];
const X = (s: string) => [0x58, ...u32(s.length), ...latin1(s)];
const J = (n: number) => [0x4a, ...u32(n)];

interface Spec {
  storage?: string;
  /** Items after the stride tuple (default: False, OrderedDict()). */
  tail?: number[];
  rebuild?: string;
  numel?: number;
  offset?: number;
  size?: number[];
  stride?: number[];
  value?: number[];
  root?: number[];
}

/** A hand-assembled torch.save pickle: OrderedDict {"w": _rebuild_tensor_v2(storage, offset, size, stride, False, OrderedDict())}. */
function tensorPickle(s: Spec): Uint8Array {
  const tensor = s.value ?? [
    ...latin1(`ctorch._utils\n${s.rebuild ?? "_rebuild_tensor_v2"}\n((`),
    ...X("storage"),
    ...latin1(`ctorch\n${s.storage ?? "FloatStorage"}\n`),
    ...X("0"),
    ...X("cpu"),
    ...J(s.numel ?? 6),
    ...latin1("tQ"),
    ...J(s.offset ?? 0),
    0x28,
    ...(s.size ?? [2, 3]).flatMap(J),
    0x74,
    0x28,
    ...(s.stride ?? [3, 1]).flatMap(J),
    0x74,
    ...(s.tail ?? latin1("\x89ccollections\nOrderedDict\n)R")),
    ...latin1("tR"),
  ];
  const body = s.root ?? [...latin1("ccollections\nOrderedDict\n)R("), ...X("w"), ...tensor, 0x75];
  return Uint8Array.from([0x80, 2, ...body, 0x2e]);
}

function torchZip(
  pkl: Uint8Array,
  data = new Uint8Array(new Float32Array([0, 1, 2, 3, 4, 5]).buffer),
  extra = {},
) {
  return zipSync({
    "archive/data.pkl": pkl,
    "archive/data/0": data,
    "archive/version": latin1("3\n"),
    ...extra,
  }, {
    level: 0,
  });
}

Deno.test("`parseTorchBin()` rebuilds a hand-assembled archive, honouring offset and strides", () => {
  const sd = parseTorchBin(torchZip(tensorPickle({ offset: 1, size: [2, 2], stride: [1, 2] })), F);
  assertEquals(sd.get("w")!.shape, [2, 2]);
  assertEquals([...sd.get("w")!.data as Float32Array], [1, 3, 2, 4]); // storage[1 + i + 2j]
});

Deno.test("`parseTorchBin()` refuses hostile pickles and archives with one InputError", () => {
  const cases: [Uint8Array, string][] = [
    [torchZip(tensorPickle({ size: [3, 3], stride: [3, 1] })), "reaches element 8 of a 6-element storage"],
    [torchZip(tensorPickle({ offset: 5, size: [2], stride: [1] })), "reaches element 6"],
    [torchZip(tensorPickle({ size: [100000, 100000], stride: [0, 0] })), "far more than the file holds"],
    [torchZip(tensorPickle({ numel: -1 })), "is not a non-negative integer"],
    [torchZip(tensorPickle({ storage: "QInt8Storage" })), "refusing pickle global torch.QInt8Storage"],
    [torchZip(tensorPickle({ value: [0x4b, 7] })), "[w]: state dict value is not a tensor"],
    [torchZip(tensorPickle({ root: [0x5d] })), "does not hold a dict"],
    [torchZip(tensorPickle({ root: [...X("storage"), 0x51] })), "bad storage persistent id"],
    [torchZip(tensorPickle({}), new Uint8Array(20)), "(24 bytes) but the entry holds 20"],
    [zipSync({ "archive/data.pkl": tensorPickle({}) }, { level: 0 }), "has no archive entry archive/data/0"],
    [zipSync({ "x/version": latin1("3\n") }, { level: 0 }), "no <archive>/data.pkl"],
    [
      torchZip(tensorPickle({}), undefined, { "archive/byteorder": latin1("big") }),
      'unsupported byte order "big"',
    ],
    // torch.load refuses these too: wrong arity, a non-bool requires_grad, gradients on integers
    [
      torchZip(tensorPickle({ tail: [0x89, 0x4e, 0x4e, 0x4e] })),
      "_rebuild_tensor_v2() takes 6 or 7 arguments, the pickle gives 8",
    ],
    [
      torchZip(tensorPickle({ rebuild: "_rebuild_tensor" })),
      "_rebuild_tensor() takes 4 arguments, the pickle gives 6",
    ],
    [torchZip(tensorPickle({ tail: [0x4b, 1, 0x4e] })), "requires_grad is 1, not True or False"],
    [
      torchZip(tensorPickle({ storage: "LongStorage", tail: [0x88, 0x4e] }), new Uint8Array(48)),
      "requires_grad is True on a I64 tensor",
    ],
    [torchZip(tensorPickle({ tail: [0x89, 0x4e, 0x7d, ...X("neg"), 0x88, 0x73] })), "tensor metadata"],
    [
      torchZip(tensorPickle({ size: new Array(65).fill(1), stride: new Array(65).fill(1) })),
      "tensor has 65 dimensions",
    ],
  ];
  for (const [bytes, fragment] of cases) expectInputError(() => parseTorchBin(bytes, F), F, fragment);
  // the 4-argument `_rebuild_tensor` of old checkpoints still loads
  const old = parseTorchBin(torchZip(tensorPickle({ rebuild: "_rebuild_tensor", tail: [] })), F);
  assertEquals([...old.get("w")!.data as Float32Array], [0, 1, 2, 3, 4, 5]);
  const bin = torchZip(tensorPickle({}));
  const entry = readZipDirectory(bin, F).get("archive/data/0")!;
  bin[entry.dataOffset + 2] ^= 0x10;
  expectInputError(() => parseTorchBin(bin, F), F, "CRC-32 mismatch");
});

function check(bytes: Uint8Array): boolean {
  try {
    parseTorchBin(bytes, F);
    return true;
  } catch (e) {
    if (!(e instanceof InputError)) throw e;
    assertInputError(e, F);
    return false;
  }
}

Deno.test("`parseTorchBin()` fuzz: 400 seeded bit flips/truncations of the archive give InputError or a load", async () => {
  const rand = seededRandom(7);
  const src = await Deno.readFile(fixturePath("state_dict.bin"));
  const cdStart = src.length - 6000;
  let refused = 0;
  for (let i = 0; i < 400; i++) {
    const r = rand();
    const bytes = r < 0.2
      ? src.subarray(0, Math.floor(rand() * src.length))
      : r < 0.5
      ? flipBits(src, rand, cdStart, src.length)
      : r < 0.75
      ? flipBits(src, rand, 0, 6000)
      : flipBits(src, rand);
    if (!check(bytes)) refused++;
  }
  assert(refused > 300, `only ${refused} of 400 refused`);
});

Deno.test("`parseTorchBin()` fuzz: 400 seeded mutations of data.pkl (re-zipped with valid CRCs) give InputError or a load", async () => {
  const rand = seededRandom(11);
  const src = await Deno.readFile(fixturePath("state_dict.bin"));
  const files: Record<string, Uint8Array> = {};
  for (const [name, e] of readZipDirectory(src, F)) files[name] = extractZipEntry(src, e, F).slice();
  const pkl = files["state_dict/data.pkl"];
  let loaded = 0;
  for (let i = 0; i < 400; i++) {
    const r = rand();
    const mutated = r < 0.2 ? pkl.subarray(0, Math.floor(rand() * pkl.length)) : flipBits(pkl, rand);
    if (check(zipSync({ ...files, "state_dict/data.pkl": mutated }, { level: 0 }))) loaded++;
  }
  assert(loaded < 400);
});

// --- legacy (pre-1.6) format -------------------------------------------------------------------

Deno.test("`readTorchBin()` reads legacy_state_dict.bin (torch 1.13, _use_new_zipfile_serialization=False) exactly as PyTorch saved it", async () => {
  const sd = await readTorchBin(fixturePath("legacy_state_dict.bin"));
  assertEquals([...sd.keys()], Object.keys(expected.torch).sort((a, b) => order(a) - order(b)));
  for (const [k, e] of Object.entries(expected.torch)) assertTensorMatches(sd.get(k), e, k);
  sd.get("shared.base")!.data[2] = 99;
  assertEquals(sd.get("shared.view")!.data[0], 0);
  const small = await readTorchBin(fixturePath("legacy.bin"));
  for (const [k, e] of Object.entries(expected.legacy)) assertTensorMatches(small.get(k), e, k);
});

/** Key order of state_dict.bin (the zip reader is already checked against Python's order). */
const zipOrder = [...(await readTorchBin(fixturePath("state_dict.bin"))).keys()];
const order = (k: string) => zipOrder.indexOf(k);

Deno.test("`readTorchBin()` reads legacy storage views (view_metadata, as torch < 0.4 wrote) like torch.load", async () => {
  const sd = await readTorchBin(fixturePath("legacy_view.bin"));
  assertEquals([...sd.keys()], ["a", "b"]);
  for (const [k, e] of Object.entries(expected.legacy_view)) assertTensorMatches(sd.get(k), e, k);
});

Deno.test("`loadStateDictFromFolder()` reads a legacy-format BERT pytorch_model.bin equal to the zip one", async () => {
  const zip = await readTorchBin(`${fixturePath("..")}/bert/tiny-torchbin-pretraining/pytorch_model.bin`);
  const dir = await Deno.makeTempDir();
  await Deno.copyFile(fixturePath("legacy_bert/pytorch_model.bin"), `${dir}/pytorch_model.bin`);
  const { stateDict, file } = await loadStateDictFromFolder(dir);
  assertEquals(file, `${dir}/pytorch_model.bin`);
  assertEquals([...stateDict.keys()], [...zip.keys()]);
  for (const [k, t] of zip) {
    const l = stateDict.get(k)!;
    assertEquals([l.dtype, l.shape], [t.dtype, t.shape], k);
    assertEquals(Buffer(l.data), Buffer(t.data), k);
  }
  await Deno.remove(dir, { recursive: true });
});

function Buffer(d: ArrayBufferView): number[] {
  return [...new Uint8Array(d.buffer, d.byteOffset, d.byteLength)];
}

const u64 = (n: number) => [...u32(n), 0, 0, 0, 0];
const pkl = (...body: number[]) => [0x80, 2, ...body, 0x2e];
/** torch's MAGIC_NUMBER as LONG1, PROTOCOL_VERSION 1001 as BININT2, a sys_info dict. */
const MAGIC = pkl(0x8a, 10, 0x6c, 0xfc, 0x9c, 0x46, 0xf9, 0x20, 0x6a, 0xa8, 0x50, 0x19);
const VERSION = pkl(0x4d, 0xe9, 0x03);
const SYS_INFO = (little = true) => pkl(0x7d, ...X("little_endian"), little ? 0x88 : 0x89, 0x73);

interface LegacySpec {
  magic?: number[];
  version?: number[];
  sysInfo?: number[];
  /** The storage persistent id tuple's items after the type: key, location, numel, view_metadata. */
  pid?: number[];
  global?: string;
  keys?: string[];
  /** Storage records (count, bytes) after the key list. */
  tail?: number[];
}

/** A hand-assembled legacy file: {"w": FloatStorage "0" of 6 floats viewed as [2, 3]}. */
function legacyFile(s: LegacySpec = {}): Uint8Array {
  const pid = s.pid ?? [...X("0"), ...X("cpu"), ...J(6), 0x4e];
  const body = pkl(
    ...latin1("ccollections\nOrderedDict\n)R("),
    ...X("w"),
    ...latin1(`c${s.global ?? "torch._utils\n_rebuild_tensor_v2"}\n((`),
    ...X("storage"),
    ...latin1("ctorch\nFloatStorage\n"),
    ...pid,
    ...latin1("tQ"),
    ...J(0),
    ...J(2),
    ...J(3),
    0x86,
    ...J(3),
    ...J(1),
    0x86,
    ...latin1("\x89ccollections\nOrderedDict\n)RtR"),
    0x75,
  );
  const keys = pkl(0x5d, 0x28, ...(s.keys ?? ["0"]).flatMap(X), 0x65);
  const floats = [...new Uint8Array(new Float32Array([0, 1, 2, 3, 4, 5]).buffer)];
  return Uint8Array.from([
    ...(s.magic ?? MAGIC),
    ...(s.version ?? VERSION),
    ...(s.sysInfo ?? SYS_INFO()),
    ...body,
    ...keys,
    ...(s.tail ?? [...u64(6), ...floats]),
  ]);
}

Deno.test("`parseTorchBin()` reads a hand-assembled legacy file", () => {
  const sd = parseTorchBin(legacyFile(), F);
  assertEquals(sd.get("w")!.shape, [2, 3]);
  assertEquals([...sd.get("w")!.data as Float32Array], [0, 1, 2, 3, 4, 5]);
});

Deno.test("`parseTorchBin()` refuses broken and hostile legacy files with one InputError, before allocating", () => {
  const floats = [...new Uint8Array(new Float32Array([0, 1, 2, 3, 4, 5]).buffer)];
  const good = legacyFile();
  const cases: [Uint8Array, string][] = [
    [good.subarray(0, good.length - 1), "needs 24 bytes, the file has 23 left"],
    [good.subarray(0, good.length - 24 - 3), "file ends before the storage's element count"],
    [good.subarray(0, 40), "[sys_info] @byte 24: truncated pickle"],
    [Uint8Array.from([...good, 0]), "1 unexpected bytes after the last storage"],
    [legacyFile({ tail: [...u64(5), ...floats] }), "storage holds 5 elements, its tensors declared 6"],
    [
      legacyFile({
        pid: [...X("0"), ...X("cpu"), 0x8a, 7, 0, 0, 0, 0, 0, 0, 1, 0x4e],
        tail: [0, 0, 0, 0, 0, 0, 1, 0],
      }),
      "storage needs 1125899906842624 bytes, the file has 0 left",
    ],
    [legacyFile({ keys: ["0", "0"] }), "[storage 0] @byte"],
    [legacyFile({ keys: [] }), "missing from the storage key list"],
    [legacyFile({ keys: ["0", "1"] }), "[storage 1] @byte"],
    [legacyFile({ magic: pkl(0x4b, 1) }), "without torch's magic number"],
    [legacyFile({ version: pkl(0x4d, 0xe8, 0x03) }), "protocol version 1000"],
    [legacyFile({ sysInfo: SYS_INFO(false) }), "big-endian"],
    [legacyFile({ global: "os\nsystem" }), "refusing pickle global os.system"],
    [legacyFile({ global: "builtins\neval" }), "refusing pickle global builtins.eval"],
    [legacyFile({ pid: [...X("0"), ...X("cpu"), ...J(6)] }), "bad storage persistent id"],
    [
      legacyFile({ pid: [...X("0"), ...X("cpu"), ...J(6), ...X("v"), ...J(4), ...J(4), 0x87] }),
      "storage view [4, +4) lies outside its 6-element storage",
    ],
    [
      new Uint8Array(1024).fill(0).map((_, i) => i >= 257 && i < 262 ? "ustar".charCodeAt(i - 257) : 0),
      "tar-format",
    ],
  ];
  for (const [bytes, fragment] of cases) expectInputError(() => parseTorchBin(bytes, F), F, fragment);
});
