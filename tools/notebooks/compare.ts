/**
 * Compare an executed notebook with the committed one, cell by cell, ignoring what changes from run to
 * run when the computation does not: execution counts, cell timing metadata, the kernel's metadata,
 * durations, rates, dates, memory sizes, absolute paths (temporary folders), random element ids
 * (Plotly's div ids, UUIDs) and float noise in figure JSON. What stays is compared exactly: stream
 * text, tables (markdown, HTML, plain text), figure specs and errors. A static rendering of a figure
 * (`image/svg+xml`, `image/png`) next to its JSON spec in the same output is not compared: it is
 * drawn from that spec (by headless Chromium, whose version changes the bytes), so a change in the
 * figure shows in the spec.
 *
 * `deno task notebooks --check` (tools/notebooks/main.ts) and `notebooks/notebooks_test.ts` use
 * {@link compareNotebooks}; {@link cleanExecuted} is what `deno task notebooks` writes.
 *
 * @example
 * ```ts
 * import { compareNotebooks, formatDiffs } from "./compare.ts";
 * const nb = (text: string) => ({
 *   cells: [{ cell_type: "code", source: "1", outputs: [{ output_type: "stream", name: "stdout", text }] }],
 * });
 * console.log(compareNotebooks(nb("took 1.2 s\n"), nb("took 3.4 s\n"))); // []
 * console.log(formatDiffs("x.ipynb", compareNotebooks(nb("| 47.42 |\n"), nb("| 48.10 |\n"))));
 * ```
 * @module
 */

/** One output of a code cell (nbformat 4). */
export interface NotebookOutput {
  /** `stream`, `display_data`, `execute_result` or `error`. */
  output_type: string;
  /** Stream name (`stdout`, `stderr`). */
  name?: string;
  /** Stream text. */
  text?: string | string[];
  /** MIME bundle of a display or result. */
  data?: Record<string, unknown>;
  /** Output metadata. */
  metadata?: Record<string, unknown>;
  /** Execution count of a result. */
  execution_count?: number | null;
  /** Error name. */
  ename?: string;
  /** Error message. */
  evalue?: string;
  /** Error traceback lines. */
  traceback?: string[];
}

/** One cell (nbformat 4). */
export interface NotebookCell {
  /** `code`, `markdown` or `raw`. */
  cell_type: string;
  /** Cell id (nbformat 4.5). */
  id?: string;
  /** The cell's text. */
  source: string | string[];
  /** Cell metadata (`execution` holds timestamps). */
  metadata?: Record<string, unknown>;
  /** Outputs of a code cell. */
  outputs?: NotebookOutput[];
  /** Execution count of a code cell. */
  execution_count?: number | null;
}

/** A notebook (nbformat 4). */
export interface Notebook {
  /** The cells, in order. */
  cells: NotebookCell[];
  /** Kernel and language metadata. */
  metadata?: Record<string, unknown>;
  /** Major format version. */
  nbformat?: number;
  /** Minor format version. */
  nbformat_minor?: number;
}

/** One difference between the committed and the executed notebook. */
export interface CellDiff {
  /** 1-based cell number (as a notebook front end counts), 0 for the whole notebook. */
  cell: number;
  /** The cell's first line, to find it. */
  label: string;
  /** What differs: one or more lines, committed value first (`-`), executed value second (`+`). */
  detail: string;
  /**
   * `missing`: the run produced fewer outputs in this cell and those it produced agree (what the
   * Deno kernel's headless execution occasionally does when an output reaches nbclient after the
   * cell is reported done); `different`: anything else.
   */
  kind: "missing" | "different";
}

/** MIME types that are renderings of a figure spec held in the same bundle (not compared). */
export const RENDERING_MIMES: readonly string[] = ["image/svg+xml", "image/png", "image/jpeg"];

/** Relative tolerance for numbers inside JSON outputs (figure data): float noise, not a change. */
export const JSON_RTOL = 1e-6;

/** A cell's source or a stream's text as one string. */
export function joinText(v: string | string[] | undefined): string {
  return v === undefined ? "" : Array.isArray(v) ? v.join("") : v;
}

