/**
 * The error type of every download failure: a network problem, an HTTP status, a checksum or size
 * mismatch, or an unsafe archive. It is an `InputError`, so the CLI prints it as one clean message
 * (no stack trace) and exits 1; `kind` lets callers decide what to retry or fall back on.
 *
 * @example
 * ```ts
 * import { FetchError } from "./fetch_error.ts";
 * const e = new FetchError("http", "404 Not Found", { url: "http://127.0.0.1:1/x", status: 404 });
 * console.log(e.message); // "http://127.0.0.1:1/x: 404 Not Found"
 * ```
 * @module
 */
import { InputError } from "../runtime/errors.ts";

/** What went wrong: `network` (retryable), `http` (a status), `integrity` (size/sha256), `archive`. */
export type FetchErrorKind = "network" | "http" | "integrity" | "archive";

/** Where the failure happened. */
export interface FetchErrorInfo {
  /** The URL being downloaded (network/http/integrity errors). */
  url?: string;
  /** The HTTP status, for `http` errors. */
  status?: number;
  /** The local file concerned (archives, integrity). */
  file?: string;
}

/** A download or unpack failure; `message` names the URL (or file) and what happened. */
export class FetchError extends InputError {
  readonly kind: FetchErrorKind;
  readonly url?: string;
  readonly status?: number;
  /** The message without the location prefix, for re-wrapping with more context. */
  readonly detail: string;

  constructor(kind: FetchErrorKind, detail: string, info: FetchErrorInfo = {}) {
    super(detail, { file: info.url ?? info.file });
    this.name = "InputError";
    this.kind = kind;
    this.url = info.url;
    this.status = info.status;
    this.detail = detail;
  }

  /** Network errors and server-side statuses (408, 429, 5xx) are worth retrying. */
  get retryable(): boolean {
    if (this.kind === "network") return true;
    return this.kind === "http" && this.status !== undefined &&
      (this.status === 408 || this.status === 429 || this.status >= 500);
  }
}
