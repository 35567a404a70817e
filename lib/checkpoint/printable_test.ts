import { strictEqual } from "node:assert/strict";
import { inputError, printable } from "./printable.ts";

Deno.test("`printable()` escapes controls, line separators, bidi overrides and lone surrogates", () => {
  strictEqual(printable("a\nb\r\t\u0000\u001b[31m"), "a\\x0ab\\x0d\\x09\\x00\\x1b[31m");
  strictEqual(printable("\u0085\u2028\u202e\ufeff"), "\\x85\\u2028\\u202e\\ufeff");
  strictEqual(printable("\ud800x\udc00"), "\\ud800x\\udc00");
  strictEqual(printable("caf\u00e9 \u4e2d \ud83d\ude00"), "caf\u00e9 \u4e2d \ud83d\ude00");
  strictEqual(printable("x".repeat(10), 4), "xxxx...");
});

Deno.test("`inputError()` makes the detail and the key printable", () => {
  const e = inputError("bad\nvalue", { file: "f.json", key: "k\u001b" });
  strictEqual(e.message, "f.json [k\\x1b]: bad\\x0avalue");
});
