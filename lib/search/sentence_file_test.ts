import { deepStrictEqual, rejects } from "node:assert/strict";
import { readSentenceFile, splitSentenceLines } from "./sentence_file.ts";
import { InputError } from "../runtime/errors.ts";

Deno.test("`splitSentenceLines()` reads lines like Python's `[l.rstrip() for l in open(f)]`", () => {
  // Universal newlines (\n, \r\n, \r), right-strip only, empty lines kept, no extra line after the final newline.
  deepStrictEqual(splitSentenceLines("\ufeff  a man .  \r\n\nb\tc\t\rlast"), [
    "  a man .",
    "",
    "b\tc",
    "last",
  ]);
  deepStrictEqual(splitSentenceLines("one\n"), ["one"]);
  deepStrictEqual(splitSentenceLines("one\n\n"), ["one", ""]);
  deepStrictEqual(splitSentenceLines(""), []);
  deepStrictEqual(splitSentenceLines("x\u3000\u00a0\n"), ["x"]); // Python's isspace() covers these
});

Deno.test("`readSentenceFile()` gives InputError naming the file when it is missing or empty", async () => {
  const dir = await Deno.makeTempDir();
  await Deno.writeTextFile(`${dir}/empty.txt`, "");
  await rejects(
    readSentenceFile(`${dir}/empty.txt`),
    (e) => e instanceof InputError && /empty\.txt/.test(e.message),
  );
  await rejects(
    readSentenceFile(`${dir}/missing.txt`),
    (e) => e instanceof InputError && /missing\.txt/.test(e.message),
  );
  await Deno.writeTextFile(`${dir}/s.txt`, "a\nb\n");
  deepStrictEqual(await readSentenceFile(`${dir}/s.txt`), ["a", "b"]);
  // The same lines as splitSentenceLines() gives for the whole text (BOM, \r, \r\n, trailing spaces).
  const text = "\ufeff  a man .  \r\n\nb\tc\t\rlast\u3000";
  await Deno.writeTextFile(`${dir}/t.txt`, text);
  deepStrictEqual(await readSentenceFile(`${dir}/t.txt`), splitSentenceLines(text));
  await Deno.remove(dir, { recursive: true });
});
