/**
 * Embed a text file of any size into a JSONL file (one JSON array of floats per line, in input
 * order) with bounded memory: the input is read line by line, embedded a window of lines at a time,
 * and each window's lines are written as they are made. Nothing is ever held whole, so the output
 * may be far larger than a JS string can be.
 *
 * The lines go to `<output>.partial`, renamed over `<output>` only when complete: an interrupted
 * run leaves the previous output (or none), never a torn one. After each window the partial file is
 * flushed to disk and `<output>.partial.json` records how many lines and bytes are final, a chained
 * sha256 of the input lines consumed, and what made them (model files, pooler, batch size...).
 * `resume` continues from there after checking that all of it matches, so the resumed file is the
 * file an uninterrupted run writes, byte for byte.
 *
 * @example
 * ```ts
 * import { encodeToFile } from "./encode_file.ts";
 * const dir = await Deno.makeTempDir();
 * await Deno.writeTextFile(`${dir}/in.txt`, "a\nbb\n");
 * await encodeToFile({
 *   input: `${dir}/in.txt`,
 *   output: `${dir}/out.jsonl`,
 *   embed: (s) => Promise.resolve(s.map((x) => new Float32Array([x.length]))),
 *   identity: { model: "length" },
 * });
 * console.log(await Deno.readTextFile(`${dir}/out.jsonl`)); // "[1]\n[2]\n"
 * ```
 * @module
 */
import { createHash } from "node:crypto";
import { InputError } from "./errors.ts";
import { countLines, readLines } from "./line_reader.ts";
import { fsyncDir, notRegularKind, writeFileAtomic } from "./atomic_write.ts";
import { checkOutputPath, checkScratchPath } from "./output_path.ts";
import { ProgressBar } from "./progress.ts";
import { embeddingFormat } from "./embedding_formats.ts";

/** Format of the `.partial.json` sidecar. */
const STATE_VERSION = 1;
/** Output text collected before one write call. */
const WRITE_CHUNK = 1 << 20;

export interface EncodeFileOptions {
  /** Text file, one sentence per line (`-` or `/dev/stdin` for standard input). */
  input: string;
  /** The file to write: `.jsonl`, `.npy` or `.safetensors` (`embedding_formats.ts`). */
  output: string;
  /** Embeddings of a list of sentences, one per sentence, in the same order. */
  embed: (sentences: string[]) => Promise<Float32Array[]>;
  /** More files or folders read (the model folder): the output must not be one of them. */
  inputs?: string[];
  /** Whatever determines the embeddings (model files, pooler, options): resume requires it unchanged. */
  identity: Record<string, unknown>;
  /** Sentences embedded and flushed together (default 2048). */
  windowSize?: number;
  /** Continue from `<output>.partial` (an error when there is none, or it belongs to other inputs). */
  resume?: boolean;
  /** Show a progress bar on stderr (default false). */
  progress?: boolean;
  /** Set `stop` to end after the current window, leaving the partial file to resume from. */
  signal?: { stop: boolean };
}

export interface EncodeFileResult {
  /** Lines in the output. */
  lines: number;
  /** Embedding size (0 if no line was written in this call and none recorded). */
  dim: number;
  /** Lines taken over from the partial file (resume), 0 otherwise. */
  resumedLines: number;
  /** False when `signal.stop` ended the run early (the partial file is kept). */
  complete: boolean;
}

/** What the sidecar holds. */
interface PartialState {
  version: number;
  identity: Record<string, unknown>;
  windowSize: number;
  /** Lines and bytes of the partial file that are final. */
  lines: number;
  bytes: number;
  /** Chained sha256 over the windows of input lines consumed so far. */
  inputHash: string;
  dim: number;
}

/** Paths of the partial output and its sidecar. */
export function partialPaths(output: string): { data: string; state: string } {
  return { data: `${output}.partial`, state: `${output}.partial.json` };
}

/** The chained hash after one more window of input lines. */
function chainHash(prev: string, lines: string[]): string {
  const h = createHash("sha256");
  h.update(prev);
  h.update(`${lines.length}\n`);
  for (const l of lines) {
    h.update(l);
    h.update("\n");
  }
  return h.digest("hex");
}