const VOLATILE: [RegExp, string][] = [
  // dates and times of day
  [/\b\d{4}-\d{2}-\d{2}(?:[T ]\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?(?:Z|[+-]\d{2}:?\d{2})?)?\b/g, "<date>"],
  [/\b\d{8}-\d{6}\b/g, "<date>"], // run ids such as 20261127-092101
  [/\b\d{1,2}:\d{2}:\d{2}\b/g, "<time>"],
  // UUIDs (Plotly's div ids, kernel and message ids) and long hex ids
  [/\b[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\b/gi, "<id>"],
  // absolute paths (temporary folders, the checkout's location); not URLs (`//`) or fractions
  [/(?<![\w.:/~-])\/(?:[\w.+@~-]+\/)+[\w.+@~-]*/g, "<path>"],
  // rates, then durations and memory sizes (a number with its unit)
  [/\b\d+(?:\.\d+)?(?:e[+-]?\d+)?\s?(?:[a-zA-Z]+)\/s\b/g, "<rate>"],
  [/\b\d+(?:\.\d+)?\s?(?:ns|µs|us|ms|s|sec|secs|seconds?|min|mins|minutes?|h|hours?)\b/g, "<duration>"],
  [/\b\d+(?:\.\d+)?\s?(?:[KMGT]i?B|bytes|B)\b/g, "<bytes>"],
];

/**
 * Output text with its volatile parts replaced by placeholders (`<duration>`, `<rate>`, `<bytes>`,
 * `<date>`, `<time>`, `<id>`, `<path>`). A number with no unit (a table cell, a score) is kept.
 */
export function normaliseText(s: string): string {
  let out = s.replace(/\r\n/g, "\n");
  for (const [re, sub] of VOLATILE) out = out.replace(re, sub);
  return out;
}

/** Is `mime` a JSON payload (kept as an object in the notebook)? */
function isJsonMime(mime: string): boolean {
  return mime === "application/json" || mime.endsWith("+json");
}

/** One output reduced to what is compared. */
export function comparableOutput(o: NotebookOutput): Record<string, unknown> {
  switch (o.output_type) {
    case "stream":
      return { output_type: "stream", name: o.name, text: normaliseText(joinText(o.text)) };
    case "error":
      return { output_type: "error", ename: o.ename, evalue: normaliseText(o.evalue ?? "") };
    case "display_data":
    case "execute_result": {
      const data = o.data ?? {};
      const hasSpec = Object.keys(data).some(isJsonMime);
      const out: Record<string, unknown> = {};
      for (const mime of Object.keys(data).sort()) {
        if (hasSpec && RENDERING_MIMES.includes(mime)) continue;
        const v = data[mime];
        out[mime] = isJsonMime(mime) ? normaliseJson(v) : normaliseText(joinText(v as string | string[]));
      }
      // a result and a display of the same bundle look the same in every front end
      return { output_type: "display", data: out };
    }
    default:
      return { output_type: o.output_type };
  }
}

function normaliseJson(v: unknown): unknown {
  if (typeof v === "string") return normaliseText(v);
  if (Array.isArray(v)) return v.map(normaliseJson);
  if (v !== null && typeof v === "object") {
    return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, normaliseJson(x)]));
  }
  return v;
}

/** The first place where two comparable values differ (numbers within {@link JSON_RTOL}), or null. */
function firstDifference(a: unknown, b: unknown, path: string): string | null {
  if (typeof a === "number" && typeof b === "number") {
    const scale = Math.max(Math.abs(a), Math.abs(b));
    return a === b || Math.abs(a - b) <= JSON_RTOL * scale ? null : `${path || "value"}: - ${a}\n+ ${b}`;
  }
  if (typeof a === "string" && typeof b === "string") return a === b ? null : textDifference(a, b, path);
  if (Array.isArray(a) && Array.isArray(b)) {
    for (let i = 0; i < Math.min(a.length, b.length); i++) {
      const d = firstDifference(a[i], b[i], `${path}[${i}]`);
      if (d) return d;
    }
    return a.length === b.length ? null : `${path}: - ${a.length} items\n+ ${b.length} items`;
  }
  if (a !== null && b !== null && typeof a === "object" && typeof b === "object") {
    const ka = Object.keys(a), kb = Object.keys(b);
    const missing = ka.filter((k) => !kb.includes(k)), extra = kb.filter((k) => !ka.includes(k));
    if (missing.length || extra.length) {
      return `${path || "keys"}: ${
        missing.map((k) => `- ${k}`).concat(extra.map((k) => `+ ${k}`)).join(", ")
      }`;
    }
    for (const k of ka) {
      const d = firstDifference(
        (a as Record<string, unknown>)[k],
        (b as Record<string, unknown>)[k],
        path ? `${path}.${k}` : k,
      );
      if (d) return d;
    }
    return null;
  }
  return Object.is(a, b) ? null : `${path || "value"}: - ${JSON.stringify(a)}\n+ ${JSON.stringify(b)}`;
}

/** The first differing line of two texts, as `- committed` / `+ executed`. */
function textDifference(a: string, b: string, path: string): string {
  const la = a.split("\n"), lb = b.split("\n");
  let i = 0;
  while (i < la.length && i < lb.length && la[i] === lb[i]) i++;
  const where = `${path ? `${path} ` : ""}line ${i + 1}`;
  const show = (l: string | undefined) => l === undefined ? "(no line)" : clip(l);
  return `${where}:\n- ${show(la[i])}\n+ ${show(lb[i])}`;
}

function clip(s: string, max = 200): string {
  return s.length > max ? `${s.slice(0, max)}…` : s;
}

