/**
 * Every entry point (cli/*.ts, bench/*.ts, experiments/*\/run.ts) answers `--help` with its usage on
 * stdout and exit 0, before doing any work, and refuses every bad numeric flag with one `error:` line
 * naming the flag and exit 1 (no stack trace, no run with a silently wrong value).
 */
import { deepStrictEqual, ok } from "node:assert/strict";

const ROOT = decodeURIComponent(new URL("../", import.meta.url).pathname);
const DATA = Deno.env.get("SIMCSE_DATA_DIR") ??
  decodeURIComponent(new URL("../data", import.meta.url).pathname);
const dec = new TextDecoder();

interface Result {
  code: number;
  stdout: string;
  stderr: string;
}

async function run(script: string, args: string[], cwd = ROOT): Promise<Result> {
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", `${ROOT}${script}`, ...args],
    cwd,
    stdout: "piped",
    stderr: "piped",
    env: { NO_COLOR: "1" },
    // An entry point that ignores --help would start its real work: stop it.
    signal: AbortSignal.timeout(120_000),
  }).output();
  return { code: out.code, stdout: dec.decode(out.stdout), stderr: dec.decode(out.stderr) };
}

async function pool<T>(items: T[], n: number, f: (item: T) => Promise<void>): Promise<void> {
  const queue = [...items];
  await Promise.all(Array.from({ length: n }, async () => {
    while (queue.length) await f(queue.shift()!);
  }));
}

const ENTRY_POINTS = [
  "cli/encode.ts",
  "cli/eval.ts",
  "cli/fetch.ts",
  "cli/figures.ts",
  "cli/search.ts",
  "cli/tables.ts",
  "bench/fp16_bench.ts",
  "bench/head_products_bench.ts",
  "bench/matmul_bench.ts",
  "tools/fuzz/main.ts",
  "bench/search_bench.ts",
  "bench/train_bench.ts",
  "experiments/reproduction/run.ts",
  "experiments/chinese-transfer/run.ts",
  "experiments/gpt2-wavg/run.ts",
];

Deno.test("every entry point prints its usage for --help and exits 0, writing nothing", async () => {
  // Every entry point of the repository is listed here (bench/kernel_profile.ts and ffi_profile.ts are modules).
  const found: string[] = [];
  for (const dir of ["cli", "bench"]) {
    for (const e of Deno.readDirSync(`${ROOT}${dir}`)) {
      if (e.name.endsWith(".ts") && !e.name.endsWith("_test.ts") && !e.name.startsWith("_")) {
        found.push(`${dir}/${e.name}`);
      }
    }
  }
  found.push("tools/fuzz/main.ts");
  for (const e of Deno.readDirSync(`${ROOT}experiments`)) {
    if (Deno.statSync(`${ROOT}experiments/${e.name}/run.ts`).isFile) {
      found.push(`experiments/${e.name}/run.ts`);
    }
  }
  const modules = ["bench/kernel_profile.ts", "bench/ffi_profile.ts"];
  deepStrictEqual(found.filter((f) => !modules.includes(f)).sort(), [...ENTRY_POINTS].sort());
  const cwd = await Deno.makeTempDir({ prefix: "cli_help_" });
  await pool(ENTRY_POINTS, 3, async (script) => {
    const r = await run(script, ["--help"], cwd);
    deepStrictEqual(r.code, 0, `${script} --help: exit ${r.code}\n${r.stderr}`);
    ok(/^usage: /m.test(r.stdout), `${script} --help printed no usage:\n${r.stdout}\n${r.stderr}`);
    ok(!/^\s+at /m.test(r.stderr), `${script} --help: stack trace\n${r.stderr}`);
  });
  deepStrictEqual([...Deno.readDirSync(cwd)], [], "--help wrote files");
  await Deno.remove(cwd, { recursive: true });
});

