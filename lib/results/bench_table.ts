/**
 * The speed table in README.md ("Speed on CPU"), generated from the records `deno task bench` writes
 * to `results/bench/<time>.json`. For each config it takes the newest interleaved record that
 * measured it, so the table follows the latest runs (`deno task tables` rewrites it; `--check`
 * fails while it is stale). Ratio = PyTorch's median time / ours; PyTorch is the better of the thread
 * counts it ran with.
 *
 * @example
 * ```ts
 * import { benchTable } from "./bench_table.ts";
 * console.log(benchTable("results/bench"));
 * ```
 * @module
 */
import { alignedMarkdownTable } from "./markdown_tables.ts";

/** One side of a bench row, as the record stores it. */
interface Side {
  label: string;
  trainS: number[];
  encodeS: number[];
  peakRssBytes?: number;
  error?: string;
}

/** The fields of a bench record the table uses. */
interface BenchRecord {
  method?: string;
  rows: { config: string; ours: Side[]; torch: Side[] }[];
}

/** Configs in table order, with their row labels. */
const CONFIGS: [string, string][] = [
  ["tiny", "BERT tiny L2/128"],
  ["mini", "BERT mini L4/256"],
  ["small", "BERT small L4/512"],
  ["base", "BERT base L12/768"],
  ["gpt2-mini", "GPT-2 mini L4/256"],
  ["gpt2", "GPT-2 L12/768"],
];
const SENTENCES = 64; // per encode batch (bench/train_bench.ts)

function median(xs: number[] | undefined): number {
  if (!xs || xs.length === 0) return NaN;
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor((s.length - 1) / 2)];
}

function best(sides: Side[], key: "trainS" | "encodeS"): Side | undefined {
  return sides.filter((s) => !s.error && s[key].length > 0)
    .sort((a, b) => median(a[key]) - median(b[key]))[0];
}

const num = (x: number, d: number) => Number.isFinite(x) ? x.toFixed(d) : "—";
const gb = (b: number | undefined) => num((b ?? NaN) / 2 ** 30, 2);

/**
 * The PyTorch peers one of our rows is compared with: PyTorch in the same precision when that peer ran
 * (our `-bf16` rows against `torch.autocast` bf16, labelled "bf16"), else PyTorch fp32.
 */
export function peersFor<T extends { label: string; error?: string }>(ourLabel: string, torch: T[]): T[] {
  const bf16 = /-bf16\b/.test(ourLabel);
  const same = torch.filter((t) => t.label.includes("bf16") === bf16);
  return same.some((t) => !t.error) ? same : torch.filter((t) => !t.label.includes("bf16"));
}

type BenchRow = BenchRecord["rows"][number];

/** The names of the bench records in `dir` (`<date>-<time>.json`), newest first; none when `dir` is missing. */
export function benchRecordFiles(dir: string): string[] {
  const files: string[] = [];
  try {
    for (const e of Deno.readDirSync(dir)) if (/^\d{8}-\d{6}\.json$/.test(e.name)) files.push(e.name);
  } catch { /* no records yet */ }
  return files.sort().reverse();
}

/**
 * For each config, the newest row of an interleaved record in `dir` that `accept` takes, with its file
 * name (records named `<date>-<time>.json`, each read once).
 */
function newestRows(dir: string, accept: (row: BenchRow) => boolean): [string, BenchRow, string][] {
  const records = benchRecordFiles(dir).map((f) =>
    [f, JSON.parse(Deno.readTextFileSync(`${dir}/${f}`))] as const
  )
    .filter(([, rec]) => (rec as BenchRecord).method === "interleaved") as [string, BenchRecord][];
  const out: [string, BenchRow, string][] = [];
  for (const [config, label] of CONFIGS) {
    for (const [f, rec] of records) {
      const row = rec.rows.find((r) => r.config === config);
      if (row && accept(row)) {
        out.push([label, row, f]);
        break;
      }
    }
  }
  return out;
}

/** The README speed table from the records in `dir` (newest interleaved record per config). */
export function benchTable(dir: string): string {
  const rows: string[][] = [];
  for (const [label, row, f] of newestRows(dir, () => true)) {
    for (const o of row.ours) {
      const peers = peersFor(o.label, row.torch);
      const bt = best(peers, "trainS"), be = best(peers, "encodeS");
      const tTrain = median(bt?.trainS), tEnc = median(be?.encodeS);
      if (o.error) {
        rows.push([
          label,
          o.label,
          "failed",
          "",
          "",
          "",
          "",
          "",
          gb(o.peakRssBytes),
          gb(bt?.peakRssBytes),
          f,
        ]);
        continue;
      }
      const ts = median(o.trainS), es = median(o.encodeS);
      rows.push([
        label,
        o.label,
        num(1 / ts, 3),
        num(1 / tTrain, 3),
        num(tTrain / ts, 2),
        num(SENTENCES / es, 0),
        num(SENTENCES / tEnc, 0),
        num(tEnc / es, 2),
        gb(o.peakRssBytes),
        gb(bt?.peakRssBytes),
        f,
      ]);
    }
  }
  if (rows.length === 0) return "No benchmark records yet: run `deno task bench`.";
  return alignedMarkdownTable([
    "config",
    "backend",
    "train steps/s",
    "PyTorch",
    "ratio",
    "encode sent/s",
    "PyTorch",
    "ratio",
    "peak RSS GB",
    "PyTorch GB",
    "record",
  ], rows);
}

/**
 * Our precisions side by side for each config (newest interleaved record per config that ran our fp32
 * `cpu` row and a `-bf16` or `-fp16` one), as ratios to our FP32 and to PyTorch in the same precision:
 * the rows `experiments/reproduction/RESULTS.md` puts next to the seed's FP32/FP16 figures.
 */
export function precisionTable(dir: string): string {
  const fp32Of = (row: BenchRow) => row.ours.find((o) => o.label === "cpu" && !o.error);
  const halvesOf = (row: BenchRow) => row.ours.filter((o) => /^cpu-(bf16|fp16)$/.test(o.label) && !o.error);
  const rows: string[][] = [];
  for (const [label, row, f] of newestRows(dir, (r) => !!fp32Of(r) && halvesOf(r).length > 0)) {
    const fp32 = fp32Of(row)!;
    for (const o of [fp32, ...halvesOf(row)]) {
      const bt = best(peersFor(o.label, row.torch), "trainS");
      const ts = median(o.trainS), t32 = median(fp32.trainS);
      rows.push([
        label,
        o.label === "cpu" ? "FP32" : o.label.slice(4).toUpperCase(),
        num(1 / ts, 3),
        num(t32 / ts, 2),
        `${num(median(bt?.trainS) / ts, 2)} (${bt?.label ?? "—"})`,
        num(median(fp32.encodeS) / median(o.encodeS), 2),
        gb(o.peakRssBytes),
        num((o.peakRssBytes ?? NaN) / (fp32.peakRssBytes ?? NaN), 2),
        f,
      ]);
    }
  }
  if (rows.length === 0) return "No benchmark record with a half-precision row yet: run `deno task bench`.";
  return alignedMarkdownTable([
    "config",
    "precision",
    "train steps/s",
    "× our FP32",
    "× PyTorch (peer)",
    "encode × our FP32",
    "peak RSS GB",
    "memory × our FP32",
    "record",
  ], rows);
}
