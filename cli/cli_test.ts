import { deepStrictEqual, ok } from "node:assert/strict";
import { type ArrayFixture, assertClose, readFixture, TESTDATA } from "../testing/fixtures.ts";
import { parseTasks } from "./eval.ts";

const ROOT = new URL("../", import.meta.url).pathname;
const TINY = `${TESTDATA}bert/tiny-safetensors`;
const DATA = Deno.env.get("SIMCSE_DATA_DIR") ?? new URL("../../shared/data", import.meta.url).pathname;
const haveData = await Deno.stat(`${DATA}/senteval/STS/STSBenchmark/sts-dev.csv`).then(
  () => true,
  () => false,
);

async function run(
  script: string,
  args: string[],
): Promise<{ code: number; stdout: string; stderr: string }> {
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", `${ROOT}cli/${script}`, ...args],
    cwd: ROOT,
    stdout: "piped",
    stderr: "piped",
    env: { NO_COLOR: "1" },
  }).output();
  const dec = new TextDecoder();
  return { code: out.code, stdout: dec.decode(out.stdout), stderr: dec.decode(out.stderr) };
}

Deno.test("`parseTasks()` expands sts and accepts case-insensitive names", () => {
  deepStrictEqual(parseTasks("sts").length, 7);
  deepStrictEqual(parseTasks("lcqmc,PAWSX,stsbenchmark"), ["LCQMC", "PAWSX", "STSBenchmark"]);
});

type ForwardFixture = { sentences: string[]; expected: { fp32: { pooled: Record<string, ArrayFixture> } } };

/**
 * The fixture's sentences in a temporary folder and a function encoding them with the tiny BERT
 * (`cls_before_pooler`, cpu backend) plus `flags` into `NAME.jsonl`: its rows, one array per sentence.
 */
async function encodeFixture(fx: ForwardFixture) {
  const dir = await Deno.makeTempDir();
  await Deno.writeTextFile(`${dir}/in.txt`, fx.sentences.join("\n") + "\n");
  const encode = async (name: string, flags: string[] = []) => {
    const r = await run("encode.ts", [
      ...["--model", TINY, "--pooler", "cls_before_pooler", "--input", `${dir}/in.txt`],
      ...["--output", `${dir}/${name}.jsonl`, "--backend", "cpu", ...flags],
    ]);
    deepStrictEqual(r.code, 0, r.stderr);
    return (await Deno.readTextFile(`${dir}/${name}.jsonl`)).trim().split("\n").map((l) =>
      JSON.parse(l) as number[]
    );
  };
  return { dir, encode };
}

Deno.test("`deno task encode` writes one JSON array per line equal to the PyTorch cls_before_pooler embeddings", async () => {
  const fx = readFixture<ForwardFixture>("bert/forward.json");
  const { dir, encode } = await encodeFixture(fx);
  const rows = await encode("out");
  deepStrictEqual(rows.length, fx.sentences.length);
  assertClose(rows.flat(), fx.expected.fp32.pooled.cls_before_pooler.data, 1e-4, "encoded embeddings");
  await Deno.remove(dir, { recursive: true });
});

Deno.test("`deno task encode --precision bf16|fp16` (and `--fp16`) runs the encoder in that precision: within its error of PyTorch's fp32 embeddings, not fp32's bits", async () => {
  const fx = readFixture<ForwardFixture>("bert/forward.json");
  const { dir, encode: rows } = await encodeFixture(fx);
  const encode = async (name: string, flags: string[]) => (await rows(name, flags)).flat();
  const want = fx.expected.fp32.pooled.cls_before_pooler.data;
  const f32 = await encode("fp32", []);
  for (
    const [name, flags, tol] of [["bf16", ["--precision", "bf16"], 6e-2], ["fp16", ["--fp16"], 1e-2]] as const
  ) {
    const got = await encode(name, [...flags]);
    const err = assertClose(got, want, tol, `${name} embeddings vs PyTorch fp32`, 1);
    ok(err > 1e-5, `${name}: the numbers must move off fp32's (max relative error ${err})`);
    ok(got.some((v, i) => v !== f32[i]), `${name}: not fp32's embeddings`);
  }
  deepStrictEqual(await encode("fp16-flag", ["--precision", "fp16"]), await encode("fp16-again", ["--fp16"]));
  const bad = await run("encode.ts", [
    "--model",
    TINY,
    "--input",
    `${dir}/in.txt`,
    "--output",
    `${dir}/bad.jsonl`,
    "--fp16",
    "--precision",
    "bf16",
  ]);
  deepStrictEqual(bad.code, 1);
  deepStrictEqual(bad.stderr.trim().split("\n").length, 1, bad.stderr);
  ok(/--fp16 contradicts --precision bf16/.test(bad.stderr), bad.stderr);
  await Deno.remove(dir, { recursive: true });
});

