/**
 * Read a SimCSE `--train_file` (SIMCSE-SPEC §e.1, §e.2, §a.2) into rows of sentences.
 *
 * File kinds, chosen like the official `train.py` (by the extension after the last "."):
 *
 * - `.txt` — one sentence per line, like the Hugging Face `datasets` "text" loader (one column,
 *   named `text`). Lines end at `\n`, `\r\n` or a lone `\r` (Python's universal newlines, which
 *   that loader reads with); only the line break is removed, no other whitespace. Empty lines are
 *   kept as `""` rows (the loader keeps them too; SimCSE tokenizes them, see
 *   `batches.ts#tokenizeExamples`). One final line break does not add an empty row.
 * - `.csv` — CSV with a header row (RFC 4180 quoting: `"a, ""b"""`, fields may span lines). The
 *   delimiter is a comma, or a TAB when the path contains `tsv` (as `train.py` does); a `.tsv`
 *   extension also means TAB. The header gives 1 column (unsupervised: the sentence is paired
 *   with itself), 2 (sent0, sent1) or 3 (sent0, sent1, hard negative); columns are used by
 *   position, not by name. Blank lines are skipped (pandas does the same). A `"` inside an
 *   unquoted field is kept as a literal character (as pandas / Python `csv` do). An empty field
 *   is kept as `""` (pandas reads it as NaN → None, which SimCSE turns into " ").
 *   Deviation: every row must have exactly as many fields as the header (pandas silently fills
 *   short rows with NaN), and pandas' other NA strings ("NA", "null", "nan", ...) stay text.
 * - anything else (including `.json`) is an {@link InputError}.
 *
 * Bytes must be valid UTF-8 (else an {@link InputError} with the byte offset and line of the
 * first bad sequence). A UTF-8 byte-order mark at the start is removed (Python's "utf-8" codec
 * would keep U+FEFF in the first sentence; BERT's tokenizer drops it anyway). An empty file, a
 * CSV with a header but no rows, or a row with the wrong number of fields is an
 * {@link InputError} naming the file and line.
 *
 * @example
 * ```ts
 * import { loadTrainFile } from "./train_corpus.ts";
 * const ex = await loadTrainFile("data/wiki1m_for_simcse.txt");
 * console.log(ex.columns, ex.rows.length); // 1 1000000
 * ```
 * @module
 */

import { parse as parseCsv } from "csv-parse/sync";
import { InputError } from "../errors.ts";

/** The sentences of a training file. */
export interface TrainExamples {
  /** 1 = unsupervised (one sentence per example), 2 = pairs, 3 = pairs + hard negative. */
  columns: 1 | 2 | 3;
  /** One row per example, each with exactly `columns` sentences. */
  rows: string[][];
  /** The path that was read (for messages). */
  file: string;
  /** Column names: the CSV header, or `["text"]` for a `.txt` file. */
  columnNames: string[];
}

/** Which parser a path gets. */
export type TrainFileFormat = "text" | "csv" | "tsv" | "senteval_cn";

/**
 * The parser `train.py` would pick for `path`: `.txt` → text; `.csv` → CSV, TAB-separated when the
 * path contains "tsv"; `.tsv` → TAB-separated. Anything else is an {@link InputError}.
 */
export function trainFileFormat(path: string): TrainFileFormat {
  const base = path.split(/[\\/]/).pop() ?? path;
  const dot = base.lastIndexOf(".");
  const ext = dot >= 0 ? base.slice(dot + 1).toLowerCase() : "";
  if (ext === "txt") return "text";
  if (ext === "data") return "senteval_cn";
  if (ext === "tsv") return "tsv";
  if (ext === "csv") return path.includes("tsv") ? "tsv" : "csv";
  throw new InputError(
    `unsupported training file type ${JSON.stringify(ext ? "." + ext : base)}; ` +
      `use .txt (one sentence per line), .csv/.tsv with a header of 1-3 columns, or a Chinese .data file`,
    { file: path },
  );
}

/** Read and parse a training file (see the module doc for the rules). */
export async function loadTrainFile(path: string): Promise<TrainExamples> {
  const format = trainFileFormat(path);
  let bytes: Uint8Array;
  try {
    bytes = await Deno.readFile(path);
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) throw new InputError("training file not found", { file: path });
    if (e instanceof Deno.errors.IsADirectory) {
      throw new InputError("is a directory, not a file", { file: path });
    }
    throw new InputError(`cannot read training file: ${(e as Error).message}`, { file: path });
  }
  return parseTrainBytes(bytes, path, format);
}

/** Parse the bytes of a training file; `path` is used for messages (and the format if not given). */
export function parseTrainBytes(
  bytes: Uint8Array,
  path: string,
  format: TrainFileFormat = trainFileFormat(path),
): TrainExamples {
  if (bytes.length === 0) throw new InputError("training file is empty", { file: path });
  const text = decodeUtf8Strict(bytes, path);
  if (text.length === 0) {
    throw new InputError("training file is empty (only a byte-order mark)", { file: path });
  }
  if (format === "senteval_cn") return parseSentevalCn(text, path);
  return format === "text"
    ? parseTextLines(text, path)
    : parseDelimited(text, path, format === "tsv" ? "\t" : ",");
}

