import { strictEqual } from "node:assert/strict";
import { inputError, printable, terminalText } from "./printable.ts";

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

Deno.test("`terminalText()` removes escape sequences whole and every control but TAB, keeping ordinary text", () => {
  strictEqual(terminalText("a \u001b[1;31mred\u001b[0m cat"), "a red cat", "SGR colours");
  strictEqual(terminalText("x\u001b]0;pwned title\u0007y"), "xy", "OSC window title ended by BEL");
  strictEqual(
    terminalText("\u001b]8;;http://evil\u001b\\link\u001b]8;;\u001b\\"),
    "link",
    "OSC 8 hyperlink, ST",
  );
  strictEqual(terminalText("up\u001b[2Aclear\u001b[2J\u009b31mc1"), "upclearc1", "cursor, erase, C1 CSI");
  strictEqual(
    terminalText("bell\u0007 nul\u0000 cr\r lf\n del\u007f nel\u0085 tab\tok"),
    "bell nul cr lf del nel tab\tok",
  );
  strictEqual(terminalText("\u202eevil\u202c \u2028x"), "evil x", "bidi override, line separator");
  strictEqual(terminalText("caf\u00e9 \u4e2d \ud83d\ude00 \u00a0"), "caf\u00e9 \u4e2d \ud83d\ude00 \u00a0");
  strictEqual(terminalText("\u001bc"), "", "ESC c (full reset)");
});
