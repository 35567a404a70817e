import { deepStrictEqual as assertEquals, ok as assert } from "node:assert/strict";
import { zipSync } from "fflate";
import { InputError } from "../errors.ts";
import {
  assertInputError,
  assertTensorMatches,
  expectInputError,
  fixturePath,
  flipBits,
  loadExpected,
  seededRandom,
} from "./test_fixtures.ts";
import { LEGACY_FORMAT_MESSAGE, parseTorchBin, readTorchBin } from "./torch_bin.ts";
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
    ["legacy.bin", LEGACY_FORMAT_MESSAGE],
  ];
  for (const [name, fragment] of cases) {
    const path = fixturePath(name);
    await readTorchBin(path).then(() => assert(false), (e) => assertInputError(e, path, fragment));
  }
  expectInputError(() => parseTorchBin(new TextEncoder().encode("hello"), F), F, "not a ZIP archive");
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
    ...latin1("ctorch._utils\n_rebuild_tensor_v2\n(("),
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
    ...latin1("\x89ccollections\nOrderedDict\n)RtR"),
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
  ];
  for (const [bytes, fragment] of cases) expectInputError(() => parseTorchBin(bytes, F), F, fragment);
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
