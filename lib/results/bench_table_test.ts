import assert from "node:assert/strict";
import { benchTable, peersFor, precisionTable } from "./bench_table.ts";

const side = (label: string, trainS: number[], encodeS: number[], peakRssBytes: number) => ({
  label,
  trainS,
  trainCpuS: trainS,
  encodeS,
  peakRssBytes,
});

Deno.test("the README speed table takes the newest interleaved record per config, ratios by hand, and deno fmt leaves it as is", async () => {
  const dir = await Deno.makeTempDir();
  const rec = (ours: number[], method?: string) => ({
    method,
    rows: [{
      config: "mini",
      ours: [side("cpu", ours, [0.5, 0.5], 2 ** 29)],
      // median train: 1 thread 5 s, 2 threads 3 s (the better: 3); median encode: 1 s
      torch: [
        side("PyTorch 1 thread", [5, 4, 6], [1, 2], 2 ** 30),
        side("PyTorch 2 threads", [3, 3, 9], [1, 1], 2 ** 30),
      ],
    }],
  });
  await Deno.writeTextFile(`${dir}/20260101-000000.json`, JSON.stringify(rec([9, 9, 9], "interleaved")));
  await Deno.writeTextFile(`${dir}/20260102-000000.json`, JSON.stringify(rec([2, 1, 3], "interleaved")));
  await Deno.writeTextFile(`${dir}/20260103-000000.json`, JSON.stringify(rec([7, 7, 7]))); // older format: skipped
  await Deno.writeTextFile(`${dir}/fp16-20260104-000000.json`, "{}"); // another bench's record: skipped
  const table = benchTable(dir);
  const rows = table.split("\n").slice(2).map((l) => l.split("|").slice(1, -1).map((c) => c.trim()));
  assert.equal(rows.length, 1);
  // ours: median 2 s/step -> 0.500 steps/s; PyTorch 3 s -> 0.333; ratio 3/2; encode 64/0.5 = 128 vs 64/1
  assert.deepEqual(rows[0], [
    "BERT mini L4/256",
    "cpu",
    "0.500",
    "0.333",
    "1.50",
    "128",
    "64",
    "2.00",
    "0.50",
    "1.00",
    "20260102-000000.json",
  ]);
  const md = `${dir}/t.md`;
  await Deno.writeTextFile(md, `# t\n\n${table}\n`);
  const fmt = await new Deno.Command(Deno.execPath(), {
    args: ["fmt", "--check", md],
    stdout: "null",
    stderr: "piped",
  })
    .output();
  assert.ok(fmt.success, new TextDecoder().decode(fmt.stderr));
  await Deno.remove(dir, { recursive: true });
});

Deno.test("the README speed table says so when there are no records", async () => {
  const dir = await Deno.makeTempDir();
  assert.match(benchTable(dir), /no benchmark records/i);
  assert.match(benchTable(`${dir}/missing`), /no benchmark records/i);
  await Deno.remove(dir, { recursive: true });
});

Deno.test("`peersFor()` compares a -bf16 row with PyTorch bf16 autocast and every other row with PyTorch fp32", () => {
  const torch = [
    { label: "PyTorch 1 thread" },
    { label: "PyTorch bf16 autocast 1 thread" },
    { label: "PyTorch 2 threads" },
  ];
  assert.deepStrictEqual(peersFor("cpu", torch).map((t) => t.label), [
    "PyTorch 1 thread",
    "PyTorch 2 threads",
  ]);
  assert.deepStrictEqual(peersFor("cpu-fp16", torch).map((t) => t.label), [
    "PyTorch 1 thread",
    "PyTorch 2 threads",
  ]);
  assert.deepStrictEqual(peersFor("cpu-bf16", torch).map((t) => t.label), ["PyTorch bf16 autocast 1 thread"]);
  assert.deepStrictEqual(
    peersFor("cpu-bf16", [torch[0], { label: "PyTorch bf16 autocast 1 thread", error: "x" }]).map((t) =>
      t.label
    ),
    ["PyTorch 1 thread"],
    "no bf16 peer: fp32",
  );
});

Deno.test("the precision table sets each precision against our FP32 and PyTorch in the same precision, ratios by hand", async () => {
  const dir = await Deno.makeTempDir();
  await Deno.writeTextFile(
    `${dir}/20260101-000000.json`,
    JSON.stringify({
      method: "interleaved",
      rows: [{
        config: "base",
        ours: [
          side("cpu", [4, 4, 4], [2, 2], 4 * 2 ** 30), // 0.25 steps/s, 4 GiB
          side("cpu-bf16", [2, 3, 2], [1, 1], 3 * 2 ** 30), // median 2 s: ×2 our FP32, encode ×2, memory ×0.75
          side("cpu-fp16", [8, 8, 8], [4, 4], 2 * 2 ** 30),
        ],
        torch: [
          side("PyTorch 2 threads", [6, 6, 6], [3, 3], 5 * 2 ** 30),
          side("PyTorch bf16 autocast 2 threads", [1, 1, 1], [1, 1], 5 * 2 ** 30), // bf16 peer: 1 s -> ×0.5
        ],
      }],
    }),
  );
  const rows = precisionTable(dir).split("\n").slice(2).map((l) =>
    l.split("|").slice(1, -1).map((c) => c.trim())
  );
  assert.deepEqual(rows.map((r) => r.slice(1, 8)), [
    ["FP32", "0.250", "1.00", "1.50 (PyTorch 2 threads)", "1.00", "4.00", "1.00"],
    ["BF16", "0.500", "2.00", "0.50 (PyTorch bf16 autocast 2 threads)", "2.00", "3.00", "0.75"],
    ["FP16", "0.125", "0.50", "0.75 (PyTorch 2 threads)", "0.50", "2.00", "0.50"],
  ]);
  await Deno.remove(dir, { recursive: true });
});
