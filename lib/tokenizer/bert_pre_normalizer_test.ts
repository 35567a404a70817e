import { deepStrictEqual as assertEquals, ok as assert } from "node:assert/strict";
import { preNormalize } from "./bert_pre_normalizer.ts";

const ALL = { cleanText: true, handleChineseChars: true };

Deno.test("`preNormalize()` pads supplementary-plane CJK ideographs (U+20000, U+2B820, U+2F800) with spaces", () => {
  assertEquals(preNormalize("a\u{20000}b\u{2B820}\u{2F800}", ALL), "a \u{20000} b \u{2B820}  \u{2F800} ");
  // U+30000 (Extension G) is outside BERT's ranges; BMP ideographs are left to the library.
  assertEquals(preNormalize("\u{30000}中", ALL), "\u{30000}中");
  assertEquals(preNormalize("a\u{20000}", { cleanText: true, handleChineseChars: false }), "a\u{20000}");
});

Deno.test("`preNormalize()` turns unassigned code points (Cn) into U+0000 only when clean_text is on", () => {
  assertEquals(preNormalize("a\u0378b\u{E0080}", ALL), "a\0b\0");
  assertEquals(preNormalize("a\u0378b", { cleanText: false, handleChineseChars: true }), "a\u0378b");
  // Assigned format/private-use characters are the library's job and stay.
  assertEquals(preNormalize("\u200b\uE000", ALL), "\u200b\uE000");
});

Deno.test("`preNormalize()` returns ASCII text unchanged (same string)", () => {
  const s = "Hello, world! [CLS] \t\n";
  assert(preNormalize(s, ALL) === s);
});
