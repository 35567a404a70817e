/**
 * Download one URL to one file, resumably and verifiably:
 *
 * - Bytes go to `<dest>.part`; only a complete, verified file is renamed to `dest` (an atomic move on
 *   the same file system), so an interrupted download never leaves a file that looks complete.
 * - A later attempt resumes the `.part` file with `Range: bytes=<size>-`. A server that ignores the
 *   Range header (200 instead of 206) makes the download restart from byte 0; a wrong
 *   `Content-Range` too. `416` with the full size means the `.part` file was already complete.
 * - Integrity: the size (from `X-Linked-Size`, `Content-Length` or `Content-Range`) and, when known,
 *   the sha256 (published by the hub as `X-Linked-Etag`, or recorded in `fetch.lock.json`) and the
 *   hub's git blob sha1 `ETag` of small files. A mismatch deletes the `.part` file (resuming it
 *   could never succeed) and fails with both values.
 * - A server that declares no size at all (no `X-Linked-Size`, `Content-Length` or `Content-Range`
 *   total, and none known from a HEAD or the lock file) is read up to `maxBytes` only: beyond it the
 *   `.part` file is deleted and the download fails, so a hostile or broken server cannot fill the disk.
 * - Network failures (refused connections, a connection cut mid-file, no data for `stallTimeoutMs`,
 *   408/429/5xx) are retried `retries` times with backoff, each retry resuming; then they fail with
 *   a {@link FetchError} that names the URL and how many bytes the `.part` file keeps.
 *
 * `probe(url)` asks the server (HEAD, following same-host redirects the way `huggingface_hub`
 * does) for the size and hashes it publishes, without downloading.
 *
 * @example
 * ```ts
 * import { downloadFile } from "./download.ts";
 * const dir = await Deno.makeTempDir();
 * await downloadFile("http://127.0.0.1:8000/config.json", `${dir}/config.json`, { progress: false })
 *   .catch((e) => console.log(e.message));
 * ```
 * @module
 */
import { FetchError } from "./fetch_error.ts";
import { hashFileInto, newSha256 } from "./file_hash.ts";
import { ByteProgress, type ProgressSink } from "./byte_progress.ts";
import { gitBlobSha1File } from "./file_hash.ts";

/** What a server publishes about a file (all optional). */
export interface RemoteInfo {
  /** Size in bytes: `X-Linked-Size`, else `Content-Length` of an uncompressed 200 response. */
  size?: number;
  /** Hex sha256 from `X-Linked-Etag` (or a 64-hex `ETag`). */
  sha256?: string;
  /** Hex git blob sha1 (a 40-hex `ETag`, trusted only from a hub, i.e. with `X-Repo-Commit`). */
  gitSha1?: string;
  /** The commit the hub resolved the revision to (`X-Repo-Commit`). */
  commit?: string;
}

/** What the downloaded bytes must match. */
export interface Expected {
  size?: number;
  sha256?: string;
  /** Where `sha256` came from, for the error message (e.g. "published by the server"). */
  sha256Source?: string;
  gitSha1?: string;
}

/** Options shared by {@link probe} and {@link downloadFile}. */
export interface RequestOptions {
  /** `fetch` to use (tests inject misbehaviour through a real local server instead). */
  fetchFn?: typeof fetch;
  /** Abort when no byte arrives for this long (default 60 s). */
  stallTimeoutMs?: number;
}

export interface DownloadOptions extends RequestOptions {
  expected?: Expected;
  /** Progress bar sink; `false` for none (default: stderr). */
  progress?: ProgressSink | false;
  /** Label of the progress bar (default: the file name). */
  label?: string;
  /** Retries after a retryable failure (default 3), each resuming the `.part` file. */
  retries?: number;
  /** Delay before the first retry, doubled each time (default 1000 ms). */
  retryDelayMs?: number;
  /** Notes such as "resuming at …" or "server ignored Range" (default: stderr). */
  log?: (line: string) => void;
  /**
   * The most bytes to accept when the size is declared nowhere (default: unlimited); see the module
   * doc. `maxBytesWhat` names the kind of file in the error (e.g. "a .json file of a model").
   */
  maxBytes?: number;
  maxBytesWhat?: string;
}

export interface DownloadResult {
  size: number;
  sha256: string;
  /** Bytes already in `.part` when the successful attempt started (0: a fresh download). */
  resumedFrom: number;
  /** Times the download restarted from 0 because the server ignored Range (or sent a bad one). */
  restarts: number;
  /** Attempts used (1 = no retry). */
  attempts: number;
  /** Which published hashes were checked. */
  checked: { size: boolean; sha256: boolean; gitSha1: boolean };
}

