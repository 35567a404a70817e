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

import { InputError, type InputLocation } from "./errors.ts";

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

/** Terminal escape sequences: CSI (`ESC [` or C1 `\x9b` … final byte), OSC/DCS/PM/APC/SOS strings up to BEL or ST, and two-byte `ESC x`. */
const ESCAPE_SEQUENCE =
  // deno-lint-ignore no-control-regex -- these are exactly the sequences to remove
  /(?:\u001b\[|\u009b)[\u0030-\u003f]*[\u0020-\u002f]*[\u0040-\u007e]?|(?:\u001b[\]PX^_]|[\u0090\u0098\u009d-\u009f])[^\u0007\u001b\u009c]*(?:\u0007|\u001b\\|\u009c)?|\u001b[\u0020-\u007e]?/g;
/** What {@link terminalText} removes besides escape sequences: C0 but TAB, DEL, C1, line separators, bidi controls. */
const TERMINAL_UNSAFE =
  // deno-lint-ignore no-control-regex -- these are exactly the characters to remove
  /[\u0000-\u0008\u000a-\u001f\u007f-\u009f\u2028\u2029\u200e\u200f\u202a-\u202e\u2066-\u2069]/g;

/**
 * `text` (a sentence from an input file or the command line) made safe to print on a terminal:
 * escape sequences (colours, cursor moves, window titles, hyperlinks) are removed whole, then every
 * other control character except TAB (C0, DEL, C1), line separators and bidirectional controls.
 * Unlike {@link printable} nothing is escaped, so ordinary text prints unchanged.
 *
 * @example
 * ```ts
 * import { terminalText } from "./printable.ts";
 * console.log(terminalText("a \u001b[31mred\u001b[0m cat\r")); // "a red cat"
 * ```
 */
export function terminalText(text: string): string {
  return text.replace(ESCAPE_SEQUENCE, "").replace(TERMINAL_UNSAFE, "");
}

/**
 * An {@link InputError} whose detail and key are {@link printable}: use it for every message that
 * may quote the input (tensor names, archive entry names, JSON parser messages, fields).
 */
export function inputError(detail: string, location: InputLocation = {}): InputError {
  const loc = location.key === undefined ? location : { ...location, key: printable(location.key) };
  return new InputError(printable(detail, 1000), loc);
}
