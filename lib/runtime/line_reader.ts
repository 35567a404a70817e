/**
 * Read a text file line by line without holding it whole: regular files, `/dev/stdin` and pipes
 * (`-` means standard input). Lines end at `\n`, `\r\n` or a lone `\r` (Python's universal
 * newlines), a leading UTF-8 BOM is dropped, the newline ending the last line adds no empty line,
 * and invalid UTF-8 is an {@link InputError} naming the file and line.
 *
 * @example
 * ```ts
 * import { readLines } from "./line_reader.ts";
 * const dir = await Deno.makeTempDir();
 * await Deno.writeTextFile(`${dir}/a.txt`, "one\rtwo\r\nthree\n");
 * for await (const line of readLines(`${dir}/a.txt`)) console.log(line); // one, two, three
 * ```
 * @module
 */
import { inputError } from "./printable.ts";
import { describeIoError } from "../checkpoint/read_input.ts";

/** Bytes read per call. */
const CHUNK = 1 << 16;

/** Open `path` for reading (`-` is standard input), or an InputError naming it. */
async function openInput(path: string): Promise<{ file: Deno.FsFile | typeof Deno.stdin; close(): void }> {
  if (path === "-") return { file: Deno.stdin, close: () => {} };
  try {
    const f = await Deno.open(path);
    const info = await f.stat();
    if (info.isDirectory) {
      f.close();
      throw new Deno.errors.IsADirectory(path);
    }
    return { file: f, close: () => f.close() };
  } catch (e) {
    throw inputError(describeIoError(e), { file: path });
  }
}

/** The lines of `path` as they arrive (see the module doc for the rules). */
export async function* readLines(path: string): AsyncGenerator<string> {
  const { file, close } = await openInput(path);
  // Line breaks are found in the bytes (0x0a and 0x0d never occur inside a UTF-8 sequence), then each
  // line is decoded on its own, so an error names its line.
  const decoder = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true });
  let parts: Uint8Array[] = []; // bytes of the line being read, from earlier chunks
  let lineNo = 0; // lines yielded so far
  let pendingCR = false; // the last byte seen was \r: a \n right after it belongs to it
  const decode = (bytes: Uint8Array[]): string => {
    let all: Uint8Array;
    if (bytes.length === 1) all = bytes[0];
    else {
      all = new Uint8Array(bytes.reduce((n, b) => n + b.length, 0));
      let off = 0;
      for (const b of bytes) {
        all.set(b, off);
        off += b.length;
      }
    }
    if (lineNo === 0 && all[0] === 0xef && all[1] === 0xbb && all[2] === 0xbf) all = all.subarray(3);
    try {
      return decoder.decode(all);
    } catch {
      throw inputError("file is not valid UTF-8 text", { file: path, line: lineNo + 1 });
    }
  };
  try {
    while (true) {
      const buf = new Uint8Array(CHUNK);
      let n: number | null;
      try {
        n = await file.read(buf);
      } catch (e) {
        throw inputError(describeIoError(e), { file: path });
      }
      if (n === null) break;
      let start = 0;
      if (pendingCR && n > 0) {
        if (buf[0] === 10) start = 1;
        pendingCR = false;
      }
      for (let i = start; i < n; i++) {
        const c = buf[i];
        if (c !== 10 && c !== 13) continue;
        parts.push(buf.subarray(start, i));
        const line = decode(parts);
        parts = [];
        lineNo++;
        yield line;
        if (c === 13) {
          if (i + 1 < n) {
            if (buf[i + 1] === 10) i++;
          } else {
            pendingCR = true;
          }
        }
        start = i + 1;
      }
      if (start < n) parts.push(buf.subarray(start, n));
    }
    if (parts.length > 0) {
      const line = decode(parts);
      if (line !== "" || lineNo > 0) yield line; // a file holding only a BOM has no line
    }
  } finally {
    close();
  }
}

/**
 * How many lines {@link readLines} would give for a regular file, counted over the bytes (for a
 * progress bar's total); null for standard input, pipes and other streams, which can be read once.
 */
export async function countLines(path: string): Promise<number | null> {
  if (path === "-") return null;
  let f: Deno.FsFile | undefined;
  try {
    f = await Deno.open(path);
    if (!(await f.stat()).isFile) return null;
    const buf = new Uint8Array(CHUNK);
    let lines = 0, last = -1; // last byte seen (-1: none)
    let pendingCR = false;
    while (true) {
      const n = await f.read(buf);
      if (n === null) break;
      for (let i = 0; i < n; i++) {
        const b = buf[i];
        if (b === 10) {
          if (!pendingCR) lines++;
          pendingCR = false;
        } else if (b === 13) {
          lines++;
          pendingCR = true;
        } else {
          pendingCR = false;
        }
      }
      if (n > 0) last = buf[n - 1];
    }
    if (last !== -1 && last !== 10 && last !== 13) lines++; // an unterminated last line
    return lines;
  } catch {
    return null;
  } finally {
    f?.close();
  }
}
