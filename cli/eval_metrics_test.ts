/** `deno task eval --metrics`: alignment/uniformity wiring (the values are checked against numpy in lib/eval). */
import { deepStrictEqual, ok } from "node:assert/strict";
import { TESTDATA } from "../testing/fixtures.ts";
import { parseMetrics } from "./eval.ts";

const ROOT = new URL("../", import.meta.url).pathname;
const DATA = Deno.env.get("SIMCSE_DATA_DIR") ?? `${ROOT}data`;
const haveData = await Deno.stat(`${DATA}/senteval/STS/STSBenchmark/sts-dev.csv`).then(
  () => true,
  () => false,
);
if (!haveData) {
  console.log(`skipped the eval --metrics run: no STS-B dev under ${DATA} (set SIMCSE_DATA_DIR)`);
}

async function run(args: string[]) {
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", `${ROOT}cli/eval.ts`, ...args],
    cwd: ROOT,
    stdout: "piped",
    stderr: "piped",
    env: { NO_COLOR: "1" },
  }).output();
  const dec = new TextDecoder();
  return { code: out.code, stdout: dec.decode(out.stdout), stderr: dec.decode(out.stderr) };
}

Deno.test("`parseMetrics()` takes a comma list of sts, align, uniform and names a bad one in one line", async () => {
  deepStrictEqual([...parseMetrics("Align, uniform")], ["align", "uniform"]);
  const r = await run([
    "--model",
    `${TESTDATA}bert/tiny-safetensors`,
    "--pooler",
    "avg",
    "--metrics",
    "align,x",
  ]);
  deepStrictEqual(r.code, 1);
  deepStrictEqual(r.stderr.trim(), "error: unknown metric 'x'; expected a comma list of sts, align, uniform");
});

Deno.test({
  name:
    "`deno task eval --metrics align,uniform --mode dev` prints both on STS-B dev and writes them to --json",
  ignore: !haveData,
  fn: async () => {
    const dir = await Deno.makeTempDir();
    const r = await run([
      "--model",
      `${TESTDATA}bert/tiny-safetensors`,
      "--pooler",
      "avg",
      "--metrics",
      "align,uniform",
      "--mode",
      "dev",
      "--data-dir",
      DATA,
      "--backend",
      "wasm",
      "--json",
      `${dir}/m.json`,
    ]);
    deepStrictEqual(r.code, 0, r.stderr);
    const json = JSON.parse(await Deno.readTextFile(`${dir}/m.json`));
    deepStrictEqual(Object.keys(json), ["align", "uniform"]);
    ok(json.align > 0 && json.align < 4, `align of unit vectors lies in (0, 4): ${json.align}`);
    ok(json.uniform < 0 && json.uniform > -4, `uniform lies in (-4, 0): ${json.uniform}`);
    ok(/STS-B dev: \d+ pairs scored > 4/.test(r.stdout), r.stdout);
    ok(r.stdout.includes(`| ${json.align.toFixed(4)} | ${json.uniform.toFixed(4)} |`), r.stdout);
    ok(!r.stdout.includes("STSBenchmark"), "no STS table unless sts is asked for");
    await Deno.remove(dir, { recursive: true });
  },
});

Deno.test("`--pooler cls` on a GPT-2 folder is one InputError line suggesting a decoder pooler (eval and encode)", async () => {
  const gpt2 = `${TESTDATA}gpt2/tiny-safetensors`;
  const dir = await Deno.makeTempDir();
  await Deno.writeTextFile(`${dir}/in.txt`, "hello\n");
  for (
    const [script, extra] of [
      ["eval.ts", ["--mode", "dev", "--data-dir", DATA]],
      ["encode.ts", ["--input", `${dir}/in.txt`, "--output", `${dir}/o.jsonl`]],
    ] as const
  ) {
    const out = await new Deno.Command(Deno.execPath(), {
      args: [
        "run",
        "-A",
        `${ROOT}cli/${script}`,
        "--model",
        gpt2,
        "--pooler",
        "cls",
        "--backend",
        "wasm",
        ...extra,
      ],
      cwd: ROOT,
      stdout: "piped",
      stderr: "piped",
      env: { NO_COLOR: "1" },
    }).output();
    const stderr = new TextDecoder().decode(out.stderr).trim();
    deepStrictEqual(out.code, 1, stderr);
    const last = stderr.split("\n").at(-1)!;
    deepStrictEqual(
      last,
      `error: ${gpt2}: pooler 'cls' needs a pooler layer and a [CLS] token, which a gpt2 model has not (use --pooler wavg, or avg)`,
      stderr,
    );
    ok(!/\n\s+at /.test(stderr), `stack trace: ${stderr}`);
  }
  await Deno.remove(dir, { recursive: true });
});
