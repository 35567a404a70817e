/**
 * A streaming tar reader (POSIX ustar, pax and GNU formats, as Python's `tarfile` and GNU tar
 * write them): it walks the headers of an archive read from any byte source and hands each
 * member's data to a sink in chunks, so a 90 MB archive is never held in memory.
 *
 * Understood: regular files (`0`, NUL, `7`), directories (`5`), symbolic and hard links (`2`, `1`),
 * pax extended headers (`x`: `path`, `linkpath`, `size`; `g` is read and ignored) and GNU long
 * names (`L`, `K`); other types (devices, FIFOs, sparse files) come back as `"other"`. Sizes may
 * be octal or GNU base-256. Every header checksum is verified, metadata records are bounded
 * (1 MiB), and a truncated archive is an error naming the member and offset. The reader makes no
 * decision about names: {@link ./safe_path.ts} and the unpacker do.
 *
 * @example
 * ```ts
 * import { readTar } from "./tar_reader.ts";
 * const file = await Deno.open("testdata/fetch/senteval_mini.tar");
 * await readTar(file, "senteval_mini.tar", (e) => {
 *   console.log(e.type, e.name, e.size);
 *   return undefined; // skip the data (or return { write(chunk) {…}, end() {…} })
 * });
 * file.close();
 * ```
 * @module
 */
import { FetchError } from "./fetch_error.ts";

/** Anything with `read(buffer)`: a `Deno.FsFile`, or an in-memory reader. */
export interface ByteSource {
  read(p: Uint8Array): Promise<number | null>;
}

/** One member, with its name after pax / GNU long-name records (not yet checked for safety). */
export interface TarEntry {
  name: string;
  type: "file" | "dir" | "symlink" | "hardlink" | "other";
  /** The raw type flag character ("0", "5", "2", …; "\0" shown as "0"). */
  typeflag: string;
  size: number;
  linkname: string;
  /** Byte offset of the member's header in the archive. */
  headerOffset: number;
}

/** Receives a member's data chunk by chunk (chunks are reused: copy what you keep), then `end()`. */
export interface EntrySink {
  write(chunk: Uint8Array): Promise<void> | void;
  /** Called once all of the member's data has been written. */
  end?(): Promise<void> | void;
}

export interface TarReadOptions {
  /** Stop with an error after this many members (default 1,000,000). */
  maxEntries?: number;
}

const BLOCK = 512;
const MAX_META = 1 << 20;

function archiveError(archive: string, detail: string): FetchError {
  return new FetchError("archive", detail, { file: archive });
}

/** Buffered reads from a {@link ByteSource} with an offset counter. */
class Input {
  private buf = new Uint8Array(1 << 16);
  private start = 0;
  private end = 0;
  offset = 0;
  constructor(private readonly src: ByteSource) {}

  private async fill(): Promise<boolean> {
    if (this.start < this.end) return true;
    const n = await this.src.read(this.buf);
    if (n === null || n === 0) return false;
    this.start = 0;
    this.end = n;
    return true;
  }

  /** Exactly `n` bytes (a fresh copy), or null at a clean end of input before the first byte. */
  async readExact(n: number): Promise<Uint8Array | null> {
    const out = new Uint8Array(n);
    let got = 0;
    while (got < n) {
      if (!(await this.fill())) {
        if (got === 0) return null;
        throw new RangeError(`needed ${n} bytes, input ended after ${got}`);
      }
      const take = Math.min(n - got, this.end - this.start);
      out.set(this.buf.subarray(this.start, this.start + take), got);
      this.start += take;
      got += take;
      this.offset += take;
    }
    return out;
  }

  /** Pass `n` bytes to `sink` (or drop them); false if the input ended first. */
  async pipe(n: number, sink: EntrySink | undefined): Promise<boolean> {
    let left = n;
    while (left > 0) {
      if (!(await this.fill())) return false;
      const take = Math.min(left, this.end - this.start);
      if (sink) await sink.write(this.buf.subarray(this.start, this.start + take));
      this.start += take;
      left -= take;
      this.offset += take;
    }
    return true;
  }
}

