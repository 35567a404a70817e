/**
 * SentEval-exact loaders for the STS evaluation sets (docs/SIMCSE.md §c.2, §d.3; layout in
 * `data/README.md`). Each loader returns `{ s1, s2, gold }` in the order SentEval evaluates them:
 *
 * - STS12–16 (`senteval/STS/STS1x-en-test/STS.{input,gs}.<subset>.txt`): pairs whose gold line
 *   is empty are dropped; each sentence is split on (Python) whitespace and re-joined with one
 *   space; each subset is stably sorted by (tokens of s1, tokens of s2, gold), as `sts.py` does.
 * - STSBenchmark (`sts-{train,dev,test}.csv`): raw TAB split (no CSV quoting), columns 4/5/6,
 *   extra columns ignored, file order (not sorted).
 * - SICKRelatedness (`SICK_{train,trial,test_annotated}.txt`): header skipped, columns 1/2/3,
 *   file order.
 * - Chinese (`zh/{lcqmc,pawsx,stsb}/*.data`, `s1 TAB s2 TAB label`, no header): sentences stay raw
 *   strings (no whitespace split), each split sorted stably by (code points of s1, of s2, label),
 *   as SimCSE-jittor's `chn.py` does.
 *
 * Text decoding mirrors Python's `io.open(..., encoding="utf8")`: strict UTF-8, universal
 * newlines (CRLF and CR become LF). STS12–16 and Chinese files are split like `str.splitlines()`;
 * STS-B and SICK like file iteration (LF only), then `str.strip()`. Deviation: a UTF-8 BOM at the
 * very start of a file is removed (Python's "utf8" codec would keep it); a U+FEFF anywhere else
 * is kept. Scores must be plain, finite decimal numbers (no `nan`/`inf`/`1e999`, unlike Python's `float()`).
 *
 * Every bad input (missing file, wrong column count, non-numeric score, input/gold line-count
 * mismatch, unexpected pair count) throws {@link InputError} naming the file, and the line where
 * there is one.
 *
 * @example
 * ```ts
 * import { loadStsYear, resolveDataDir } from "./sts_data.ts";
 * const sts12 = await loadStsYear(resolveDataDir(), "STS12");
 * console.log(sts12.map((s) => `${s.name}: ${s.gold.length}`)); // MSRpar: 750, ...
 * ```
 * @module
 */

import { inputError } from "../runtime/printable.ts";
import { firstInvalidUtf8 } from "../runtime/utf8.ts";

/** The English STS tasks SimCSE reports, in table order. */
export type StsTask =
  | "STS12"
  | "STS13"
  | "STS14"
  | "STS15"
  | "STS16"
  | "STSBenchmark"
  | "SICKRelatedness";
/** The STS years whose test data is split into named subsets. */
export type StsYear = "STS12" | "STS13" | "STS14" | "STS15" | "STS16";
/** Chinese pair tasks (docs/SIMCSE.md §d.3); STSB-zh is the CNSD translation of STS-B. */
export type ChineseTask = "LCQMC" | "PAWSX" | "STSB-zh";
/** Splits of STSBenchmark / SICKRelatedness (SICK's "dev" is `SICK_trial.txt`). */
export type EnSplit = "train" | "dev" | "test";
/** Splits of the Chinese sets (named as in the `.data` files). */
export type ZhSplit = "train" | "valid" | "test";

/** Sentence pairs with gold scores, aligned by index, in evaluation order. */
export interface PairList {
  /** First sentences, exactly as given to the encoder. */
  s1: string[];
  /** Second sentences, exactly as given to the encoder. */
  s2: string[];
  /** Gold scores (STS 0–5, SICK 1–5, Chinese 0/1 or 0–5). */
  gold: number[];
}

/** One named subset of an STS year (e.g. STS12 MSRpar). */
export interface StsSubset extends PairList {
  name: string;
}

/** Options shared by the loaders. */
export interface LoadOptions {
  /** Check the pair count against the expected SentEval count (default true). */
  checkCounts?: boolean;
}

