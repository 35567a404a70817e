import { deepStrictEqual as assertEquals, ok as assert, throws } from "node:assert/strict";
import { InputError } from "../runtime/errors.ts";
import { parseVocabTxt } from "./vocab_file.ts";

/** Assert that `fn` throws an InputError whose location and message match. */
function throwsInput(fn: () => unknown, line: number | undefined, pattern: RegExp): void {
  throws(fn, (e: unknown) => {
    assert(e instanceof InputError, `expected InputError, got ${e}`);
    assertEquals(e.location.file, "v/vocab.txt");
    assertEquals(e.location.line, line);
    assert(pattern.test(e.message), e.message);
    return true;
  });
}

Deno.test("`parseVocabTxt()` gives id = line index and ignores one final newline", () => {
  assertEquals(parseVocabTxt("[PAD]\nhello\n##lo\n"), ["[PAD]", "hello", "##lo"]);
  assertEquals(parseVocabTxt("[PAD]\nhello"), ["[PAD]", "hello"]);
});

Deno.test("`parseVocabTxt()` reads CRLF lines like Python/Rust and drops a UTF-8 BOM", () => {
  assertEquals(parseVocabTxt("\uFEFF[PAD]\r\na\r\n##b\r\n"), ["[PAD]", "a", "##b"]);
  const bytes = new Uint8Array([0xef, 0xbb, 0xbf, 0x61, 0x0a, 0x62, 0x0a]);
  assertEquals(parseVocabTxt(bytes), ["a", "b"]);
});

Deno.test("`parseVocabTxt()` keeps U+2028 inside a token (bert-base-chinese ids 343 and 13502)", () => {
  assertEquals(parseVocabTxt("a\n\u2028\n##\u2028\nb\n"), ["a", "\u2028", "##\u2028", "b"]);
});

Deno.test("`parseVocabTxt()` rejects empty files, empty lines, duplicates, stray CR and bad UTF-8", () => {
  const f = "v/vocab.txt";
  throwsInput(() => parseVocabTxt("", f), undefined, /^v\/vocab\.txt: vocab file is empty$/);
  throwsInput(() => parseVocabTxt("\uFEFF", f), undefined, /empty/);
  throwsInput(() => parseVocabTxt("a\n\nb\n", f), 2, /^v\/vocab\.txt:2: empty line \(token id 1\)/);
  throwsInput(() => parseVocabTxt("a\nb\n\n", f), 3, /empty line/);
  throwsInput(
    () => parseVocabTxt("a\nb\nc\nb\n", f),
    4,
    /^v\/vocab\.txt:4: duplicate token "b" \(first on line 2\)/,
  );
  throwsInput(() => parseVocabTxt("a\nb\rc\n", f), 2, /carriage return/);
  const bad = new Uint8Array([0x61, 0x0a, 0x62, 0x0a, 0x63, 0xff, 0x0a]);
  throws(() => parseVocabTxt(bad, f), (e: unknown) => {
    assert(e instanceof InputError);
    assertEquals(e.message, "v/vocab.txt:3 @byte 4: invalid UTF-8");
    return true;
  });
});
