import { deepStrictEqual as assertEquals, ok as assert } from "node:assert/strict";
import { InputError } from "../runtime/errors.ts";
import {
  parseSafetensors,
  readSafetensors,
  safetensorsMetadata,
  serializeSafetensors,
  writeSafetensors,
} from "./safetensors.ts";
import type { StateDict } from "./state_dict.ts";
import { PYTHON, reportSkip, requireTool } from "../../testing/tools.ts";
import {
  assertInputError,
  assertTensorMatches,
  expectInputError,
  fixturePath,
  flipBits,
  loadExpected,
  seededRandom,
} from "./test_fixtures.ts";

const expected = await loadExpected();

Deno.test("`readSafetensors()` reads the hand-written fixture exactly as numpy wrote it", async () => {
  const path = fixturePath("hand_written.safetensors");
  const sd = await readSafetensors(path);
  assertEquals([...sd.keys()].sort(), Object.keys(expected.safetensors).sort());
  for (const [k, e] of Object.entries(expected.safetensors)) assertTensorMatches(sd.get(k), e, k);
  assertEquals(safetensorsMetadata(await Deno.readFile(path), path), expected.safetensors_metadata);
});

Deno.test("`readSafetensors()` copies tensors whose data is not aligned", async () => {
  const sd = await readSafetensors(fixturePath("unaligned.safetensors"));
  for (const k of ["mask", "weight", "ids", "half"]) {
    assertTensorMatches(sd.get(k), expected.safetensors[k], k);
  }
});

/** A state dict of hand-chosen values in every dtype. */
function sample(): StateDict {
  return new Map<string, StateDict extends Map<string, infer T> ? T : never>([
    ["z.f32", { dtype: "F32", shape: [2, 2], data: new Float32Array([0.5, -1, 3.25, 1e-7]) }],
    ["a.i64", { dtype: "I64", shape: [3], data: new BigInt64Array([0n, -5n, 2n ** 62n]) }],
    ["m.f16", { dtype: "F16", shape: [1], data: new Float16Array([-2.5]) }],
    ["m.bf16", { dtype: "BF16", shape: [2], data: new Uint16Array([0x3f80, 0xc000]) }],
    ["m.f64", { dtype: "F64", shape: [], data: new Float64Array([Math.PI]) }],
    ["m.i32", { dtype: "I32", shape: [1, 1], data: new Int32Array([-7]) }],
    ["m.i16", { dtype: "I16", shape: [1], data: new Int16Array([300]) }],
    ["m.i8", { dtype: "I8", shape: [1], data: new Int8Array([-1]) }],
    ["m.u8", { dtype: "U8", shape: [1], data: new Uint8Array([250]) }],
    ["m.bool", { dtype: "BOOL", shape: [2], data: new Uint8Array([1, 0]) }],
    ["m.empty", { dtype: "F32", shape: [0, 4], data: new Float32Array(0) }],
  ]);
}

Deno.test("`writeSafetensors()` output pads the header to 8 bytes, orders keys like the reference and reads back", async () => {
  const dir = await Deno.makeTempDir();
  const path = `${dir}/model.safetensors`;
  await writeSafetensors(path, sample(), { format: "pt" });
  const bytes = await Deno.readFile(path);
  const n = Number(new DataView(bytes.buffer).getBigUint64(0, true));
  assertEquals((8 + n) % 8, 0);
  const header = new TextDecoder().decode(bytes.subarray(8, 8 + n));
  assert(header.startsWith('{"__metadata__":{"format":"pt"}'), header);
  // Reference order: descending dtype alignment (I64, F64, F32, I32, BF16, F16, I16, I8, U8, BOOL), then name.
  const info = JSON.parse(header);
  assertEquals(Object.keys(info).slice(1), [
    "a.i64",
    "m.f64",
    "m.empty",
    "z.f32",
    "m.i32",
    "m.bf16",
    "m.f16",
    "m.i16",
    "m.i8",
    "m.u8",
    "m.bool",
  ]);
  const itemsize: Record<string, number> = { I64: 8, F64: 8, F32: 4, I32: 4, BF16: 2, F16: 2, I16: 2 };
  for (
    const [k, v] of Object.entries(info).slice(1) as [string, { dtype: string; data_offsets: number[] }][]
  ) {
    assertEquals((8 + n + v.data_offsets[0]) % (itemsize[v.dtype] ?? 1), 0, `${k} is unaligned`);
  }
  assertEquals(safetensorsMetadata(bytes, path), { format: "pt" });
  const back = await readSafetensors(path);
  for (const [k, t] of sample()) {
    assertEquals(back.get(k)!.dtype, t.dtype, k);
    assertEquals(back.get(k)!.shape, t.shape, k);
    assertEquals([...back.get(k)!.data as ArrayLike<unknown> as unknown[]], [
      ...t.data as ArrayLike<unknown> as unknown[],
    ], k);
  }
  await Deno.remove(dir, { recursive: true });
});

/** u64 LE length + header text + trailing bytes, for the reference vectors below. */
function vector(n: number, header: string, tail: number[] = []): Uint8Array {
  return Uint8Array.from([n, 0, 0, 0, 0, 0, 0, 0, ...new TextEncoder().encode(header), ...tail]);
}