/** One sentence per line; line breaks are `\n`, `\r\n` or `\r`. */
function parseTextLines(text: string, file: string): TrainExamples {
  const lines = text.split(/\r\n|\r|\n/);
  // A final line break ends the last line; it does not start an empty one.
  if (lines.length > 1 && lines[lines.length - 1] === "") lines.pop();
  const rows = new Array<string[]>(lines.length);
  for (let i = 0; i < lines.length; i++) rows[i] = [lines[i]];
  return { columns: 1, rows, file, columnNames: ["text"] };
}

/**
 * The Chinese `senteval_cn` `.data` layout (`s1 TAB s2 TAB label`, no header, no quoting; SIMCSE-SPEC
 * §d.3): unsupervised training uses the first column only, as SimCSE-jittor did.
 */
function parseSentevalCn(text: string, file: string): TrainExamples {
  const lines = text.split(/\r?\n/);
  if (lines.length > 1 && lines[lines.length - 1] === "") lines.pop();
  const rows: string[][] = [];
  lines.forEach((line, i) => {
    const f = line.split("\t");
    if (f.length !== 3) {
      throw new InputError(`expected 3 TAB-separated fields (s1, s2, label), got ${f.length}`, {
        file,
        line: i + 1,
      });
    }
    rows.push([f[0]]);
  });
  return { columns: 1, rows, file, columnNames: ["s1"] };
}

interface CsvRecord {
  record: string[];
  info: { lines: number; empty_lines: number };
}

function parseDelimited(text: string, file: string, delimiter: string): TrainExamples {
  let records: CsvRecord[];
  try {
    records = parseCsv(text, {
      delimiter,
      quote: '"',
      relax_quotes: true,
      relax_column_count: true,
      skip_empty_lines: true,
      info: true,
    }) as unknown as CsvRecord[];
  } catch (e) {
    const err = e as Error & { lines?: number };
    const line = typeof err.lines === "number" && err.lines > 0 ? err.lines : undefined;
    throw new InputError(`malformed ${delimiter === "\t" ? "TSV" : "CSV"}: ${err.message}`, { file, line });
  }
  if (records.length === 0) throw new InputError("training file has no header row", { file });

  // Line where each record starts: one after the previous record's last line, plus blank lines skipped.
  let prevEnd = 0;
  let prevEmpty = 0;
  const startLine = (r: CsvRecord): number => {
    const start = prevEnd + 1 + (r.info.empty_lines - prevEmpty);
    prevEnd = r.info.lines;
    prevEmpty = r.info.empty_lines;
    return start;
  };

  const header = records[0];
  const headerLine = startLine(header);
  const columnNames = header.record;
  const n = columnNames.length;
  if (n !== 1 && n !== 2 && n !== 3) {
    throw new InputError(
      `header has ${n} columns (${columnNames.map((c) => JSON.stringify(c)).join(", ")}); ` +
        `expected 1 (unsupervised), 2 (sent0, sent1) or 3 (sent0, sent1, hard_neg)`,
      { file, line: headerLine },
    );
  }
  if (records.length === 1) throw new InputError("training file has a header but no data rows", { file });

  const rows = new Array<string[]>(records.length - 1);
  for (let i = 1; i < records.length; i++) {
    const r = records[i];
    const line = startLine(r);
    if (r.record.length !== n) {
      throw new InputError(
        `row has ${r.record.length} field${r.record.length === 1 ? "" : "s"}, the header has ${n} ` +
          `(quote fields that contain ${delimiter === "\t" ? "TABs" : "commas"} or line breaks)`,
        { file, line },
      );
    }
    rows[i - 1] = r.record;
  }
  return { columns: n, rows, file, columnNames };
}

/** Decode strict UTF-8 (a leading BOM is dropped); on failure name the offset and line of the bad byte. */
export function decodeUtf8Strict(bytes: Uint8Array, file: string): string {
  try {
    return new TextDecoder("utf-8", { fatal: true }).decode(bytes);
  } catch {
    const offset = firstInvalidUtf8(bytes);
    if (offset < 0) throw new InputError("invalid UTF-8", { file });
    let line = 1;
    for (let i = 0; i < offset; i++) if (bytes[i] === 0x0a) line++;
    const shown = Array.from(bytes.subarray(offset, offset + 4), (b) => b.toString(16).padStart(2, "0"))
      .join(" ");
    throw new InputError(`invalid UTF-8 (bytes ${shown})`, { file, line, offset });
  }
}

/**
 * Byte offset of the first byte of the first ill-formed UTF-8 sequence (Unicode §3.9 table 3-7:
 * no overlong forms, no surrogates, nothing above U+10FFFF, no truncated sequences), or -1.
 */
export function firstInvalidUtf8(b: Uint8Array): number {
  const n = b.length;
  let i = 0;
  while (i < n) {
    const c = b[i];
    if (c < 0x80) {
      i++;
      continue;
    }
    let need: number;
    let lo = 0x80;
    let hi = 0xbf;
    if (c >= 0xc2 && c <= 0xdf) need = 1;
    else if (c >= 0xe0 && c <= 0xef) {
      need = 2;
      if (c === 0xe0) lo = 0xa0;
      else if (c === 0xed) hi = 0x9f;
    } else if (c >= 0xf0 && c <= 0xf4) {
      need = 3;
      if (c === 0xf0) lo = 0x90;
      else if (c === 0xf4) hi = 0x8f;
    } else return i;
    for (let k = 1; k <= need; k++) {
      if (i + k >= n) return i;
      const d = b[i + k];
      if (d < lo || d > hi) return i;
      lo = 0x80;
      hi = 0xbf;
    }
    i += need + 1;
  }
  return -1;
}