/** Subsets and pair counts per STS year, in SentEval's order (`sts.py`). */
export const STS_SUBSETS: Readonly<Record<StsYear, ReadonlyArray<readonly [string, number]>>> = {
  STS12: [
    ["MSRpar", 750],
    ["MSRvid", 750],
    ["SMTeuroparl", 459],
    ["surprise.OnWN", 750],
    ["surprise.SMTnews", 399],
  ],
  STS13: [["FNWN", 189], ["headlines", 750], ["OnWN", 561]],
  STS14: [
    ["deft-forum", 450],
    ["deft-news", 300],
    ["headlines", 750],
    ["images", 750],
    ["OnWN", 750],
    ["tweet-news", 750],
  ],
  STS15: [
    ["answers-forums", 375],
    ["answers-students", 750],
    ["belief", 375],
    ["headlines", 750],
    ["images", 750],
  ],
  STS16: [
    ["answer-answer", 254],
    ["headlines", 249],
    ["plagiarism", 230],
    ["postediting", 244],
    ["question-question", 209],
  ],
};

/** Expected pair counts of STSBenchmark and SICKRelatedness per split. */
export const EN_SPLIT_COUNTS: Readonly<Record<"STSBenchmark" | "SICKRelatedness", Record<EnSplit, number>>> =
  {
    STSBenchmark: { train: 5749, dev: 1500, test: 1379 },
    SICKRelatedness: { train: 4500, dev: 500, test: 4927 },
  };

/** Expected pair counts of the Chinese sets (train counts from the published cards). */
export const ZH_SPLIT_COUNTS: Readonly<Record<ChineseTask, Record<ZhSplit, number>>> = {
  LCQMC: { train: 238766, valid: 8802, test: 12500 },
  PAWSX: { train: 49401, valid: 2000, test: 2000 },
  "STSB-zh": { train: 5231, valid: 1458, test: 1361 },
};

const ZH_FILES: Readonly<Record<ChineseTask, string>> = {
  LCQMC: "zh/lcqmc/LCQMC",
  PAWSX: "zh/pawsx/PAWSX",
  "STSB-zh": "zh/stsb/STS-B",
};

const SICK_FILES: Readonly<Record<EnSplit, string>> = {
  train: "SICK_train.txt",
  dev: "SICK_trial.txt",
  test: "SICK_test_annotated.txt",
};

/**
 * The data folder: the `--data-dir` flag if given, else `$SIMCSE_DATA_DIR`, else `data`
 * (relative to the current directory, the repository's default). `getEnv` is for tests.
 */
export function resolveDataDir(
  flag?: string,
  getEnv: (name: string) => string | undefined = readEnv,
): string {
  if (flag) return flag;
  return getEnv("SIMCSE_DATA_DIR") || "data";
}

function readEnv(name: string): string | undefined {
  try {
    return Deno.env.get(name);
  } catch {
    return undefined; // no env permission: fall back to the default
  }
}

/** `dir/rel` with exactly one slash between them. */
export function joinPath(dir: string, rel: string): string {
  return dir === "" ? rel : `${dir.replace(/\/+$/, "")}/${rel}`;
}

// ---------------------------------------------------------------------------------------------
// Python text semantics

/** Characters Python's `str.isspace()` accepts (what `str.split()` and `str.strip()` use). */
const PY_WS =
  "\\t\\n\\v\\f\\r\\x1c-\\x1f \\x85\\xa0\\u1680\\u2000-\\u200a\\u2028\\u2029\\u202f\\u205f\\u3000";
const PY_WS_RUN = new RegExp(`[${PY_WS}]+`);
const PY_WS_EDGES = new RegExp(`^[${PY_WS}]+|[${PY_WS}]+$`, "g");
/** Line boundaries of Python's `str.splitlines()` once CR/CRLF are already turned into LF. */
// deno-lint-ignore no-control-regex -- Python's splitlines() really splits on these controls
const PY_LINE_BREAK = /[\n\v\f\x1c\x1d\x1e\x85\u2028\u2029]/;

/** Python's `s.split()`: split on runs of whitespace, no empty tokens. */
export function pySplit(s: string): string[] {
  return s.split(PY_WS_RUN).filter((t) => t !== "");
}

/** Python's `s.strip()`: remove leading and trailing whitespace. */
export function pyStrip(s: string): string {
  return s.replace(PY_WS_EDGES, "");
}

/** Splits text into lines like Python's `str.splitlines()` (no trailing empty line). */
function pySplitlines(text: string): string[] {
  const lines = text.split(PY_LINE_BREAK);
  if (lines.length > 0 && lines[lines.length - 1] === "") lines.pop();
  return lines;
}

