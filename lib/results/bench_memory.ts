/**
 * Will a `deno task bench` run fit in memory? The bench keeps several processes alive at once: every
 * PyTorch peer (one per thread count and precision) for the whole config, plus one of our backends at a
 * time, or all of them with `--together`. When they do not fit (GPT-2 base with `--together` and both
 * PyTorch precisions needs about 24 GB), the kernel kills one of them minutes into the run and its row
 * says only "failed". This module estimates the need from the peak RSS that earlier records in
 * `results/bench/` measured for the same config and labels, so that the bench can say so before it
 * starts anything.
 *
 * @example
 * ```ts
 * import { knownPeaks, memoryNeed } from "./bench_memory.ts";
 * const peaks = knownPeaks([{ config: "base", ours: [{ label: "cpu", peakRssBytes: 3.8e9 }], torch: [] }], "base");
 * memoryNeed({ together: true, ours: ["cpu"], torch: [] }, peaks).bytes; // 3.8e9
 * ```
 * @module
 */
import { benchRecordFiles } from "./bench_table.ts";

/** The parts of a bench record row this check reads. */
export interface PeakRow {
  config: string;
  ours: { label: string; peakRssBytes?: number }[];
  torch: { label: string; peakRssBytes?: number }[];
}

/**
 * Peak RSS per process label for `config`, from rows given newest first: each label takes the newest
 * measured value. PyTorch labels are also stored under their precision alone (`PyTorch fp32`,
 * `PyTorch bf16`), since the peak hardly depends on the thread count.
 */
export function knownPeaks(rows: readonly PeakRow[], config: string): Map<string, number> {
  const peaks = new Map<string, number>();
  const put = (label: string, bytes: number | undefined) => {
    if (bytes !== undefined && bytes > 0 && !peaks.has(label)) peaks.set(label, bytes);
  };
  for (const row of rows) {
    if (row.config !== config) continue;
    for (const o of row.ours) put(o.label, o.peakRssBytes);
    for (const t of row.torch) {
      put(t.label, t.peakRssBytes);
      put(torchPrecisionLabel(t.label), t.peakRssBytes);
    }
  }
  return peaks;
}

/**
 * Rows of the bench records in `dir` (`<date>-<time>.json`), newest first, each with its file name.
 * Unreadable files are skipped: a damaged old record must not stop a bench.
 */
export function recordRows(dir: string): { file: string; row: PeakRow }[] {
  const out: { file: string; row: PeakRow }[] = [];
  for (const file of benchRecordFiles(dir)) {
    try {
      const rec = JSON.parse(Deno.readTextFileSync(`${dir}/${file}`)) as { rows?: unknown };
      for (const row of Array.isArray(rec.rows) ? rec.rows : []) {
        if (typeof row?.config !== "string") continue;
        out.push({ file, row: { config: row.config, ours: sides(row.ours), torch: sides(row.torch) } });
      }
    } catch { /* skipped */ }
  }
  return out;
}

/**
 * The labelled sides of a record row. Records before the interleaved bench (November 2026) kept one
 * unlabelled PyTorch object, or null, there: nothing to go by.
 */
function sides(x: unknown): { label: string; peakRssBytes?: number }[] {
  if (!Array.isArray(x)) return [];
  return x.filter((s) => typeof s?.label === "string").map((s) => ({
    label: s.label,
    peakRssBytes: typeof s.peakRssBytes === "number" ? s.peakRssBytes : undefined,
  }));
}

/** "PyTorch bf16" for a bf16 autocast peer's label, else "PyTorch fp32". */
function torchPrecisionLabel(label: string): string {
  return label.includes("bf16") ? "PyTorch bf16" : "PyTorch fp32";
}

/** What a run would hold at once, by process label. */
export interface MemoryPlan {
  /** All of `ours` alive at once (`--together`); else one at a time. */
  together: boolean;
  ours: string[];
  /** PyTorch peers, alive for the whole config. */
  torch: string[];
}

/** The estimate: bytes needed at once, the parts it adds up, and the labels with no earlier peak. */
export interface MemoryNeed {
  bytes: number;
  parts: string[];
  missing: string[];
}

/**
 * Memory the plan needs at once: every PyTorch peer plus all of ours (`together`) or the largest of
 * ours. Labels without a known peak count as 0 and are listed in `missing`.
 */
export function memoryNeed(plan: MemoryPlan, peaks: ReadonlyMap<string, number>): MemoryNeed {
  const missing: string[] = [], parts: string[] = [];
  const peakOf = (label: string, torch: boolean) => {
    const p = peaks.get(label) ?? (torch ? peaks.get(torchPrecisionLabel(label)) : undefined);
    if (p === undefined) missing.push(label);
    return p ?? 0;
  };
  const ours = plan.ours.map((l) => [l, peakOf(l, false)] as const);
  const torch = plan.torch.map((l) => [l, peakOf(l, true)] as const);
  const counted = plan.together ? ours : ours.length ? [ours.reduce((a, b) => (b[1] > a[1] ? b : a))] : [];
  let bytes = 0;
  for (const [label, b] of [...counted, ...torch]) {
    if (b === 0) continue;
    bytes += b;
    parts.push(`${label} ${gb(b)}`);
  }
  return { bytes, parts, missing };
}

/** `MemAvailable` from the text of /proc/meminfo, in bytes; undefined when absent. */
export function memAvailable(meminfo: string): number | undefined {
  const m = /^MemAvailable:\s+(\d+)\s*kB/m.exec(meminfo);
  return m ? Number(m[1]) * 1024 : undefined;
}

/** Share of `MemAvailable` a run may plan to use (the rest absorbs the estimate's error). */
export const HEADROOM = 0.95;

/**
 * One line saying why the run does not fit, or null when it fits (or nothing is known). `where` names
 * the record files the peaks came from.
 */
export function memoryVerdict(
  config: string,
  plan: MemoryPlan,
  need: MemoryNeed,
  available: number | undefined,
  where: string,
): string | null {
  if (available === undefined || need.bytes === 0 || need.bytes <= HEADROOM * available) return null;
  return `bench: ${config} would hold about ${gb(need.bytes)} GB at once (${
    need.parts.join(" + ")
  }; peaks from ${where}) ` +
    `but ${gb(available)} GB is available; ${
      plan.together ? "drop --together, " : ""
    }measure fewer --backends or --torch-precisions, use --torch-threads 2, or pass --no-memory-check`;
}

function gb(bytes: number): string {
  return (bytes / 2 ** 30).toFixed(1);
}