Deno.test("`serializeSafetensors()` reproduces the byte vectors of the safetensors crate's own tests", () => {
  const f32 = [...new Uint8Array(new Float32Array([0, 1, 2, 3, 4, 5]).buffer)];
  const t = (shape: number[]) => ({
    dtype: "F32" as const,
    shape,
    data: new Float32Array([0, 1, 2, 3, 4, 5]),
  });
  // test_serialization: a 64-byte header needs no padding.
  assertEquals(
    serializeSafetensors(new Map([["attn.0", t([1, 2, 3])]])),
    vector(64, '{"attn.0":{"dtype":"F32","shape":[1,2,3],"data_offsets":[0,24]}}', f32),
  );
  // test_serialization_forced_alignement: 65 bytes + 7 spaces.
  assertEquals(
    serializeSafetensors(new Map([["attn0", t([1, 1, 2, 3])]])),
    vector(72, '{"attn0":{"dtype":"F32","shape":[1,1,2,3],"data_offsets":[0,24]}}       ', f32),
  );
  // test_empty, without and with metadata.
  assertEquals(serializeSafetensors(new Map()), vector(8, "{}      "));
  assertEquals(
    serializeSafetensors(new Map(), { framework: "pt" }),
    vector(40, '{"__metadata__":{"framework":"pt"}}     '),
  );
});

Deno.test("`serializeSafetensors()` refuses data whose class or length does not fit its dtype/shape", () => {
  const bad = (t: unknown) => new Map([["w", t]]) as StateDict;
  expectInputError(
    () => serializeSafetensors(bad({ dtype: "F32", shape: [3], data: new Float32Array(2) }), {}, "o"),
    "o",
    "elements",
  );
  expectInputError(
    () => serializeSafetensors(bad({ dtype: "F32", shape: [2], data: new Float64Array(2) }), {}, "o"),
    "o",
    "Float32Array",
  );
  expectInputError(
    () => serializeSafetensors(bad({ dtype: "F8", shape: [2], data: new Uint8Array(2) }), {}, "o"),
    "o",
    "dtype",
  );
});

const python = PYTHON;
const pythonReason = await requireTool("numpy");
reportSkip("the Python/numpy safetensors cross-check", pythonReason);

/** An independent reader written from the spec in Python/numpy; prints {name: [dtype, shape, values]}. */
const PY_READER = `
import json, struct, sys, numpy as np
b = open(sys.argv[1], "rb").read()
(n,) = struct.unpack("<Q", b[:8])
assert (8 + n) % 8 == 0 and b[8:8 + n].decode().endswith(("}", " "))
h = json.loads(b[8:8 + n])
meta = h.pop("__metadata__", {})
np_dtype = {"F32": "<f4", "F16": "<f2", "F64": "<f8", "I64": "<i8", "I32": "<i4", "I16": "<i2", "I8": "i1",
            "U8": "u1", "BOOL": "?", "BF16": "<u2"}
out, pos = {}, 0
for k, v in sorted(h.items(), key=lambda kv: kv[1]["data_offsets"][0]):
    s, e = v["data_offsets"]
    assert s == pos; pos = e
    a = np.frombuffer(b[8 + n + s:8 + n + e], dtype=np_dtype[v["dtype"]]).reshape(v["shape"])
    if v["dtype"] == "BF16": a = (a.astype("<u4") << 16).view("<f4")
    vals = [str(x) if v["dtype"] == "I64" else float(x) for x in a.reshape(-1).tolist()]
    out[k] = [v["dtype"], list(a.shape), vals]
assert 8 + n + pos == len(b)
print(json.dumps({"meta": meta, "tensors": out}))
`;

Deno.test({
  name: "`writeSafetensors()` output is read by an independent Python/numpy reader",
  ignore: pythonReason !== null,
  fn: async () => {
    const dir = await Deno.makeTempDir();
    const path = `${dir}/model.safetensors`;
    await writeSafetensors(path, sample(), { format: "pt", note: "é" });
    const r = await new Deno.Command(python, { args: ["-c", PY_READER, path], stderr: "inherit" }).output();
    assert(r.success, "python reader failed");
    const got = JSON.parse(new TextDecoder().decode(r.stdout));
    assertEquals(got.meta, { format: "pt", note: "é" });
    const want: Record<string, unknown> = {
      "z.f32": ["F32", [2, 2], [0.5, -1, 3.25, Math.fround(1e-7)]],
      "a.i64": ["I64", [3], ["0", "-5", String(2n ** 62n)]],
      "m.f16": ["F16", [1], [-2.5]],
      "m.bf16": ["BF16", [2], [1, -2]],
      "m.f64": ["F64", [], [Math.PI]],
      "m.i32": ["I32", [1, 1], [-7]],
      "m.i16": ["I16", [1], [300]],
      "m.i8": ["I8", [1], [-1]],
      "m.u8": ["U8", [1], [250]],
      "m.bool": ["BOOL", [2], [1, 0]],
      "m.empty": ["F32", [0, 4], []],
    };
    assertEquals(got.tensors, want);
    await Deno.remove(dir, { recursive: true });
  },
});