Deno.test({
  name: "`deno task eval --json` prints the official layout and writes the same cells",
  ignore: !haveData,
  fn: async () => {
    const dir = await Deno.makeTempDir();
    const r = await run("eval.ts", [
      "--model",
      TINY,
      "--pooler",
      "avg",
      "--mode",
      "dev",
      "--data-dir",
      DATA,
      "--backend",
      "wasm",
      "--json",
      `${dir}/dev.json`,
    ]);
    deepStrictEqual(r.code, 0, r.stderr);
    const json = JSON.parse(await Deno.readTextFile(`${dir}/dev.json`));
    deepStrictEqual(Object.keys(json), ["STSBenchmark", "SICKRelatedness"]);
    ok(r.stdout.includes("| STSBenchmark | SICKRelatedness |"), r.stdout);
    ok(r.stdout.includes(json.STSBenchmark.toFixed(2)), "table and JSON agree");
    await Deno.remove(dir, { recursive: true });
  },
});

Deno.test("bad input gives one clear line and exit 1 (no stack trace), with nothing written", async () => {
  const dir = await Deno.makeTempDir();
  const cases: [string, string[], RegExp][] = [
    ["eval.ts", ["--model", `${dir}/nope`, "--pooler", "avg"], /deno task fetch --list/],
    ["eval.ts", ["--model", TINY, "--pooler", "max"], /unknown pooler 'max'/],
    ["eval.ts", ["--model", TINY, "--pooler", "avg", "--tasks", "sts99"], /unknown task 'sts99'/],
    ["eval.ts", ["--model", TINY, "--pooler", "avg", "--bogus"], /bogus/],
    ["encode.ts", [
      "--model",
      TINY,
      "--pooler",
      "avg",
      "--input",
      `${dir}/missing.txt`,
      "--output",
      `${dir}/o.jsonl`,
    ], /missing\.txt: file not found/],
  ];
  // A truncated checkpoint.
  await Deno.mkdir(`${dir}/broken`);
  for (const f of ["config.json", "vocab.txt"]) await Deno.copyFile(`${TINY}/${f}`, `${dir}/broken/${f}`);
  const bytes = await Deno.readFile(`${TINY}/model.safetensors`);
  await Deno.writeFile(`${dir}/broken/model.safetensors`, bytes.slice(0, bytes.length >> 1));
  await Deno.writeTextFile(`${dir}/in.txt`, "hello\n");
  cases.push(["encode.ts", [
    "--model",
    `${dir}/broken`,
    "--pooler",
    "avg",
    "--input",
    `${dir}/in.txt`,
    "--output",
    `${dir}/o.jsonl`,
    "--backend",
    "cpu",
  ], /model\.safetensors/]);
  for (const [script, args, want] of cases) {
    const r = await run(script, args);
    deepStrictEqual(r.code, 1, `${script} ${args.join(" ")}: ${r.stderr}`);
    ok(want.test(r.stderr), `${args.join(" ")}: ${r.stderr}`);
    ok(r.stderr.trim().startsWith("error: "), r.stderr);
    ok(!/\n\s+at /.test(r.stderr), `stack trace printed: ${r.stderr}`);
  }
  ok(!(await Deno.stat(`${dir}/o.jsonl`).then(() => true, () => false)), "nothing written");
  await Deno.remove(dir, { recursive: true });
});
