/**
 * One error type for every bad input the toolkit meets (a broken checkpoint, a malformed data
 * line, an unknown flag). The CLI prints `error.message` alone, with no stack trace, and exits 1.
 *
 * @example
 * ```ts
 * import { InputError } from "./errors.ts";
 * const e = new InputError("score is not a number", { file: "sts-dev.csv", line: 3 });
 * console.log(e.message); // "sts-dev.csv:3: score is not a number"
 * ```
 * @module
 */

/** Where in an input the problem is. Every field is optional; the message shows those present. */
export interface InputLocation {
  /** The file (or folder) that was being read. */
  file?: string;
  /** 1-based line number in a text file. */
  line?: number;
  /** Tensor or JSON key. */
  key?: string;
  /** Byte offset in a binary file. */
  offset?: number;
}

/** A clean, typed error for bad input: names the file, and the line, key or byte offset. */
export class InputError extends Error {
  /** Where the problem is (the message starts with it). */
  readonly location: InputLocation;
  /** `detail` is what is wrong; the message is the location, then `detail`. */
  constructor(detail: string, location: InputLocation = {}) {
    super(formatLocation(location) + detail);
    this.name = "InputError";
    this.location = location;
  }
}

function formatLocation(loc: InputLocation): string {
  let where = loc.file ?? "";
  if (loc.line !== undefined) where += `:${loc.line}`;
  if (loc.key !== undefined) where += `${where ? " " : ""}[${loc.key}]`;
  if (loc.offset !== undefined) where += `${where ? " " : ""}@byte ${loc.offset}`;
  return where ? `${where}: ` : "";
}