/** Build safetensors bytes by hand: a header (object or raw text), data, and optionally a forged length. */
function build(header: unknown, data: Uint8Array, forgedLength?: bigint): Uint8Array {
  const h = header instanceof Uint8Array
    ? header
    : new TextEncoder().encode(typeof header === "string" ? header : JSON.stringify(header));
  const out = new Uint8Array(8 + h.length + data.length);
  new DataView(out.buffer).setBigUint64(0, forgedLength ?? BigInt(h.length), true);
  out.set(h, 8);
  out.set(data, 8 + h.length);
  return out;
}

const F = "hostile.safetensors";
const entry = (dtype: unknown, shape: unknown, offsets: unknown) => ({ dtype, shape, data_offsets: offsets });

Deno.test("`parseSafetensors()` refuses hostile headers with one InputError naming file and key", () => {
  const d8 = new Uint8Array(8);
  const cases: [Uint8Array, string][] = [
    [new Uint8Array(5), "too short"],
    [build({}, d8, 2n ** 40n), "exceeds the 100000000-byte limit"],
    [build({}, d8, 1000n), "runs past the end of the file"],
    [build("{not json", d8), "not valid UTF-8 JSON"],
    [build(new Uint8Array([0x7b, 0xff, 0x7d]), d8), "not valid UTF-8 JSON"],
    [build("[1, 2]", d8), "not a JSON object"],
    [build({ w: 5 }, d8), "[w]: tensor entry is not an object"],
    [build({ w: entry("F8_E4M3", [8], [0, 8]) }, d8), 'unsupported dtype "F8_E4M3"'],
    [build({ w: entry("F32", [-2], [0, 8]) }, d8), "not a list of non-negative integers"],
    [build({ w: entry("F32", [1.5], [0, 8]) }, d8), "not a list of non-negative integers"],
    [build({ w: entry("F32", "2", [0, 8]) }, d8), "not a list of non-negative integers"],
    [build({ w: entry("F32", [2], [0]) }, d8), "not a pair"],
    [build({ w: entry("F32", [0], [8, 0]) }, d8), "end before they begin"],
    [build({ w: entry("F32", [3], [0, 8]) }, d8), "needs 12 bytes but data_offsets [0, 8] span 8"],
    [build({ w: entry("F32", [2 ** 30, 2 ** 30, 2 ** 30], [0, 8]) }, d8), "span 8"],
    [build({ w: entry("F32", [4], [0, 16]) }, d8), "run past the end of the data block"],
    [build({ w: entry("F32", [2], [0, 8]), v: entry("F32", [1], [4, 8]) }, d8), "overlap"],
    [build({ w: entry("F32", [1], [4, 8]) }, d8), "leave a gap"],
    [build({ w: entry("F32", [1], [0, 4]) }, d8), "tensors cover 4 bytes but the data block holds 8"],
    [build({ __metadata__: { a: 1 }, w: entry("F32", [2], [0, 8]) }, d8), "__metadata__"],
    [build({ __metadata__: [], w: entry("F32", [2], [0, 8]) }, d8), "__metadata__"],
    [
      build(`{"w":{"dtype":"F32","shape":${"[".repeat(5000)}${"]".repeat(5000)},"data_offsets":[0,8]}}`, d8),
      "shape",
    ],
  ];
  for (const [bytes, fragment] of cases) expectInputError(() => parseSafetensors(bytes, F), F, fragment);
});

Deno.test("`readSafetensors()` names the missing file and refuses a truncated fixture", async () => {
  await readSafetensors("/nonexistent/model.safetensors").then(
    () => assert(false),
    (e) => assertInputError(e, "/nonexistent/model.safetensors", "file not found"),
  );
  const bytes = await Deno.readFile(fixturePath("hand_written.safetensors"));
  for (const cut of [0, 7, 8, 40, bytes.length - 1]) {
    expectInputError(() => parseSafetensors(bytes.subarray(0, cut), F), F);
  }
});

Deno.test("`parseSafetensors()` fuzz: 600 seeded bit flips/truncations give InputError or a load", async () => {
  const rand = seededRandom(20240531);
  const fixtures = [
    await Deno.readFile(fixturePath("hand_written.safetensors")),
    await Deno.readFile(fixturePath("unaligned.safetensors")),
  ];
  let failures = 0;
  for (let i = 0; i < 600; i++) {
    const src = fixtures[i % 2];
    const n = Number(new DataView(src.buffer).getBigUint64(0, true));
    const mode = rand();
    const bytes = mode < 0.15
      ? src.subarray(0, Math.floor(rand() * src.length))
      : mode < 0.3
      ? flipBits(src, rand, 0, 8)
      : flipBits(src, rand, 8, 8 + n);
    try {
      parseSafetensors(bytes, F);
    } catch (e) {
      failures++;
      if (!(e instanceof InputError)) throw e;
      assertInputError(e, F);
    }
  }
  assert(failures > 300, `only ${failures} of 600 mutations were refused`);
});