/** Splits text into lines like iterating a Python text file (LF only, after newline translation). */
function fileLines(text: string): string[] {
  const lines = text.split("\n");
  if (lines.length > 0 && lines[lines.length - 1] === "") lines.pop();
  return lines;
}

const DECIMAL = /^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$/;

/** Parses a score like Python's `float()` on plain decimals; undefined if it is not a number. */
function parseScore(field: string): number | undefined {
  const s = pyStrip(field);
  if (!DECIMAL.test(s)) return undefined;
  const x = Number(s);
  return Number.isFinite(x) ? x : undefined; // "1e999" overflows to inf in Python too: refuse it
}

/** Reads a data file as Python's `io.open(path, encoding="utf8")` would see it (see module doc). */
export async function readDataText(path: string): Promise<string> {
  let bytes: Uint8Array;
  try {
    bytes = await Deno.readFile(path);
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) {
      throw inputError(
        "data file not found (pass --data-dir DIR or set SIMCSE_DATA_DIR, or run `deno task fetch senteval`)",
        { file: path },
      );
    }
    throw inputError(`cannot read data file: ${(e as Error).message}`, { file: path });
  }
  return decodeDataText(bytes, path);
}

/**
 * Decode a data file's bytes like Python's `io.open(path, encoding="utf8")`: strict UTF-8 (an
 * {@link InputError} naming the line and byte offset of the first bad sequence), a leading BOM
 * removed, CRLF and CR turned into LF.
 */
export function decodeDataText(bytes: Uint8Array, file: string): string {
  let text: string;
  try {
    text = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true }).decode(bytes);
  } catch {
    const offset = firstInvalidUtf8(bytes);
    let line = 1;
    for (let i = 0; i < offset; i++) if (bytes[i] === 0x0a) line++;
    throw inputError("not valid UTF-8", offset < 0 ? { file } : { file, line, offset });
  }
  if (text.startsWith("\uFEFF")) text = text.slice(1);
  return text.replace(/\r\n?/g, "\n");
}

function checkCount(file: string, found: number, expected: number, opts: LoadOptions): void {
  if ((opts.checkCounts ?? true) && found !== expected) {
    throw inputError(
      `expected ${expected} scored pairs (SentEval count), found ${found}; wrong or truncated file?`,
      { file },
    );
  }
}

function badScore(field: string, file: string, line: number): never {
  throw inputError(`score ${JSON.stringify(field)} is not a number`, { file, line });
}

/** The values a data set's gold scores take: a closed interval, or the labels 0 and 1. */
export interface GoldRange {
  /** What the scores are, for the error message (e.g. "STS gold scores"). */
  what: string;
  min: number;
  max: number;
  /** Only the integers min..max (class labels). */
  labels?: boolean;
}

/** STS12–16 and STS-B (English and Chinese) rate pairs 0–5; SICK relatedness is 1–5; LCQMC/PAWS-X label 0/1. */
export const GOLD_RANGES = {
  sts: { what: "STS gold scores", min: 0, max: 5 },
  sick: { what: "SICK relatedness scores", min: 1, max: 5 },
  binary: { what: "labels", min: 0, max: 1, labels: true },
} as const satisfies Record<string, GoldRange>;

/** A parsed score, refused (file:line) when it lies outside `range`. */
function inRange(
  gold: number,
  field: string,
  range: GoldRange | undefined,
  file: string,
  line: number,
): number {
  if (range === undefined) return gold;
  if (
    range.labels ? !(gold === range.min || gold === range.max) : !(gold >= range.min && gold <= range.max)
  ) {
    const allowed = range.labels ? `${range.min} or ${range.max}` : `in ${range.min}–${range.max}`;
    throw inputError(`score ${JSON.stringify(pyStrip(field))} is not ${allowed} (${range.what})`, {
      file,
      line,
    });
  }
  return gold;
}

// ---------------------------------------------------------------------------------------------
// Loaders

interface SortablePair {
  s1: string;
  s2: string;
  gold: number;
  len1: number;
  len2: number;
}

/** Stable sort by (len1, len2, gold), like Python's `sorted(..., key=lambda z: (...))`. */
function sortPairs(pairs: SortablePair[]): PairList {
  pairs.sort((a, b) =>
    a.len1 - b.len1 || a.len2 - b.len2 || (a.gold < b.gold ? -1 : a.gold > b.gold ? 1 : 0)
  );
  return { s1: pairs.map((p) => p.s1), s2: pairs.map((p) => p.s2), gold: pairs.map((p) => p.gold) };
}

