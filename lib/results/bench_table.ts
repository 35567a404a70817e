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

/** The README speed table from the records in `dir` (newest interleaved record per config). */
export function benchTable(dir: string): string {
  const files: string[] = [];
  try {
    for (const e of Deno.readDirSync(dir)) if (/^\d{8}-\d{6}\.json$/.test(e.name)) files.push(e.name);
  } catch { /* no records yet */ }
  files.sort().reverse(); // newest first
  const rows: string[][] = [];
  for (const [config, label] of CONFIGS) {
    for (const f of files) {
      const rec = JSON.parse(Deno.readTextFileSync(`${dir}/${f}`)) as BenchRecord;
      if (rec.method !== "interleaved") continue;
      const row = rec.rows.find((r) => r.config === config);
      if (!row) continue;
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
      break;
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