function cellLabel(c: NotebookCell): string {
  const first = joinText(c.source).split("\n").find((l) => l.trim() !== "") ?? "";
  return clip(first.trim(), 70);
}

/**
 * Every cell whose outputs (or source, or the number of cells) differ between `committed` and
 * `executed`, after normalising volatile fields; empty when they agree.
 */
export function compareNotebooks(committed: Notebook, executed: Notebook): CellDiff[] {
  const diffs: CellDiff[] = [];
  if (committed.cells.length !== executed.cells.length) {
    diffs.push({
      cell: 0,
      label: "notebook",
      detail: `- ${committed.cells.length} cells\n+ ${executed.cells.length} cells`,
      kind: "different",
    });
    return diffs;
  }
  committed.cells.forEach((c, i) => {
    const d = cellDifference(c, executed.cells[i]);
    if (d) diffs.push({ cell: i + 1, label: cellLabel(c), ...d });
  });
  return diffs;
}

/** How cell `e` differs from cell `c`, or null. */
function cellDifference(c: NotebookCell, e: NotebookCell): Pick<CellDiff, "detail" | "kind"> | null {
  const different = (detail: string) => ({ detail, kind: "different" as const });
  if (c.cell_type !== e.cell_type) return different(`cell type: - ${c.cell_type}\n+ ${e.cell_type}`);
  if (joinText(c.source) !== joinText(e.source)) {
    return different(textDifference(joinText(c.source), joinText(e.source), "source"));
  }
  if (c.cell_type !== "code") return null;
  const a = (c.outputs ?? []).map(comparableOutput), b = (e.outputs ?? []).map(comparableOutput);
  for (let k = 0; k < Math.max(a.length, b.length); k++) {
    if (k >= a.length) {
      return different(`output ${k + 1}: + ${describeOutput(b[k])} (not in the committed notebook)`);
    }
    if (k >= b.length) {
      return {
        detail: `output ${k + 1}: - ${describeOutput(a[k])} (not produced by this run)`,
        kind: "missing",
      };
    }
    if (a[k].output_type !== b[k].output_type) {
      return different(`output ${k + 1}: - ${describeOutput(a[k])}\n+ ${describeOutput(b[k])}`);
    }
    const d = firstDifference(a[k], b[k], "");
    if (d) return different(`output ${k + 1} ${d}`);
  }
  return null;
}

function describeOutput(o: Record<string, unknown>): string {
  if (o.output_type === "stream") return `${o.name} text ${JSON.stringify(clip(String(o.text), 80))}`;
  if (o.output_type === "error") return `error ${o.ename}: ${clip(String(o.evalue), 80)}`;
  if (o.output_type === "display") return `display of ${Object.keys(o.data as object).join(", ")}`;
  return String(o.output_type);
}

/** The per-cell summary printed by `deno task notebooks --check`. */
export function formatDiffs(name: string, diffs: CellDiff[]): string {
  if (diffs.length === 0) return `${name}: outputs equal the committed ones`;
  const lines = [`${name}: ${diffs.length} cell${diffs.length === 1 ? "" : "s"} differ`];
  for (const d of diffs) {
    lines.push(`  cell ${d.cell}${d.label ? ` (${d.label})` : ""}:`);
    for (const l of d.detail.split("\n")) lines.push(`    ${l}`);
  }
  return lines.join("\n");
}

/**
 * An executed notebook as committed: the sources and cell ids of `committed` (the notebook that was
 * executed), the new outputs and execution counts, and nothing volatile at the source: no cell timing
 * metadata, and the notebook metadata of `committed` (kernel name and language), not the kernel's
 * version.
 */
export function cleanExecuted(executed: Notebook, committed: Notebook): Notebook {
  return {
    cells: executed.cells.map((c, i) => {
      const { execution: _timestamps, ...metadata } = c.metadata ?? {};
      const base: NotebookCell = {
        cell_type: c.cell_type,
        id: committed.cells[i]?.id ?? `cell-${i}`,
        metadata,
        source: c.source,
      };
      if (c.cell_type !== "code") return base;
      return {
        ...base,
        execution_count: c.execution_count ?? null,
        outputs: c.outputs ?? [],
      };
    }),
    metadata: committed.metadata ?? executed.metadata ?? {},
    nbformat: executed.nbformat ?? 4,
    nbformat_minor: executed.nbformat_minor ?? 5,
  };
}

/**
 * The text of a notebook file as Jupyter writes it (keys sorted, one-space indent, non-ASCII kept, a
 * final newline), so that saving it from a front end changes only what changed.
 */
export function serialiseNotebook(nb: Notebook): string {
  return JSON.stringify(sortKeys(nb), null, 1) + "\n";
}

function sortKeys(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(sortKeys);
  if (v !== null && typeof v === "object") {
    return Object.fromEntries(
      Object.keys(v).sort().map((k) => [k, sortKeys((v as Record<string, unknown>)[k])]),
    );
  }
  return v;
}