/** Loads one STS12–16 subset (`STS.input.<name>.txt` + `STS.gs.<name>.txt`) in SentEval order. */
export async function loadStsSubset(
  dir: string,
  name: string,
  expected?: number,
  opts: LoadOptions = {},
): Promise<StsSubset> {
  const inputFile = joinPath(dir, `STS.input.${name}.txt`);
  const goldFile = joinPath(dir, `STS.gs.${name}.txt`);
  const inputText = await readDataText(inputFile);
  const goldText = await readDataText(goldFile);
  return parseStsSubset(inputText, goldText, { name, inputFile, goldFile, expected, ...opts });
}

/** Where an STS12–16 subset's text came from, and its expected pair count. */
export interface StsSubsetSource extends LoadOptions {
  name: string;
  inputFile: string;
  goldFile: string;
  expected?: number;
}

/** Parses the (decoded) text of an STS12–16 subset's input and gold files, in SentEval order. */
export function parseStsSubset(inputText: string, goldText: string, src: StsSubsetSource): StsSubset {
  const { name, inputFile, goldFile, expected } = src;
  const inputLines = pySplitlines(inputText);
  const goldLines = pySplitlines(goldText);
  // sts.py parses every input line before it filters on the gold file.
  const fields = inputLines.map((l, i) => {
    const f = l.split("\t");
    if (f.length !== 2) {
      throw inputError(`expected 2 tab-separated fields (sentence1, sentence2), got ${f.length}`, {
        file: inputFile,
        line: i + 1,
      });
    }
    return f;
  });
  if (goldLines.length !== inputLines.length) {
    throw inputError(
      `${goldLines.length} gold lines but ${inputLines.length} lines in STS.input.${name}.txt`,
      { file: goldFile, line: Math.min(goldLines.length, inputLines.length) + 1 },
    );
  }
  const pairs: SortablePair[] = [];
  for (let i = 0; i < goldLines.length; i++) {
    if (goldLines[i] === "") continue; // unscored pair: not part of the evaluation
    const gold = inRange(
      parseScore(goldLines[i]) ?? badScore(goldLines[i], goldFile, i + 1),
      goldLines[i],
      GOLD_RANGES.sts,
      goldFile,
      i + 1,
    );
    const t1 = pySplit(fields[i][0]);
    const t2 = pySplit(fields[i][1]);
    pairs.push({ s1: t1.join(" "), s2: t2.join(" "), gold, len1: t1.length, len2: t2.length });
  }
  if (expected !== undefined) checkCount(goldFile, pairs.length, expected, src);
  return { name, ...sortPairs(pairs) };
}

/** Loads every subset of one STS year, in SentEval's subset order. */
export async function loadStsYear(
  dataDir: string,
  year: StsYear,
  opts: LoadOptions = {},
): Promise<StsSubset[]> {
  const dir = joinPath(dataDir, `senteval/STS/${year}-en-test`);
  const out: StsSubset[] = [];
  for (const [name, count] of STS_SUBSETS[year]) out.push(await loadStsSubset(dir, name, count, opts));
  return out;
}

/** Path of an STSBenchmark split file. */
export function stsBenchmarkFile(dataDir: string, split: EnSplit): string {
  return joinPath(dataDir, `senteval/STS/STSBenchmark/sts-${split}.csv`);
}

/** Path of a SICK split file (dev = `SICK_trial.txt`). */
export function sickFile(dataDir: string, split: EnSplit): string {
  return joinPath(dataDir, `senteval/SICK/${SICK_FILES[split]}`);
}

/** Parses tab-separated lines (strip, split on TAB) into pairs in file order. */
export function parseTabbed(
  file: string,
  text: string,
  skipHeader: boolean,
  cols: { score: number; s1: number; s2: number; min: number },
  range?: GoldRange,
): PairList {
  const lines = fileLines(text);
  const out: PairList = { s1: [], s2: [], gold: [] };
  for (let i = skipHeader ? 1 : 0; i < lines.length; i++) {
    const f = pyStrip(lines[i]).split("\t");
    if (f.length < cols.min) {
      throw inputError(`expected at least ${cols.min} tab-separated fields, got ${f.length}`, {
        file,
        line: i + 1,
      });
    }
    const gold = parseScore(f[cols.score]) ?? badScore(f[cols.score], file, i + 1);
    out.gold.push(inRange(gold, f[cols.score], range, file, i + 1));
    out.s1.push(pySplit(f[cols.s1]).join(" "));
    out.s2.push(pySplit(f[cols.s2]).join(" "));
  }
  return out;
}

