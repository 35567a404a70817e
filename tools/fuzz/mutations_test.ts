import { deepStrictEqual as assertEquals } from "node:assert/strict";
import fc from "fast-check";
import { applyOps, byteOps, jsonPaths, lineOps, type Op } from "./mutations.ts";

const bytes = (...v: number[]) => Uint8Array.from(v);
const text = (b: Uint8Array) => new TextDecoder().decode(b);
const enc = (s: string) => new TextEncoder().encode(s);

Deno.test("`applyOps()` byte ops follow Python slice semantics (as make_checkpoint_fixtures.py applies them)", () => {
  const b = bytes(0, 1, 2, 3, 4, 5, 6, 7);
  // Python: b = bytearray(range(8)); b[3] ^= 1 << 2 -> 7; del b[1:3]; b[2:2] = b[0:2] (after the del)
  assertEquals([...applyOps(b, [["flip", 3, 2]])], [0, 1, 2, 7, 4, 5, 6, 7]);
  assertEquals([...applyOps(b, [["del", 1, 2]])], [0, 3, 4, 5, 6, 7]);
  assertEquals([...applyOps(b, [["dup", 0, 2, 2]])], [0, 1, 0, 1, 2, 3, 4, 5, 6, 7]);
  assertEquals([...applyOps(b, [["trunc", 3], ["set", 1, 255]])], [0, 255, 2]);
  assertEquals([...applyOps(b, [["ins", 8, [9, 9]]])], [0, 1, 2, 3, 4, 5, 6, 7, 9, 9]);
  assertEquals([...applyOps(b, [["del", 6, 100]])], [0, 1, 2, 3, 4, 5]); // slices clamp
  assertEquals(
    [...applyOps(b, [["u32", 1, 0x04030201]])],
    [0, 1, 2, 3, 4, 5, 6, 7].map((v, i) => i >= 1 && i < 5 ? i : v),
  );
  assertEquals([...applyOps(b, [["u64", 0, "18446744073709551615"]])], new Array(8).fill(255));
  assertEquals([...b], [0, 1, 2, 3, 4, 5, 6, 7], "the input is not modified");
});

Deno.test("`applyOps()` line ops edit lines and TAB fields of raw bytes, keeping the final newline", () => {
  const t = enc("a\tb\nc\td\n");
  assertEquals(text(applyOps(t, [["line", "del", 0]])), "c\td\n");
  assertEquals(text(applyOps(t, [["line", "dup", 1]])), "a\tb\nc\td\nc\td\n");
  assertEquals(text(applyOps(t, [["line", "blank", 0]])), "\nc\td\n");
  assertEquals(text(applyOps(t, [["swap", 0, 1]])), "c\td\na\tb\n");
  assertEquals(text(applyOps(t, [["field", 1, 1, "x y"]])), "a\tb\nc\tx y\n");
  assertEquals(text(applyOps(t, [["addfield", 0, "z"]])), "a\tb\tz\nc\td\n");
  assertEquals(text(applyOps(t, [["delfield", 0, 0]])), "b\nc\td\n");
  assertEquals(text(applyOps(t, [["eol", "crlf"]])), "a\tb\r\nc\td\r\n");
  assertEquals(text(applyOps(t, [["eol", "cr"]])), "a\tb\rc\td\r");
  assertEquals(text(applyOps(t, [["eol", "chop"]])), "a\tb\nc\td");
  assertEquals([...applyOps(enc("x"), [["bom"]])], [0xef, 0xbb, 0xbf, 0x78]);
  assertEquals(text(applyOps(enc("a,b\n"), [["field", 0, 1, "q"]], 0x2c)), "a,q\n");
  // line numbers wrap around the line count
  assertEquals(text(applyOps(t, [["line", "del", 3]])), "a\tb\n"); // 3 mod 2 = line 1
});

Deno.test("`applyOps()` JSON ops set or delete values at existing paths; safetensors edits re-prefix the header", () => {
  const j = enc('{"a": {"b": [1, 2]}, "c": 3}');
  assertEquals(JSON.parse(text(applyOps(j, [["json", ["a", "b", 1], "x"]]))), { a: { b: [1, "x"] }, c: 3 });
  assertEquals(JSON.parse(text(applyOps(j, [["jsondel", ["c"]]]))), { a: { b: [1, 2] } });
  assertEquals(JSON.parse(text(applyOps(j, [["json", ["missing"], 1]]))), { a: { b: [1, 2] }, c: 3 });
  const header = enc('{"w":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}}');
  const st = new Uint8Array(8 + header.length + 4);
  new DataView(st.buffer).setBigUint64(0, BigInt(header.length), true);
  st.set(header, 8);
  st.set([1, 2, 3, 4], 8 + header.length);
  const edited = applyOps(st, [["stjson", ["w", "dtype"], "I32"]]);
  const n = Number(new DataView(edited.buffer).getBigUint64(0, true));
  assertEquals(JSON.parse(text(edited.subarray(8, 8 + n))).w.dtype, "I32");
  assertEquals([...edited.subarray(8 + n)], [1, 2, 3, 4]);
  assertEquals([...applyOps(st, [["stlen", "1"]]).subarray(0, 8)], [1, 0, 0, 0, 0, 0, 0, 0]);
});

Deno.test("`jsonPaths()` lists every nested path breadth first", () => {
  assertEquals(jsonPaths({ a: [1, { b: 2 }], c: null }), [["a"], ["c"], ["a", 0], ["a", 1], ["a", 1, "b"]]);
});

Deno.test("`byteOps()` / `lineOps()` generate 1-4 / 1-3 ops that apply to any input, deterministically per seed", () => {
  const a = fc.sample(byteOps(50, [[0, 10]], [0]), { numRuns: 200, seed: 5 });
  assertEquals(a, fc.sample(byteOps(50, [[0, 10]], [0]), { numRuns: 200, seed: 5 }));
  for (const ops of a) {
    assertEquals(ops.length >= 1 && ops.length <= 4, true);
    applyOps(new Uint8Array(50), ops);
    applyOps(new Uint8Array(0), ops);
  }
  for (const ops of fc.sample(lineOps(5), { numRuns: 200, seed: 6 }) as Op[][]) {
    assertEquals(ops.length >= 1 && ops.length <= 3, true);
    applyOps(enc("a\tb\n"), ops);
    applyOps(new Uint8Array(0), ops);
  }
});
