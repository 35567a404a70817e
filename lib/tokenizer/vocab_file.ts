/**
 * Read and validate a BERT `vocab.txt`: one token per line, token id = 0-based line index.
 *
 * Rules (chosen to agree with how Hugging Face reads the file, or to fail loudly where HF would
 * silently produce a broken tokenizer):
 *
 * - lines are split on `\n` only; a trailing `\r` is dropped (CRLF files read like Python's
 *   universal newlines and Rust's `lines()`). U+2028 is NOT a line break: bert-base-chinese has
 *   tokens made of it. A lone `\r` inside a line is an error (Python and Rust disagree on it);
 * - one final `\n` ends the last line, it does not add an empty token;
 * - a UTF-8 byte-order mark at the start is ignored (HF would glue it to the first token);
 * - invalid UTF-8, an empty file, an empty line and a duplicate token are {@link InputError}s
 *   that name the file and line. (On a duplicate, HF silently maps the token to its last line and
 *   leaves the earlier id unreachable; no released BERT vocabulary has duplicates.)
 *
 * @example
 * ```ts
 * import { parseVocabTxt } from "./vocab_file.ts";
 * const tokens = parseVocabTxt("[PAD]\n[UNK]\n[CLS]\n[SEP]\nhello\n", "vocab.txt");
 * console.log(tokens.indexOf("hello")); // 4
 * ```
 * @module
 */

import { inputError } from "../runtime/printable.ts";

/** Parse vocab.txt (text or raw bytes). Returns the tokens in id order. */
export function parseVocabTxt(data: string | Uint8Array, file = "vocab.txt"): string[] {
  const text = typeof data === "string" ? data : decodeUtf8(data, file);
  let body = text.startsWith("\uFEFF") ? text.slice(1) : text;
  if (body.length === 0) throw inputError("vocab file is empty", { file });
  if (body.endsWith("\n")) body = body.slice(0, -1);
  const lines = body.split("\n");
  const seen = new Map<string, number>();
  const tokens = new Array<string>(lines.length);
  for (let i = 0; i < lines.length; i++) {
    let token = lines[i];
    if (token.endsWith("\r")) token = token.slice(0, -1);
    const line = i + 1;
    if (token.includes("\r")) {
      throw inputError("stray carriage return (\\r) inside a token; use \\n or \\r\\n line ends", {
        file,
        line,
      });
    }
    if (token.length === 0) {
      throw inputError(`empty line (token id ${i}); every line must hold one token`, { file, line });
    }
    const first = seen.get(token);
    if (first !== undefined) {
      throw inputError(
        `duplicate token ${JSON.stringify(token)} (first on line ${first + 1}); ids would be ambiguous`,
        { file, line },
      );
    }
    seen.set(token, i);
    tokens[i] = token;
  }
  return tokens;
}

/** Strict UTF-8 decode; on failure, report the first line that holds a bad byte sequence. */
function decodeUtf8(bytes: Uint8Array, file: string): string {
  try {
    return new TextDecoder("utf-8", { fatal: true, ignoreBOM: true }).decode(bytes);
  } catch {
    const decoder = new TextDecoder("utf-8", { fatal: true });
    let start = 0;
    let line = 1;
    while (start <= bytes.length) {
      let end = bytes.indexOf(0x0a, start);
      if (end < 0) end = bytes.length;
      try {
        decoder.decode(bytes.subarray(start, end));
      } catch {
        throw inputError("invalid UTF-8", { file, line, offset: start });
      }
      start = end + 1;
      line++;
    }
    throw inputError("invalid UTF-8", { file });
  }
}