/** [script, args, the error line must match]. */
const BAD_FLAGS: [string, string[], RegExp][] = [
  ["tools/fuzz/main.ts", ["--cases", "abc"], /--cases must be a positive integer, got 'abc'/],
  ["tools/fuzz/main.ts", ["--cases", "0"], /--cases must be a positive integer, got '0'/],
  ["tools/fuzz/main.ts", ["--cases", "1e3"], /--cases must be a positive integer, got '1e3'/],
  ["tools/fuzz/main.ts", ["--seed=-1"], /--seed must be a non-negative integer, got '-1'/],
  ["tools/fuzz/main.ts", ["--hang-ms", "1.5"], /--hang-ms must be a positive integer, got '1\.5'/],
  ["tools/fuzz/main.ts", ["--replay", "x"], /--replay must be a non-negative integer, got 'x'/],
  ["tools/fuzz/main.ts", ["--targets", "no-such-parser"], /--targets 'no-such-parser' matches no parser/],
  ["tools/fuzz/main.ts", ["--casess", "5"], /^error: unknown flag --casess \(did you mean --cases\?\)/],
  [
    "cli/search.ts",
    ["--model", "m", "--index", "i", "--query", "q", "--top-k", "0"],
    /--top-k must be a positive integer/,
  ],
  [
    "cli/search.ts",
    ["--model", "m", "--index", "i", "--query", "q", "--threshold", "abc"],
    /--threshold must be a number, got 'abc'/,
  ],
  [
    "cli/search.ts",
    ["--model", "m", "--index", "i", "--query", "q", "--batch-size=-2"],
    /--batch-size must be a positive integer/,
  ],
  [
    "cli/eval.ts",
    ["--model", "m", "--pooler", "avg", "--batch-size", "abc"],
    /--batch-size must be a positive integer, got 'abc'/,
  ],
  ["cli/fetch.ts", ["--retries=-1", "bert-tiny"], /--retries must be a non-negative integer, got '-1'/],
  ["cli/fetch.ts", ["--list", "--retries", "x"], /--retries must be a non-negative integer, got 'x'/],
  ["bench/train_bench.ts", ["--steps", "1.5"], /--steps must be a positive integer, got '1\.5'/],
  ["bench/train_bench.ts", ["--warmup=-1"], /--warmup must be a non-negative integer/],
  ["bench/train_bench.ts", ["--max-grad-norm=-1"], /--max-grad-norm must be >= 0, got '-1'/],
  ["bench/train_bench.ts", ["--torch-threads", "two"], /--torch-threads must be a non-negative integer/],
  ["bench/train_bench.ts", ["--backends", "cpu,gpu"], /unknown backend 'gpu'/],
  ["bench/train_bench.ts", ["--stepz", "3"], /^error: unknown flag --stepz \(did you mean --steps\?\)/],
  ["bench/fp16_bench.ts", ["--steps", "0"], /--steps must be a positive integer, got '0'/],
  ["bench/fp16_bench.ts", ["--train-steps", "abc"], /--train-steps must be a non-negative integer/],
  // the flag named once: "--rounds", not "----rounds"
  ["bench/matmul_bench.ts", ["--rounds", "0"], /^error: --rounds must be a positive integer, got '0'/],
  [
    "bench/matmul_bench.ts",
    ["--backend", "webgpu", "--reps", "0"],
    /^error: --reps must be a positive integer/,
  ],
  ["bench/matmul_bench.ts", ["--reps", "20"], /^error: --reps is for --backend webgpu/],
  ["bench/head_products_bench.ts", ["--heads", "4,x"], /^error: --heads must be a positive integer, got 'x'/],
  ["bench/head_products_bench.ts", ["--heads", "4", "12"], /^error: unexpected argument '12'/],
  ["bench/head_products_bench.ts", ["--march", "a b"], /^error: --march takes names like haswell, got 'a b'/],
  ["bench/search_bench.ts", ["--dim", "0"], /--dim must be a positive integer, got '0'/],
  ["bench/search_bench.ts", ["--ef", "16,x"], /--ef must be a positive integer, got 'x'/],
  ["cli/tables.ts", ["--chek"], /^error: unknown flag --chek \(did you mean --check\?\)/],
  // flag values are checked before the model folder is read: the line names the flag, not the folder
  ["cli/eval.ts", ["--model", "/no/such/model", "--precision", "fp8"], /^error: unknown precision 'fp8'/],
  ["cli/eval.ts", ["--model", "/no/such/model", "--backend", "gpu"], /^error: unknown backend 'gpu'/],
  [
    "cli/encode.ts",
    ["--model", "/no/such/model", "--input", "a", "--output", "b", "--precision", "fp8"],
    /^error: unknown precision 'fp8'/,
  ],
  [
    "cli/encode.ts",
    ["--model", "/no/such/model", "--input", "a", "--output", "b", "--backend", "gpu"],
    /^error: unknown backend 'gpu'/,
  ],
  [
    "cli/search.ts",
    ["--model", "/no/such/model", "--index", "/no/such/index", "--query", "q", "--backend", "gpu"],
    /^error: unknown backend 'gpu'/,
  ],
  // a stray word (a second value given to one flag) is refused, not dropped
  ["cli/encode.ts", ["--model", "m", "--input", "a.txt", "b.txt"], /^error: unexpected argument 'b\.txt'/],
  ["cli/eval.ts", ["--model", "m", "extra"], /^error: unexpected argument 'extra'/],
  ["bench/matmul_bench.ts", ["5"], /^error: unexpected argument '5'/],
  ["experiments/reproduction/run.ts", ["--preset", "cpu", "extra"], /^error: unexpected argument 'extra'/],
  [
    "experiments/reproduction/run.ts",
    ["--preset", "cpu", "--backend", "cpu", "--set", "batchSize=0"],
    /config key 'batchSize' must be a positive integer, got 0/,
  ],
  [
    "experiments/reproduction/run.ts",
    ["--preset", "cpu", "--backend", "cpu", "--set", "evalSteps=2.5"],
    /config key 'evalSteps' must be a positive integer, got 2\.5/,
  ],
  [
    "experiments/gpt2-wavg/run.ts",
    ["--preset", "cpu", "--backend", "cpu", "--pooler", "avg", "--set", "temp=0"],
    /config key 'temp' must be a positive number, got 0/,
  ],
];
// The Chinese experiment checks that its evaluation splits exist before it reads --set.
const haveZh = ["lcqmc/LCQMC", "pawsx/PAWSX"].every((f) =>
  ["valid", "test"].every((split) => {
    try {
      return Deno.statSync(`${DATA}/zh/${f}.${split}.data`).isFile;
    } catch {
      return false;
    }
  })
);
if (haveZh) {
  BAD_FLAGS.push([
    "experiments/chinese-transfer/run.ts",
    ["--preset", "cpu", "--backend", "cpu", "--data-dir", DATA, "--set", "learningRate=-1"],
    /config key 'learningRate' must be a number >= 0, got -1/,
  ]);
}

Deno.test("a bad numeric flag is one error line naming the flag, exit 1, before any work", async () => {
  const cwd = await Deno.makeTempDir({ prefix: "cli_flags_" });
  await pool(BAD_FLAGS, 3, async ([script, args, want]) => {
    const what = `${script} ${args.join(" ")}`;
    const r = await run(script, args, cwd);
    deepStrictEqual(r.code, 1, `${what}: exit ${r.code}\n${r.stderr}`);
    const errors = r.stderr.trimEnd().split("\n").filter((l) => l.startsWith("error: "));
    deepStrictEqual(errors.length, 1, `${what}: expected one error line\n${r.stderr}`);
    ok(want.test(errors[0]), `${what}: ${errors[0]} does not match ${want}`);
    ok(!/^\s+at /m.test(r.stderr), `${what}: stack trace\n${r.stderr}`);
  });
  deepStrictEqual([...Deno.readDirSync(cwd)], [], "a refused command wrote files");
  await Deno.remove(cwd, { recursive: true });
});
