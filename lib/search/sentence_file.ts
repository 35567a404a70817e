/**
 * Sentences to index, read the way the official tool's `build_index(path)` reads a file
 * (docs/SIMCSE.md §e.3): one sentence per line (Python universal newlines: `\n`, `\r\n`, `\r`), each
 * line right-stripped of whitespace; empty lines stay (as empty sentences). A leading UTF-8 BOM is
 * dropped. An unreadable or empty file is an {@link InputError} naming it.
 *
 * @example
 * ```ts
 * import { splitSentenceLines } from "./sentence_file.ts";
 * console.log(splitSentenceLines("a man .  \r\nsecond\n")); // ["a man .", "second"]
 * ```
 * @module
 */
import { InputError } from "../runtime/errors.ts";
import { readLines } from "../runtime/line_reader.ts";

/** Whitespace that Python's `str.rstrip()` removes. */
// deno-lint-ignore no-control-regex -- Python's str.isspace() includes the separators \x1c-\x1f
const PY_TRAILING_WS = /[\t\n\v\f\r\x1c-\x1f \x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]+$/;

/** Lines of `text` as Python's `[line.rstrip() for line in open(path)]` gives them. */
export function splitSentenceLines(text: string): string[] {
  if (text.charCodeAt(0) === 0xfeff) text = text.slice(1);
  if (text === "") return [];
  const lines = text.replace(/\r\n?/g, "\n").split("\n");
  if (lines[lines.length - 1] === "") lines.pop(); // the newline ending the last line
  return lines.map((l) => l.replace(PY_TRAILING_WS, ""));
}

/**
 * The sentences of a UTF-8 text file, one per line (at least one), split as {@link splitSentenceLines}
 * does; read as a stream, so `/dev/stdin` and pipes work (`-` is standard input).
 */
export async function readSentenceFile(path: string): Promise<string[]> {
  const lines: string[] = [];
  for await (const line of readLines(path)) lines.push(line.replace(PY_TRAILING_WS, ""));
  if (lines.length === 0) throw new InputError("no sentences (the file is empty)", { file: path });
  return lines;
}
