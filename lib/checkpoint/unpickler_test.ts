import { deepStrictEqual as assertEquals, ok as assert } from "node:assert/strict";
import { expectInputError, loadExpected } from "./test_fixtures.ts";
import { type PyValue, unpickle } from "./unpickler.ts";

const expected = await loadExpected();
const F = "test.pkl";

function fromHex(hex: string): Uint8Array {
  return Uint8Array.from(hex.match(/../g) ?? [], (h) => parseInt(h, 16));
}

/** The JSON form `reference/make_checkpoint_fixtures.py` writes (tuples, big ints, -0.0 and dicts tagged). */
function toJson(v: PyValue): unknown {
  if (typeof v === "bigint") return { int: v.toString() };
  if (Object.is(v, -0)) return { float: "-0.0" };
  if (Array.isArray(v)) return Object.isFrozen(v) ? { tuple: v.map(toJson) } : v.map(toJson);
  if (v instanceof Map) return { dict: [...v].map(([k, x]) => [toJson(k), toJson(x)]) };
  return v;
}

const orderedDict = (m: string, n: string): PyValue => {
  if (`${m}.${n}` !== "collections.OrderedDict") throw new Error(`refusing pickle global ${m}.${n}`);
  return { kind: "callable", name: "OrderedDict", call: () => new Map() };
};

Deno.test("`unpickle()` decodes Python's protocol-2 pickles of plain values", () => {
  assert(expected.pickles.length > 20);
  for (const { hex, value } of expected.pickles) {
    assertEquals(toJson(unpickle(fromHex(hex), { file: F, findGlobal: orderedDict })), value, hex);
  }
});

Deno.test("`unpickle()` keeps shared references shared (BINGET returns the same list)", () => {
  const shared = expected.pickles.find((p) => JSON.stringify(p.value) === "[[1,2],[1,2]]")!;
  const v = unpickle(fromHex(shared.hex), { file: F }) as PyValue[][];
  assert(v[0] === v[1]);
});

Deno.test("`unpickle()` refuses globals by name unless allowed", () => {
  const od = expected.pickles.find((p) => JSON.stringify(p.value).startsWith('{"dict":[["x"'))!;
  expectInputError(
    () => unpickle(fromHex(od.hex), { file: F }),
    F,
    "refusing pickle global collections.OrderedDict",
  );
  // GLOBAL 'os system', then a string, TUPLE1, REDUCE, STOP
  const evil = new Uint8Array([
    0x80,
    2,
    ...new TextEncoder().encode("cos\nsystem\nX\x02\x00\x00\x00ls\x85R."),
  ]);
  expectInputError(
    () => unpickle(evil, { file: F, key: "a/data.pkl" }),
    F,
    "a/data.pkl] @byte 2: refusing pickle global os.system",
  );
  expectInputError(() => unpickle(evil, { file: F, findGlobal: orderedDict }), F, "os.system");
});

Deno.test("`unpickle()` turns malformed pickles into InputErrors at the opcode", () => {
  const cases: [number[], string][] = [
    [[0x80, 2, 0x4b], "truncated pickle"],
    [[0x80, 2, 0x58, 0xff, 0xff, 0xff, 0x7f, 0x61], "truncated pickle"],
    [[0x80, 2, 0x58, 2, 0, 0, 0, 0xc3, 0x28, 0x2e], "not valid UTF-8"],
    [[0x80, 2, 0x30, 0x2e], "unsupported pickle opcode 0x30"],
    [[0x80, 2, 0x85, 0x2e], "stack underflow"],
    [[0x80, 2, 0x28, 0x85, 0x2e], "stack underflow"],
    [[0x80, 2, 0x74, 0x2e], "needs a MARK"],
    [[0x80, 2, 0x68, 7, 0x2e], "memo index 7 was never stored"],
    [[0x80, 2, 0x4e], "ends without a STOP"],
    [[0x80, 2, 0x4e, 0x4e, 0x2e], "malformed stack"],
    [[0x80, 2, 0x29, 0x4b, 1, 0x61, 0x2e], "APPEND target is not a list"],
    [[0x80, 2, 0x5d, 0x4b, 1, 0x4b, 2, 0x73, 0x2e], "SETITEM target is not a dict"],
    [[0x80, 2, 0x29, 0x29, 0x52, 0x2e], "REDUCE target is not an allowed callable"],
    [[0x80, 2, 0x5d, 0x7d, 0x62, 0x2e], "BUILD is only allowed"],
    [[0x80, 2, 0x4e, 0x51, 0x2e], "persistent ids are not allowed"],
    [[0x80, 9, 0x2e], "unsupported pickle protocol 9"],
    [[0x80, 2, 0x63, 0x61, 0x61, 0x2e], "GLOBAL name"],
  ];
  for (const [bytes, fragment] of cases) {
    expectInputError(() => unpickle(Uint8Array.from(bytes), { file: F }), F, fragment);
  }
});

Deno.test("`unpickle()` refuses memory and CPU bombs: too many stack/memo entries, unhashable keys", async () => {
  const { MAX_PICKLE_ITEMS, unpickleFrom } = await import("./unpickler.ts");
  assert(MAX_PICKLE_ITEMS >= 100_000);
  // 2000 x EMPTY_LIST then STOP: more stack entries than a cap of 1000
  const bomb = Uint8Array.from([0x80, 2, ...new Array(2000).fill(0x5d), 0x2e]);
  expectInputError(() => unpickle(bomb, { file: F, maxItems: 1000 }), F, "exceeds 1000 stack/memo entries");
  // {[]: 1}: EMPTY_DICT EMPTY_LIST BININT1 1 SETITEM STOP
  expectInputError(
    () => unpickle(Uint8Array.of(0x80, 2, 0x7d, 0x5d, 0x4b, 1, 0x73, 0x2e), { file: F }),
    F,
    "unhashable dict key",
  );
  // a tuple key is fine: {(1,): 2}
  const d = unpickle(Uint8Array.of(0x80, 2, 0x7d, 0x4b, 1, 0x85, 0x4b, 2, 0x73, 0x2e), { file: F }) as Map<
    PyValue,
    PyValue
  >;
  assertEquals([...d.values()], [2]);
  // a GLOBAL name line longer than 256 bytes is refused without scanning the rest of the input
  const long = Uint8Array.from([0x80, 2, 0x63, ...new Array(300).fill(0x61), 0x0a, 0x61, 0x0a, 0x2e]);
  expectInputError(
    () => unpickle(long, { file: F }),
    F,
    "GLOBAL name is not a short newline-terminated line",
  );
  // several pickles in a row: each ends at its STOP
  const two = Uint8Array.of(0x80, 2, 0x4b, 7, 0x2e, 0x80, 2, 0x4b, 8, 0x2e);
  const first = unpickleFrom(two, 0, { file: F });
  assertEquals([first.value, first.end, unpickleFrom(two, first.end, { file: F }).value], [7, 5, 8]);
});