const HEX64 = /^[0-9a-f]{64}$/;
const HEX40 = /^[0-9a-f]{40}$/;

function cleanEtag(v: string | null): string | undefined {
  if (!v) return undefined;
  return v.replace(/^W\//, "").replace(/^"|"$/g, "").toLowerCase();
}

function parseSize(v: string | null): number | undefined {
  if (v === null || !/^\d+$/.test(v.trim())) return undefined;
  const n = Number(v.trim());
  return Number.isSafeInteger(n) ? n : undefined;
}

/** Read the published size and hashes from response headers. */
export function remoteInfoFromHeaders(h: Headers, status = 200): RemoteInfo {
  const info: RemoteInfo = {};
  const commit = h.get("x-repo-commit") ?? undefined;
  if (commit) info.commit = commit;
  const linkedSize = parseSize(h.get("x-linked-size"));
  const encoded = (h.get("content-encoding") ?? "identity") !== "identity";
  if (linkedSize !== undefined) info.size = linkedSize;
  else if (status === 200 && !encoded) {
    const len = parseSize(h.get("content-length"));
    if (len !== undefined) info.size = len;
  }
  const linked = cleanEtag(h.get("x-linked-etag"));
  const etag = cleanEtag(h.get("etag"));
  if (linked && HEX64.test(linked)) info.sha256 = linked;
  else if (etag && HEX64.test(etag)) info.sha256 = etag;
  else if (etag && HEX40.test(etag) && commit && !linked) info.gitSha1 = etag;
  return info;
}

function describe(e: unknown): string {
  if (e instanceof DOMException && e.name === "AbortError") return "no data received in time";
  const err = e as Error;
  const msg = String((err?.cause as Error | undefined)?.message ?? err?.message ?? e);
  // Deno repeats the URL ("error sending request for url (…): client error (Connect): …"); keep the cause.
  return msg.replace(/^error sending request for url \([^)]*\):\s*/, "").replace(
    /^client error \(Connect\):\s*/,
    "",
  );
}

/** A timer that aborts `controller` unless `poke()`d within `ms`. */
function stallGuard(ms: number): { signal: AbortSignal; poke(): void; stop(): void } {
  const controller = new AbortController();
  let timer = setTimeout(() => controller.abort(), ms);
  return {
    signal: controller.signal,
    poke() {
      clearTimeout(timer);
      timer = setTimeout(() => controller.abort(), ms);
    },
    stop() {
      clearTimeout(timer);
    },
  };
}

function httpError(url: string, res: Response): FetchError {
  const s = res.status;
  let hint = "";
  if (s === 404) {
    hint = " (wrong name or revision? `deno task fetch --list` shows the catalog; try --revision main)";
  }
  if (s === 401 || s === 403) {
    hint = " (no such repository, or a private or gated one: this tool sends no token)";
  }
  const said = res.headers.get("x-error-message"); // the hub explains 4xx answers here
  return new FetchError(
    "http",
    `HTTP ${s}${res.statusText ? ` ${res.statusText}` : ""}${said ? ` (${said})` : ""}${hint}`,
    { url, status: s },
  );
}

/**
 * HEAD `url` and return what the server publishes. Same-host redirects are followed (the hub
 * redirects renamed repos that way); a redirect to another host (the hub's CDN for LFS files) is
 * not, and its headers are the answer. Servers without HEAD support give `{}`.
 */
export async function probe(url: string, opts: RequestOptions = {}): Promise<RemoteInfo> {
  const fetchFn = opts.fetchFn ?? fetch;
  let current = url;
  for (let hop = 0; hop < 10; hop++) {
    const guard = stallGuard(opts.stallTimeoutMs ?? 60_000);
    let res: Response;
    try {
      res = await fetchFn(current, {
        method: "HEAD",
        redirect: "manual",
        headers: { "accept-encoding": "identity" },
        signal: guard.signal,
      });
    } catch (e) {
      throw new FetchError("network", `cannot connect: ${describe(e)}`, { url });
    } finally {
      guard.stop();
    }
    await res.body?.cancel();
    if (res.status >= 300 && res.status < 400) {
      const loc = res.headers.get("location");
      const info = remoteInfoFromHeaders(res.headers, res.status);
      if (!loc) return info;
      const next = new URL(loc, current);
      if (next.origin !== new URL(current).origin) return info;
      current = next.href;
      continue;
    }
    if (res.status === 405 || res.status === 501) return {};
    if (!res.ok) throw httpError(url, res);
    return remoteInfoFromHeaders(res.headers, res.status);
  }
  throw new FetchError("http", "too many redirects", { url });
}

