import assert from "node:assert/strict";
import {
  knownPeaks,
  memAvailable,
  memoryNeed,
  memoryVerdict,
  type PeakRow,
  recordRows,
} from "./bench_memory.ts";

const GiB = 2 ** 30;

// Two records of gpt2, newest first, and one of another config; peaks in GiB, hand-picked.
const rows: PeakRow[] = [
  {
    config: "gpt2",
    ours: [{ label: "cpu", peakRssBytes: 4 * GiB }, { label: "cpu-bf16", peakRssBytes: 3 * GiB }],
    torch: [{ label: "PyTorch 2 threads", peakRssBytes: 8 * GiB }],
  },
  { config: "mini", ours: [{ label: "cpu-fp16", peakRssBytes: 0.5 * GiB }], torch: [] },
  {
    config: "gpt2",
    ours: [{ label: "cpu", peakRssBytes: 9 * GiB }, { label: "cpu-fp16", peakRssBytes: 3.5 * GiB }],
    torch: [{ label: "PyTorch bf16 autocast 2 threads", peakRssBytes: 6 * GiB }],
  },
];

Deno.test("knownPeaks: the newest value per label, PyTorch also by precision", () => {
  const p = knownPeaks(rows, "gpt2");
  assert.deepEqual(p.get("cpu"), 4 * GiB); // the newer of 4 and 9
  assert.deepEqual(p.get("cpu-fp16"), 3.5 * GiB); // only the older record has it
  assert.deepEqual(p.get("PyTorch fp32"), 8 * GiB);
  assert.deepEqual(p.get("PyTorch bf16"), 6 * GiB);
  assert.deepEqual(knownPeaks(rows, "base").size, 0);
});

Deno.test("memoryNeed: all of ours with --together, the largest without; every PyTorch peer", () => {
  const p = knownPeaks(rows, "gpt2");
  const torch = ["PyTorch 2 threads", "PyTorch 1 thread", "PyTorch bf16 autocast 2 threads"];
  const ours = ["cpu", "cpu-bf16", "cpu-fp16"];
  // 4 + 3 + 3.5 + (8 + 8 + 6): the 1-thread peer takes the fp32 figure of the 2-thread one
  assert.deepEqual(memoryNeed({ together: true, ours, torch }, p).bytes, 32.5 * GiB);
  assert.deepEqual(memoryNeed({ together: false, ours, torch }, p).bytes, 26 * GiB); // 4 + 22
  const n = memoryNeed({ together: true, ours: ["cpu", "webgpu"], torch: [] }, p);
  assert.deepEqual([n.bytes, n.missing, n.parts], [4 * GiB, ["webgpu"], ["cpu 4.0"]]);
});

Deno.test("memAvailable reads /proc/meminfo's kB figure", () => {
  const text = "MemTotal:       24576000 kB\nMemFree:         1000 kB\nMemAvailable:   20971520 kB\n";
  assert.deepEqual(memAvailable(text), 20 * GiB);
  assert.deepEqual(memAvailable("MemTotal: 5 kB\n"), undefined);
});

Deno.test("memoryVerdict: one line when the need passes 95% of what is available", () => {
  const plan = { together: true, ours: ["cpu"], torch: [] };
  const need = { bytes: 19.5 * GiB, parts: ["cpu 19.5"], missing: [] };
  assert.deepEqual(memoryVerdict("gpt2", plan, need, 20.6 * GiB, "results/bench/x.json"), null); // 19.57 allowed
  const line = memoryVerdict("gpt2", plan, need, 20 * GiB, "results/bench/x.json");
  assert.match(
    line!,
    /^bench: gpt2 would hold about 19\.5 GB at once \(cpu 19\.5; peaks from results\/bench\/x\.json\)/,
  );
  assert.match(line!, /but 20\.0 GB is available; drop --together, .*--no-memory-check$/);
  assert.deepEqual(line!.includes("\n"), false);
  assert.deepEqual(memoryVerdict("gpt2", plan, { ...need, bytes: 0 }, 1, "-"), null); // nothing known
  assert.deepEqual(memoryVerdict("gpt2", plan, need, undefined, "-"), null); // not Linux
});

Deno.test("recordRows: newest file first, other files and bad JSON skipped", () => {
  const dir = Deno.makeTempDirSync();
  try {
    const rec = (config: string) => JSON.stringify({ rows: [{ config, ours: [], torch: [] }] });
    Deno.writeTextFileSync(`${dir}/20261201-090000.json`, rec("old"));
    Deno.writeTextFileSync(`${dir}/20261203-090000.json`, rec("new"));
    Deno.writeTextFileSync(`${dir}/20261202-090000.json`, "{not json");
    // November's records: one unlabelled PyTorch object, or null; rows without a config
    const old = {
      rows: [{ config: "nov", ours: [{ peakRssBytes: 1 }], torch: { peak_rss_bytes: 2 } }, { ours: [] }],
    };
    Deno.writeTextFileSync(`${dir}/20261127-090000.json`, JSON.stringify(old));
    Deno.writeTextFileSync(`${dir}/fp16-20261204-090000.json`, rec("other"));
    assert.deepEqual(recordRows(dir).map((r) => [r.file, r.row.config]), [
      ["20261203-090000.json", "new"],
      ["20261201-090000.json", "old"],
      ["20261127-090000.json", "nov"],
    ]);
    assert.deepEqual(recordRows(dir)[2].row, { config: "nov", ours: [], torch: [] });
    assert.deepEqual(recordRows(`${dir}/missing`), []);
  } finally {
    Deno.removeSync(dir, { recursive: true });
  }
});