const utf8 = new TextDecoder("utf-8", { fatal: true });

function cstring(b: Uint8Array, from: number, len: number): Uint8Array {
  const field = b.subarray(from, from + len);
  const nul = field.indexOf(0);
  return nul < 0 ? field : field.subarray(0, nul);
}

function text(bytes: Uint8Array, archive: string, what: string, offset: number): string {
  try {
    return utf8.decode(bytes);
  } catch {
    throw archiveError(archive, `${what} at byte ${offset} is not valid UTF-8`);
  }
}

/** An octal field (NUL/space padded), or GNU base-256 when the top bit of the first byte is set. */
function numeric(
  b: Uint8Array,
  from: number,
  len: number,
  archive: string,
  what: string,
  offset: number,
): number {
  const f = b.subarray(from, from + len);
  if (f[0] & 0x80) {
    if (f[0] !== 0x80) {
      throw archiveError(archive, `negative or huge ${what} in the header at byte ${offset}`);
    }
    let v = 0;
    for (let i = 1; i < f.length; i++) v = v * 256 + f[i];
    if (!Number.isSafeInteger(v)) {
      throw archiveError(archive, `${what} too large in the header at byte ${offset}`);
    }
    return v;
  }
  const s = new TextDecoder().decode(f).replace(/[\0 ]+$/, "").replace(/^ +/, "");
  if (s === "") return 0;
  if (!/^[0-7]+$/.test(s)) {
    throw archiveError(archive, `bad ${what} field ${JSON.stringify(s)} in the header at byte ${offset}`);
  }
  return parseInt(s, 8);
}

function checksumOk(h: Uint8Array, stored: number): boolean {
  let unsigned = 0, signed = 0;
  for (let i = 0; i < BLOCK; i++) {
    const b = i >= 148 && i < 156 ? 0x20 : h[i];
    unsigned += b;
    signed += b > 127 ? b - 256 : b;
  }
  return stored === unsigned || stored === signed;
}

/** Parse pax records `"<len> <key>=<value>\n"`. */
function paxRecords(data: Uint8Array, archive: string, offset: number): Map<string, string> {
  const out = new Map<string, string>();
  let p = 0;
  while (p < data.length) {
    if (data[p] === 0) break;
    let sp = p;
    while (sp < data.length && data[sp] !== 0x20) sp++;
    const len = Number(new TextDecoder().decode(data.subarray(p, sp)));
    if (!Number.isInteger(len) || len <= sp - p || p + len > data.length || data[p + len - 1] !== 0x0a) {
      throw archiveError(archive, `malformed pax record in the header at byte ${offset}`);
    }
    const rec = text(data.subarray(sp + 1, p + len - 1), archive, "pax record", offset);
    const eq = rec.indexOf("=");
    if (eq <= 0) throw archiveError(archive, `malformed pax record in the header at byte ${offset}`);
    out.set(rec.slice(0, eq), rec.slice(eq + 1));
    p += len;
  }
  return out;
}

/**
 * Walk the archive, calling `onEntry` for each member; the sink it returns (if any) gets the data.
 * Throws {@link FetchError} (`archive`) for a corrupt or truncated archive.
 */