async function fileSize(path: string): Promise<number> {
  try {
    return (await Deno.stat(path)).size;
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) return 0;
    throw e;
  }
}

function parseContentRange(v: string | null): { start?: number; total?: number } {
  const m = v?.match(/^bytes\s+(?:(\d+)-\d+|\*)\/(\d+|\*)$/);
  if (!m) return {};
  return {
    start: m[1] === undefined ? undefined : Number(m[1]),
    total: m[2] === "*" ? undefined : Number(m[2]),
  };
}

/** Download `url` to `dest` (see the module doc). Throws {@link FetchError}. */
export async function downloadFile(
  url: string,
  dest: string,
  opts: DownloadOptions = {},
): Promise<DownloadResult> {
  const retries = opts.retries ?? 3;
  const log = opts.log ?? ((l: string) => console.error(l));
  let delay = opts.retryDelayMs ?? 1000;
  let restarts = 0;
  for (let attempt = 1;; attempt++) {
    try {
      const r = await attemptOnce(url, dest, opts, log);
      restarts += r.restarts;
      return { ...r, restarts, attempts: attempt };
    } catch (e) {
      if (!(e instanceof FetchError) || !e.retryable || attempt > retries) throw e;
      log(`${e.detail}; retrying in ${(delay / 1000).toFixed(1)} s (${attempt}/${retries})`);
      await new Promise((r) => setTimeout(r, delay));
      delay *= 2;
    }
  }
}

