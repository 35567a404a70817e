/**
 * Read a SimCSE `--train_file` (docs/SIMCSE.md §e.1, §e.2, §a.2) into rows of sentences.
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
 *   Records end at LF, CRLF or a lone CR outside quotes (so a file mixing them still splits
 *   right). Deviations, where pandas would silently produce wrong sentences: every row must have
 *   exactly as many fields as the header (pandas fills short rows with NaN), text after a closing
 *   quote (`"a"b`, pandas glues `ab`) and a quote that never closes (pandas swallows the rest of
 *   the file) are errors (Python's `csv` with `strict=True` does the same); pandas' other NA
 *   strings ("NA", "null", "nan", ...) stay text.
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

import { inputError } from "../runtime/printable.ts";
import { firstInvalidUtf8 } from "../runtime/utf8.ts";

export { firstInvalidUtf8 };

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
  throw inputError(
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
    if (e instanceof Deno.errors.NotFound) throw inputError("training file not found", { file: path });
    if (e instanceof Deno.errors.IsADirectory) {
      throw inputError("is a directory, not a file", { file: path });
    }
    throw inputError(`cannot read training file: ${(e as Error).message}`, { file: path });
  }
  return parseTrainBytes(bytes, path, format);
}

/** Parse the bytes of a training file; `path` is used for messages (and the format if not given). */
export function parseTrainBytes(
  bytes: Uint8Array,
  path: string,
  format: TrainFileFormat = trainFileFormat(path),
): TrainExamples {
  if (bytes.length === 0) throw inputError("training file is empty", { file: path });
  const text = decodeUtf8Strict(bytes, path);
  if (text.length === 0) {
    throw inputError("training file is empty (only a byte-order mark)", { file: path });
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
 * The Chinese `senteval_cn` `.data` layout (`s1 TAB s2 TAB label`, no header, no quoting; docs/SIMCSE.md
 * §d.3): unsupervised training uses the first column only, as SimCSE-jittor did.
 */
function parseSentevalCn(text: string, file: string): TrainExamples {
  const lines = text.split(/\r\n|\r|\n/); // LF, CRLF or a lone CR (old Mac files), as for .txt
  if (lines.length > 1 && lines[lines.length - 1] === "") lines.pop();
  const rows: string[][] = [];
  lines.forEach((line, i) => {
    const f = line.split("\t");
    if (f.length !== 3) {
      throw inputError(`expected 3 TAB-separated fields (s1, s2, label), got ${f.length}`, {
        file,
        line: i + 1,
      });
    }
    rows.push([f[0]]);
  });
  return { columns: 1, rows, file, columnNames: ["s1"] };
}

/** One CSV record and the 1-based line it starts on. */
interface CsvRecord {
  fields: string[];
  line: number;
}

/**
 * Split CSV text into records like Python's `csv.reader(..., strict=True)` (and pandas' C parser):
 * fields separated by `delimiter`; records end at LF, CRLF or a lone CR outside quotes; a field
 * that starts with `"` is quoted (`""` inside it is one quote, line breaks are kept); a `"` inside
 * an unquoted field is a literal character; blank lines are skipped. Refused (an
 * {@link InputError} with the line): text after a closing quote (`"a"b`, where pandas would
 * silently glue `ab`), and a quoted field that never closes (where pandas would swallow the rest
 * of the file into one field).
 */
export function splitCsv(text: string, delimiter: string, file: string): CsvRecord[] {
  const records: CsvRecord[] = [];
  let fields: string[] = [];
  let field = "";
  let line = 1;
  let start = 1;
  let quotedFrom = 0;
  // START = at a field's start, PLAIN = in an unquoted field, QUOTED = in quotes, AFTER = just after a closing quote
  let state: "START" | "PLAIN" | "QUOTED" | "AFTER" = "START";
  const endRecord = () => {
    fields.push(field);
    records.push({ fields, line: start });
    fields = [];
    field = "";
  };
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (state === "QUOTED") {
      if (c === '"') {
        if (text[i + 1] === '"') {
          field += '"';
          i++;
        } else state = "AFTER";
      } else {
        field += c;
        if (c === "\n" || (c === "\r" && text[i + 1] !== "\n")) line++;
      }
      continue;
    }
    if (c === "\n" || c === "\r") {
      if (c === "\r" && text[i + 1] === "\n") i++;
      if (state !== "START" || fields.length > 0) endRecord(); // else a blank line: no record
      state = "START";
      line++;
      start = line;
      continue;
    }
    if (c === delimiter) {
      fields.push(field);
      field = "";
      state = "START";
      continue;
    }
    if (state === "AFTER") {
      throw inputError(
        `malformed ${delimiter === "\t" ? "TSV" : "CSV"}: text after the closing quote of a field ` +
          `(quote the whole field and double the quotes inside it)`,
        { file, line },
      );
    }
    if (state === "START" && c === '"') {
      state = "QUOTED";
      quotedFrom = line;
      continue;
    }
    field += c;
    state = "PLAIN";
  }
  if (state === "QUOTED") {
    throw inputError(
      `malformed ${
        delimiter === "\t" ? "TSV" : "CSV"
      }: the quoted field opened on line ${quotedFrom} never closes`,
      { file, line: quotedFrom },
    );
  }
  if (state !== "START" || fields.length > 0) endRecord();
  return records;
}

function parseDelimited(text: string, file: string, delimiter: string): TrainExamples {
  const records = splitCsv(text, delimiter, file);
  if (records.length === 0) throw inputError("training file has no header row", { file });
  const header = records[0];
  const columnNames = header.fields;
  const n = columnNames.length;
  if (n !== 1 && n !== 2 && n !== 3) {
    throw inputError(
      `header has ${n} columns (${columnNames.slice(0, 8).map((c) => JSON.stringify(c)).join(", ")}); ` +
        `expected 1 (unsupervised), 2 (sent0, sent1) or 3 (sent0, sent1, hard_neg)`,
      { file, line: header.line },
    );
  }
  if (records.length === 1) throw inputError("training file has a header but no data rows", { file });

  const rows = new Array<string[]>(records.length - 1);
  for (let i = 1; i < records.length; i++) {
    const r = records[i];
    if (r.fields.length !== n) {
      throw inputError(
        `row has ${r.fields.length} field${r.fields.length === 1 ? "" : "s"}, the header has ${n} ` +
          `(quote fields that contain ${delimiter === "\t" ? "TABs" : "commas"} or line breaks)`,
        { file, line: r.line },
      );
    }
    rows[i - 1] = r.fields;
  }
  return { columns: n as 1 | 2 | 3, rows, file, columnNames };
}

/** Decode strict UTF-8 (a leading BOM is dropped); on failure name the offset and line of the bad byte. */
export function decodeUtf8Strict(bytes: Uint8Array, file: string): string {
  try {
    return new TextDecoder("utf-8", { fatal: true }).decode(bytes);
  } catch {
    const offset = firstInvalidUtf8(bytes);
    if (offset < 0) throw inputError("invalid UTF-8", { file });
    let line = 1;
    for (let i = 0; i < offset; i++) if (bytes[i] === 0x0a) line++;
    const shown = Array.from(bytes.subarray(offset, offset + 4), (b) => b.toString(16).padStart(2, "0"))
      .join(" ");
    throw inputError(`invalid UTF-8 (bytes ${shown})`, { file, line, offset });
  }
}
