import { equal, ok } from "node:assert/strict";
import { type ArrayFixture, assertClose, readFixture, TESTDATA } from "../testing/fixtures.ts";
import { resolveDataDir } from "../lib/eval/sts_data.ts";

const ROOT = new URL("../", import.meta.url).pathname;
const MODEL = `${TESTDATA}gpt2/tiny-safetensors`;
const DATA = resolveDataDir(
  undefined,
  (k) =>
    Deno.env.get(k) ??
      (k === "SIMCSE_DATA_DIR" ? new URL("../../shared/data", import.meta.url).pathname : undefined),
);
const haveData = await Deno.stat(`${DATA}/senteval/STS/STSBenchmark/sts-test.csv`).then(
  () => true,
  () => false,
);
if (!haveData) {
  console.warn(`GPT-2 eval CLI test skipped: no STS-B test data under ${DATA} (set SIMCSE_DATA_DIR)`);
}

interface CliFixture {
  STSBenchmark: Record<"avg" | "wavg", number>;
}
interface ForwardFixture {
  sentences: string[];
  expected: { alone: Record<string, ArrayFixture> };
}

async function run(script: string, args: string[]): Promise<{ code: number; stderr: string }> {
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", `${ROOT}cli/${script}`, ...args],
    cwd: ROOT,
    stdout: "piped",
    stderr: "piped",
  }).output();
  return { code: out.code, stderr: new TextDecoder().decode(out.stderr) };
}

Deno.test({
  name:
    "`deno task eval --pooler wavg` on a tiny GPT-2 folder gives the PyTorch reference's STS-B test Spearman (±0.02)",
  ignore: !haveData,
  fn: async () => {
    const want = readFixture<CliFixture>("gpt2/cli_eval.json", "simcse-gpt2-fixture").STSBenchmark;
    const dir = await Deno.makeTempDir();
    // One pooler keeps the test short (the fixture also holds avg's value; `encode` below covers avg).
    for (const pooler of ["wavg"] as const) {
      const json = `${dir}/${pooler}.json`;
      const r = await run("eval.ts", [
        "--model",
        MODEL,
        "--pooler",
        pooler,
        "--tasks",
        "STSBenchmark",
        "--data-dir",
        DATA,
        "--backend",
        "wasm",
        "--json",
        json,
      ]);
      equal(r.code, 0, r.stderr);
      const got = JSON.parse(await Deno.readTextFile(json)).STSBenchmark;
      ok(Math.abs(got - want[pooler]) <= 0.02, `${pooler}: got ${got}, PyTorch ${want[pooler]}`);
    }
    await Deno.remove(dir, { recursive: true });
  },
});

Deno.test("`deno task encode --pooler avg|wavg|wavg_jittor` on a tiny GPT-2 folder gives PyTorch's embeddings (1e-4)", async () => {
  const fx = readFixture<ForwardFixture>("gpt2/forward.json", "simcse-gpt2-fixture");
  const dir = await Deno.makeTempDir();
  await Deno.writeTextFile(`${dir}/in.txt`, fx.sentences.join("\n") + "\n");
  // batch size 1: each sentence alone, as the fixture's `alone` rows (wavg_jittor depends on padding)
  for (const pooler of ["avg", "wavg", "wavg_jittor"]) {
    const out = `${dir}/${pooler}.jsonl`;
    const r = await run("encode.ts", [
      "--model",
      MODEL,
      "--pooler",
      pooler,
      "--input",
      `${dir}/in.txt`,
      "--output",
      out,
      "--batch-size",
      "1",
      "--backend",
      "wasm",
    ]);
    equal(r.code, 0, r.stderr);
    const rows = (await Deno.readTextFile(out)).trim().split("\n").map((l) => JSON.parse(l) as number[]);
    assertClose(rows.flat(), fx.expected.alone[pooler].data, 1e-4, `encode --pooler ${pooler}`, 1);
  }
  await Deno.remove(dir, { recursive: true });
});

Deno.test("`deno task eval` on a GPT-2 folder without tokenizer files fails with one line naming what is missing", async () => {
  const dir = await Deno.makeTempDir();
  for (const f of ["config.json", "model.safetensors", "vocab.json"]) {
    await Deno.copyFile(`${MODEL}/${f}`, `${dir}/${f}`);
  }
  const r = await run("eval.ts", ["--model", dir, "--pooler", "wavg", "--data-dir", DATA]);
  equal(r.code, 1);
  ok(/merges\.txt/.test(r.stderr) && r.stderr.trim().split("\n").length === 1, r.stderr);
  await Deno.remove(dir, { recursive: true });
});