/** Stable JSON (sorted keys) for comparing identities. */
function canonical(v: unknown): string {
  if (v === null || typeof v !== "object") return JSON.stringify(v);
  if (Array.isArray(v)) return `[${v.map(canonical).join(",")}]`;
  const o = v as Record<string, unknown>;
  return `{${Object.keys(o).sort().map((k) => `${JSON.stringify(k)}:${canonical(o[k])}`).join(",")}}`;
}

async function exists(path: string): Promise<boolean> {
  try {
    await Deno.lstat(path);
    return true;
  } catch {
    return false;
  }
}

async function writeAll(f: Deno.FsFile, bytes: Uint8Array): Promise<void> {
  let off = 0;
  while (off < bytes.length) off += await f.write(bytes.subarray(off));
}

/** Read the sidecar and check it belongs to this run, or throw an InputError saying why not. */
async function loadPartial(
  paths: { data: string; state: string },
  want: Omit<PartialState, "lines" | "bytes" | "inputHash" | "dim">,
): Promise<PartialState> {
  let state: PartialState;
  try {
    state = JSON.parse(await Deno.readTextFile(paths.state));
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) {
      throw new InputError("no partial encode to resume (start without --resume)", { file: paths.state });
    }
    throw new InputError("unreadable partial-encode state; start without --resume", { file: paths.state });
  }
  if (
    state?.version !== STATE_VERSION || !Number.isSafeInteger(state.lines) ||
    !Number.isSafeInteger(state.bytes) ||
    typeof state.inputHash !== "string"
  ) {
    throw new InputError("unreadable partial-encode state; start without --resume", { file: paths.state });
  }
  if (canonical(state.identity) !== canonical(want.identity) || state.windowSize !== want.windowSize) {
    const keys = new Set([...Object.keys(state.identity ?? {}), ...Object.keys(want.identity)]);
    const differ = [...keys].filter((k) => canonical(state.identity?.[k]) !== canonical(want.identity[k]));
    if (state.windowSize !== want.windowSize) differ.push("window size");
    throw new InputError(
      `the partial encode was made with a different ${differ.join(", ")}; resume with the same model and ` +
        "flags, or start without --resume",
      { file: paths.state },
    );
  }
  let size: number;
  try {
    size = (await Deno.stat(paths.data)).size;
  } catch {
    throw new InputError("the partial output is missing; start without --resume", { file: paths.data });
  }
  if (size < state.bytes) {
    throw new InputError(
      `the partial output has ${size} bytes, fewer than the ${state.bytes} recorded; start without --resume`,
      { file: paths.data },
    );
  }
  return state;
}