async function attemptOnce(
  url: string,
  dest: string,
  opts: DownloadOptions,
  log: (l: string) => void,
): Promise<Omit<DownloadResult, "attempts">> {
  const fetchFn = opts.fetchFn ?? fetch;
  const expected = opts.expected ?? {};
  const part = `${dest}.part`;
  const slash = dest.lastIndexOf("/");
  if (slash > 0) await Deno.mkdir(dest.slice(0, slash), { recursive: true });
  let offset = await fileSize(part);
  if (expected.size !== undefined && offset > expected.size) {
    log(`${part} is larger than the expected ${expected.size} bytes; starting over`);
    await Deno.remove(part);
    offset = 0;
  }
  let restarts = 0;
  const guard = stallGuard(opts.stallTimeoutMs ?? 60_000);
  let file: Deno.FsFile | undefined;
  let bar: ByteProgress | undefined;
  let received = 0;
  let total: number | undefined;
  try {
    let res: Response | undefined;
    for (let tries = 0; res === undefined; tries++) {
      const headers: Record<string, string> = { "accept-encoding": "identity" };
      if (offset > 0) headers.range = `bytes=${offset}-`;
      let r: Response;
      try {
        r = await fetchFn(url, { headers, signal: guard.signal });
      } catch (e) {
        throw new FetchError("network", `cannot connect: ${describe(e)}`, { url });
      }
      guard.poke();
      if (r.status === 416 && offset > 0) {
        await r.body?.cancel();
        const cr = parseContentRange(r.headers.get("content-range"));
        if (cr.total === offset) {
          total = offset; // the .part file was already complete
          res = new Response(new Uint8Array(0));
          break;
        }
      } else if (r.status === 206 && offset > 0) {
        const cr = parseContentRange(r.headers.get("content-range"));
        if (cr.start === offset) {
          total = cr.total;
          res = r;
          break;
        }
        await r.body?.cancel();
        log(
          `${url}: the server answered the Range request with Content-Range ` +
            `${JSON.stringify(r.headers.get("content-range"))}; restarting from byte 0`,
        );
      } else if (r.status === 200) {
        if (offset > 0) {
          log(`${url}: the server ignored the Range request (200 instead of 206); restarting from byte 0`);
          restarts++;
          offset = 0;
        }
        if ((r.headers.get("content-encoding") ?? "identity") === "identity") {
          total = parseSize(r.headers.get("content-length"));
        }
        res = r;
        break;
      } else {
        await r.body?.cancel();
        if (r.status === 416 || r.status === 206) {
          // 416 without a matching size, or 206 to a request without Range: drop the part file.
        } else {
          throw httpError(url, r);
        }
      }
      if (tries >= 1) {
        throw new FetchError("http", `unusable answer to a Range request (HTTP ${r.status})`, { url });
      }
      restarts++;
      offset = 0;
    }
    const type = res.headers.get("content-type") ?? "";
    if (/^text\/html/i.test(type) && !/\.html?$/i.test(dest)) {
      await res.body?.cancel();
      throw new FetchError(
        "http",
        "the server sent an HTML page instead of the file (an expired or login-only link?)",
        { url, status: res.status },
      );
    }
    if (expected.size !== undefined && total !== undefined && total !== expected.size) {
      await res.body?.cancel();
      await Deno.remove(part).catch(() => {});
      throw new FetchError(
        "integrity",
        `the server sends ${total} bytes but ${expected.size} were expected; ${part} removed`,
        { url },
      );
    }
    total ??= expected.size;
    file = await Deno.open(part, { write: true, create: true, truncate: offset === 0, append: offset > 0 });
    const hash = newSha256();
    if (offset > 0) {
      const hashed = await hashFileInto(hash, part, offset);
      if (hashed !== offset) throw new FetchError("integrity", `${part} changed while resuming`, { url });
      log(`resuming ${dest} at byte ${offset}${total !== undefined ? ` of ${total}` : ""}`);
    }
    if (opts.progress !== false) {
      bar = new ByteProgress(opts.label ?? dest.slice(slash + 1), total, offset, opts.progress);
    }
    if (res.body) {
      const reader = res.body.getReader();
      try {
        while (true) {
          const { done, value } = await reader.read();
          if (done) break;
          guard.poke();
          let written = 0;
          while (written < value.length) written += await file.write(value.subarray(written));
          hash.update(value);
          received += value.length;
          if (total !== undefined && offset + received > total) {
            throw new FetchError("integrity", `the server sent more than the ${total} bytes it announced`, {
              url,
            });
          }
          if (total === undefined && opts.maxBytes !== undefined && offset + received > opts.maxBytes) {
            file.close();
            file = undefined;
            await Deno.remove(part).catch(() => {});
            throw new FetchError(
              "integrity",
              `the server declared no size and sent more than ${opts.maxBytes} bytes, the most accepted for ` +
                `${opts.maxBytesWhat ?? "this file"}; ${part} removed`,
              { url },
            );
          }
          bar?.update(offset + received);
        }
      } catch (e) {
        await reader.cancel().catch(() => {});
        if (e instanceof FetchError) throw e;
        throw new FetchError(
          "network",
          `connection lost after ${offset + received}${total !== undefined ? ` of ${total}` : ""} bytes ` +
            `(${describe(e)}); ${part} keeps them and the next try resumes`,
          { url },
        );
      }
    }
    await file.syncData();
    file.close();
    file = undefined;
    const size = offset + received;
    if (total !== undefined && size < total) {
      throw new FetchError(
        "network",
        `connection closed after ${size} of ${total} bytes; ${part} keeps them and the next try resumes`,
        { url },
      );
    }
    bar?.finish("done");
    bar = undefined;
    const sha256 = hash.digest("hex");
    const checked = { size: expected.size !== undefined, sha256: false, gitSha1: false };
    const corrupt = async (what: string): Promise<never> => {
      await Deno.remove(part).catch(() => {});
      throw new FetchError("integrity", `${what}; the download was deleted, run the command again`, { url });
    };
    if (expected.size !== undefined && size !== expected.size) {
      await corrupt(`size mismatch: got ${size} bytes, expected ${expected.size}`);
    }
    if (expected.sha256 !== undefined) {
      if (sha256 !== expected.sha256.toLowerCase()) {
        await corrupt(
          `sha256 mismatch: got ${sha256}, expected ${expected.sha256}` +
            (expected.sha256Source ? ` (${expected.sha256Source})` : ""),
        );
      }
      checked.sha256 = true;
    }
    if (expected.gitSha1 !== undefined) {
      const got = await gitBlobSha1File(part);
      if (got !== expected.gitSha1.toLowerCase()) {
        await corrupt(`git blob sha1 mismatch: got ${got}, expected ${expected.gitSha1} (the server's ETag)`);
      }
      checked.gitSha1 = true;
    }
    await Deno.rename(part, dest);
    return { size, sha256, resumedFrom: offset, restarts, checked };
  } finally {
    guard.stop();
    if (file) {
      try {
        file.close();
      } catch { /* already closed */ }
    }
    bar?.finish("interrupted");
  }
}
