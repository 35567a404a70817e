/**
 * Make text taken from an input file safe to show inside a one-line error message: control
 * characters (C0, DEL, C1), line and paragraph separators, bidirectional overrides and lone
 * surrogates become `\xNN` / `\uNNNN` escapes, so a hostile file cannot break the message over
 * several lines, recolour the terminal or reorder what the user reads; long text is shortened.
 *
 * @example
 * ```ts
 * import { printable } from "./printable.ts";
 * console.log(printable("bad\nname\u001b[31m")); // bad\x0aname\x1b[31m
 * ```
 * @module
 */

import { InputError, type InputLocation } from "../errors.ts";

const UNSAFE =
  // deno-lint-ignore no-control-regex -- these are exactly the characters to escape
  /[\u0000-\u001f\u007f-\u009f\u2028\u2029\u200e\u200f\u202a-\u202e\u2066-\u2069\ufeff]|[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/g;

/** `text` with unsafe characters escaped and at most `max` characters kept (then "..."). */
export function printable(text: string, max = 200): string {
  const short = text.length > max ? text.slice(0, max) + "..." : text;
  return short.replace(UNSAFE, (c) => {
    const code = c.charCodeAt(0);
    return code < 0x100
      ? `\\x${code.toString(16).padStart(2, "0")}`
      : `\\u${code.toString(16).padStart(4, "0")}`;
  });
}

/**
 * An {@link InputError} whose detail and key are {@link printable}: use it for every message that
 * may quote the input (tensor names, archive entry names, JSON parser messages, fields).
 */
export function inputError(detail: string, location: InputLocation = {}): InputError {
  const loc = location.key === undefined ? location : { ...location, key: printable(location.key) };
  return new InputError(printable(detail, 1000), loc);
}