/** Loads one STSBenchmark split in file order (columns 4 score, 5 s1, 6 s2; no header). */
export async function loadStsBenchmark(
  dataDir: string,
  split: EnSplit,
  opts: LoadOptions = {},
): Promise<PairList> {
  const file = stsBenchmarkFile(dataDir, split);
  const pairs = parseStsBenchmark(await readDataText(file), file);
  checkCount(file, pairs.gold.length, EN_SPLIT_COUNTS.STSBenchmark[split], opts);
  return pairs;
}

/** Parses the (decoded) text of an STSBenchmark csv: columns 4 score, 5 s1, 6 s2; no header. */
export function parseStsBenchmark(text: string, file: string): PairList {
  return parseTabbed(file, text, false, { score: 4, s1: 5, s2: 6, min: 7 }, GOLD_RANGES.sts);
}

/** Loads one SICK-R split in file order (header skipped; columns 1 s1, 2 s2, 3 relatedness). */
export async function loadSickRelatedness(
  dataDir: string,
  split: EnSplit,
  opts: LoadOptions = {},
): Promise<PairList> {
  const file = sickFile(dataDir, split);
  const pairs = parseSick(await readDataText(file), file);
  checkCount(file, pairs.gold.length, EN_SPLIT_COUNTS.SICKRelatedness[split], opts);
  return pairs;
}

/** Parses the (decoded) text of a SICK file: header skipped; columns 1 s1, 2 s2, 3 relatedness. */
export function parseSick(text: string, file: string): PairList {
  if (text === "") throw inputError("empty file (expected a header line and pairs)", { file });
  return parseTabbed(file, text, true, { score: 3, s1: 1, s2: 2, min: 4 }, GOLD_RANGES.sick);
}

/** Path of a Chinese split file. */
export function chineseFile(dataDir: string, task: ChineseTask, split: ZhSplit): string {
  return joinPath(dataDir, `${ZH_FILES[task]}.${split}.data`);
}

/**
 * Loads one Chinese split: `s1 TAB s2 TAB label` per line, no header, no quoting; sentences kept
 * as raw strings; sorted stably by (code points of s1, code points of s2, label) like `chn.py`.
 */
export async function loadChinese(
  dataDir: string,
  task: ChineseTask,
  split: ZhSplit,
  opts: LoadOptions = {},
): Promise<PairList> {
  const file = chineseFile(dataDir, task, split);
  const range = task === "STSB-zh" ? GOLD_RANGES.sts : { ...GOLD_RANGES.binary, what: `${task} labels` };
  return parseChinese(await readDataText(file), file, ZH_SPLIT_COUNTS[task][split], opts, range);
}

/**
 * Parses the (decoded) text of a Chinese `.data` split (see {@link loadChinese}); with `range`,
 * a label outside it is an error naming the line.
 */
export function parseChinese(
  text: string,
  file: string,
  expected?: number,
  opts: LoadOptions = {},
  range?: GoldRange,
): PairList {
  const lines = pySplitlines(text);
  const pairs: SortablePair[] = lines.map((l, i) => {
    const f = l.split("\t");
    if (f.length !== 3) {
      throw inputError(`expected 3 tab-separated fields (sentence1, sentence2, label), got ${f.length}`, {
        file,
        line: i + 1,
      });
    }
    const gold = inRange(parseScore(f[2]) ?? badScore(f[2], file, i + 1), f[2], range, file, i + 1);
    return { s1: f[0], s2: f[1], gold, len1: codePointLength(f[0]), len2: codePointLength(f[1]) };
  });
  if (expected !== undefined) checkCount(file, pairs.length, expected, opts);
  return sortPairs(pairs);
}

/** Number of Unicode code points (Python's `len(str)`). */
export function codePointLength(s: string): number {
  let n = 0;
  for (const _ of s) n++;
  return n;
}

/**
 * The text SimCSE-jittor's batcher gives the encoder for a Chinese sentence: `" ".join(s)` on
 * the raw string, i.e. one space between every code point (docs/SIMCSE.md §d.3).
 */
export function spaceCodePoints(s: string): string {
  return Array.from(s).join(" ");
}