/** Embed `opts.input` into `opts.output` (see the module doc). */
export async function encodeToFile(opts: EncodeFileOptions): Promise<EncodeFileResult> {
  const windowSize = opts.windowSize ?? 2048;
  if (!Number.isSafeInteger(windowSize) || windowSize <= 0) throw new RangeError("windowSize must be > 0");
  const paths = partialPaths(opts.output);
  const inputs = [opts.input === "-" ? "/dev/stdin" : opts.input, ...opts.inputs ?? []];
  await checkOutputPath(opts.output, { flag: "output", inputs });
  for (const p of [paths.data, paths.state]) {
    await checkScratchPath(p);
    await checkOutputPath(p, { flag: "output", inputs });
  }
  const format = embeddingFormat(opts.output);
  let state: PartialState = {
    version: STATE_VERSION,
    identity: opts.identity,
    windowSize,
    lines: 0,
    bytes: format.headerBytes, // a fixed-size header, written for real when the row count is known
    inputHash: "",
    dim: 0,
  };
  if (opts.resume) {
    state = await loadPartial(paths, state);
  } else if (await exists(paths.state) || await exists(paths.data)) {
    console.error(`note: discarding the partial encode at ${paths.data} (--resume would continue it)`);
    await Deno.remove(paths.state).catch(() => {});
  }
  const slash = opts.output.lastIndexOf("/");
  if (slash > 0) await Deno.mkdir(opts.output.slice(0, slash), { recursive: true });
  const out = await Deno.open(paths.data, { write: true, create: true, truncate: !opts.resume });
  let closed = false;
  const close = () => {
    if (!closed) out.close();
    closed = true;
  };
  let lines: AsyncGenerator<string> | undefined;
  try {
    if (opts.resume) await out.truncate(state.bytes);
    else await writeAll(out, format.header(0, 0));
    await out.seek(state.bytes, Deno.SeekMode.Start);

    const total = opts.progress ? await countLines(opts.input) : null;
    const bar = new ProgressBar("encode", total ?? NaN, "sent", undefined, opts.progress ?? false);
    lines = readLines(opts.input);
    const resumedLines = state.lines;

    // Skip what the partial file already holds, checking that it came from the same input lines.
    let skipped = 0, hash = "";
    while (skipped < resumedLines) {
      const window: string[] = [];
      while (window.length < windowSize && skipped + window.length < resumedLines) {
        const r = await lines.next();
        if (r.done) break;
        window.push(r.value);
      }
      if (window.length === 0) break;
      skipped += window.length;
      hash = chainHash(hash, window);
    }
    if (skipped !== resumedLines || hash !== state.inputHash) {
      throw new InputError(
        `this input is not the one the partial encode of ${resumedLines} lines was made from; ` +
          "start without --resume",
        { file: opts.input },
      );
    }
    if (resumedLines > 0) {
      console.error(`resuming after line ${resumedLines} of the partial encode ${paths.data}`);
    }
    if (resumedLines > 0) bar.update(state.lines);

    let done = false;
    while (!done) {
      const window: string[] = [];
      while (window.length < windowSize) {
        const r = await lines.next();
        if (r.done) {
          done = true;
          break;
        }
        window.push(r.value);
      }
      if (window.length === 0) break;
      const vecs = await opts.embed(window);
      if (vecs.length !== window.length) {
        throw new Error(`embed returned ${vecs.length} vectors for ${window.length} sentences`);
      }
      let chunk: Float32Array[] = [], chunkLen = 0, bytes = 0;
      const flushChunk = async () => {
        const b = format.rows(chunk);
        await writeAll(out, b);
        bytes += b.length;
        chunk = [];
        chunkLen = 0;
      };
      for (let i = 0; i < vecs.length; i++) {
        const v = vecs[i];
        if (state.dim === 0) state.dim = v.length;
        if (v.length !== state.dim) {
          throw new Error(`embedding size changed from ${state.dim} to ${v.length}`);
        }
        for (let j = 0; j < v.length; j++) {
          if (!Number.isFinite(v[j])) {
            throw new InputError(
              `the embedding of this line has ${v[j]} values (are the model's weights finite?)`,
              { file: opts.input, line: state.lines + i + 1 },
            );
          }
        }
        chunk.push(v);
        chunkLen += v.length * 12; // about a JSON number's length, more than a float32's 4 bytes
        if (chunkLen >= WRITE_CHUNK) await flushChunk();
      }
      await flushChunk();
      await out.syncData();
      state = {
        ...state,
        lines: state.lines + window.length,
        bytes: state.bytes + bytes,
        inputHash: chainHash(state.inputHash, window),
      };
      await writeFileAtomic(paths.state, JSON.stringify(state) + "\n");
      bar.update(state.lines);
      if (opts.signal?.stop && !done) {
        close();
        await lines.return(undefined);
        return { lines: state.lines, dim: state.dim, resumedLines, complete: false };
      }
    }
    if (state.lines === 0) throw new InputError("no sentences (the file is empty)", { file: opts.input });
    if (opts.progress) bar.finish();
    if (format.headerBytes > 0) {
      await out.seek(0, Deno.SeekMode.Start);
      await writeAll(out, format.header(state.lines, state.dim));
    }
    await out.sync();
    close();
    const target = await Deno.stat(opts.output).catch(() => null);
    const kind = target && notRegularKind(target);
    if (kind) throw new InputError(`is ${kind}; an output must be a regular file`, { file: opts.output });
    await Deno.rename(paths.data, opts.output);
    await fsyncDir(slash > 0 ? opts.output.slice(0, slash) : ".");
    await Deno.remove(paths.state).catch(() => {});
    return { lines: state.lines, dim: state.dim, resumedLines, complete: true };
  } catch (e) {
    close();
    await lines?.return(undefined);
    // A bad input or a wrong resume keeps nothing; any other failure keeps what was flushed.
    if (e instanceof InputError && !opts.resume) {
      await Deno.remove(paths.data).catch(() => {});
      await Deno.remove(paths.state).catch(() => {});
    }
    throw e;
  }
}