export async function readTar(
  source: ByteSource,
  archive: string,
  onEntry: (entry: TarEntry) => Promise<EntrySink | undefined> | EntrySink | undefined,
  opts: TarReadOptions = {},
): Promise<number> {
  const input = new Input(source);
  const maxEntries = opts.maxEntries ?? 1_000_000;
  let count = 0;
  let pax = new Map<string, string>();
  let longName: string | undefined;
  let longLink: string | undefined;
  let sawAny = false;
  while (true) {
    const at = input.offset;
    let h: Uint8Array | null;
    try {
      h = await input.readExact(BLOCK);
    } catch {
      throw archiveError(archive, `truncated archive: a header at byte ${at} is cut short`);
    }
    if (h === null) {
      if (!sawAny) throw archiveError(archive, "empty file, not a tar archive");
      if (longName !== undefined || pax.size > 0) {
        throw archiveError(archive, `truncated archive: ends after an extended header (byte ${at})`);
      }
      return count; // no end-of-archive blocks; accept, as GNU tar does (with a warning there)
    }
    sawAny = true;
    if (h.every((b) => b === 0)) return count; // end-of-archive marker
    const stored = numeric(h, 148, 8, archive, "checksum", at);
    if (!checksumOk(h, stored)) {
      throw archiveError(
        archive,
        `header checksum mismatch at byte ${at} (corrupt download, or not a tar file)`,
      );
    }
    const typeflag = h[156] === 0 ? "0" : String.fromCharCode(h[156]);
    let size = numeric(h, 124, 12, archive, "size", at);
    const magic = new TextDecoder().decode(h.subarray(257, 263));
    const ustar = magic === "ustar\0";
    if (typeflag === "x" || typeflag === "g" || typeflag === "L" || typeflag === "K") {
      if (size > MAX_META) {
        throw archiveError(archive, `extended header of ${size} bytes at byte ${at} (max 1 MiB)`);
      }
      let data: Uint8Array | null;
      try {
        data = await input.readExact(Math.ceil(size / BLOCK) * BLOCK);
      } catch {
        data = null;
      }
      if (data === null && size > 0) {
        throw archiveError(archive, `truncated archive: the extended header at byte ${at} is cut short`);
      }
      const body = (data ?? new Uint8Array(0)).subarray(0, size);
      if (typeflag === "x") pax = paxRecords(body, archive, at);
      else if (typeflag === "g") paxRecords(body, archive, at); // validated, not applied
      else {
        const name = text(cstring(body, 0, body.length), archive, "GNU long name", at);
        if (typeflag === "L") longName = name;
        else longLink = name;
      }
      continue;
    }
    if (++count > maxEntries) throw archiveError(archive, `more than ${maxEntries} members`);
    let name = text(cstring(h, 0, 100), archive, "member name", at);
    if (ustar) {
      const prefix = text(cstring(h, 345, 155), archive, "member name prefix", at);
      if (prefix) name = `${prefix}/${name}`;
    }
    let linkname = text(cstring(h, 157, 100), archive, "link name", at);
    if (longName !== undefined) name = longName;
    if (longLink !== undefined) linkname = longLink;
    if (pax.has("path")) name = pax.get("path")!;
    if (pax.has("linkpath")) linkname = pax.get("linkpath")!;
    if (pax.has("size")) {
      const s = pax.get("size")!;
      if (!/^\d+$/.test(s) || !Number.isSafeInteger(Number(s))) {
        throw archiveError(archive, `bad pax size ${JSON.stringify(s)} at byte ${at}`);
      }
      size = Number(s);
    }
    pax = new Map();
    longName = longLink = undefined;
    const type: TarEntry["type"] = typeflag === "0" || typeflag === "7"
      ? "file"
      : typeflag === "5"
      ? "dir"
      : typeflag === "2"
      ? "symlink"
      : typeflag === "1"
      ? "hardlink"
      : "other";
    // Whatever the type, the declared size of data follows the header; only files' data reaches a sink.
    const dataSize = size;
    const entry: TarEntry = { name, type, typeflag, size: dataSize, linkname, headerOffset: at };
    const sink = type === "file" ? await onEntry(entry) : (await onEntry(entry), undefined);
    if (!(await input.pipe(dataSize, sink))) {
      throw archiveError(
        archive,
        `truncated archive: member ${JSON.stringify(name)} (header at byte ${at}) needs ${dataSize} bytes ` +
          `but the file ends at byte ${input.offset}`,
      );
    }
    await sink?.end?.();
    const pad = (BLOCK - (dataSize % BLOCK)) % BLOCK;
    if (pad > 0 && !(await input.pipe(pad, undefined))) {
      throw archiveError(
        archive,
        `truncated archive: padding after member ${JSON.stringify(name)} is cut short`,
      );
    }
  }
}
