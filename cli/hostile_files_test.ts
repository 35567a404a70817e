/**
 * Hostile files and flags of issue 19, given to the CLIs as a user would: a damaged HNSW graph in a
 * `.simidx`, a tokenizer.json id beyond the model's vocabulary, a config whose layer count disagrees
 * with the checkpoint, NaN weights, CR-only text files, out-of-range gold scores, bad numeric flags
 * and `--help` on every entry point, and terminal escapes in searched sentences. Each must end with
 * exactly one `error: ...` line (or a correct result), never a crash, a stack trace or a silently
 * wrong answer.
 */
import { deepStrictEqual, ok } from "node:assert/strict";
import { TESTDATA } from "../testing/fixtures.ts";
import { parseSafetensors, serializeSafetensors } from "../lib/checkpoint/safetensors.ts";

const TINY_GPT2 = `${TESTDATA}gpt2/tiny-safetensors`;
const DATA = Deno.env.get("SIMCSE_DATA_DIR") ??
  decodeURIComponent(new URL("../data", import.meta.url).pathname);
const haveData = await Deno.stat(`${DATA}/senteval/STS/STSBenchmark/sts-dev.csv`).then(
  () => true,
  () => false,
);
const ROOT = decodeURIComponent(new URL("../", import.meta.url).pathname);
const TINY = `${TESTDATA}bert/tiny-safetensors`;
const enc = new TextEncoder();
const dec = new TextDecoder();

interface Result {
  code: number;
  stdout: string;
  stderr: string;
}

async function run(script: string, args: string[], env: Record<string, string> = {}): Promise<Result> {
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", `${ROOT}${script}`, ...args],
    cwd: ROOT,
    stdout: "piped",
    stderr: "piped",
    env: { NO_COLOR: "1", ...env },
  }).output();
  return { code: out.code, stdout: dec.decode(out.stdout), stderr: dec.decode(out.stderr) };
}

/** One `error:` line, last, matching `want`; exit 1; no stack trace. */
function assertOneLine(r: Result, want: RegExp, what: string): void {
  deepStrictEqual(r.code, 1, `${what}: exit ${r.code}\n${r.stderr}`);
  const lines = r.stderr.trimEnd().split("\n");
  const errors = lines.filter((l) => l.startsWith("error: "));
  deepStrictEqual(errors.length, 1, `${what}: expected one error line\n${r.stderr}`);
  ok(lines.at(-1)!.startsWith("error: "), `${what}: the error is not the last line\n${r.stderr}`);
  ok(want.test(errors[0]), `${what}: ${errors[0]} does not match ${want}`);
  ok(!/^\s+at /m.test(r.stderr), `${what}: stack trace printed\n${r.stderr}`);
}

/** A tiny model folder (BERT unless `from` says otherwise) copied to `dir`, with files replaced. */
async function modelFolder(
  dir: string,
  changes: Record<string, string | Uint8Array> = {},
  from = TINY,
): Promise<string> {
  await Deno.mkdir(dir, { recursive: true });
  for await (const e of Deno.readDir(from)) await Deno.copyFile(`${from}/${e.name}`, `${dir}/${e.name}`);
  for (const [name, bytes] of Object.entries(changes)) {
    await Deno.writeFile(`${dir}/${name}`, typeof bytes === "string" ? enc.encode(bytes) : bytes);
  }
  return dir;
}

/** Offset and length of the `hnsw` section of a `.simidx` file (from its JSON header). */
function hnswSection(bytes: Uint8Array): { start: number; length: number } {
  const headerLen = Number(new DataView(bytes.buffer).getBigUint64(8, true));
  const h = JSON.parse(dec.decode(bytes.subarray(16, 16 + headerLen)));
  return { start: 16 + headerLen + h.sections.hnsw.offset, length: h.sections.hnsw.length };
}

Deno.test("`deno task search` on a .simidx whose HNSW section is random bytes prints one error line and leaves no temp file", async () => {
  const dir = await Deno.makeTempDir({ prefix: "hostile_hnsw_" });
  const tmp = await Deno.makeTempDir({ prefix: "hostile_hnsw_tmp_" });
  const sentences = Array.from({ length: 40 }, (_, i) => `sentence number ${i} about a cat .`);
  await Deno.writeTextFile(`${dir}/s.txt`, sentences.join("\n") + "\n");
  const common = ["--model", TINY, "--backend", "cpu"];
  const built = await run("cli/search.ts", [
    ...common,
    ...["--index", `${dir}/good.simidx`, "--build", `${dir}/s.txt`, "--approximate"],
  ]);
  deepStrictEqual(built.code, 0, built.stderr);
  const good = await Deno.readFile(`${dir}/good.simidx`);
  const sec = hnswSection(good);
  // A fixed pseudo-random fill (xorshift), so a failure reproduces.
  let x = 0x9e3779b9;
  const random = good.slice();
  for (let i = sec.start; i < sec.start + sec.length; i++) {
    x ^= x << 13, x ^= x >>> 17, x ^= x << 5;
    random[i] = x & 0xff;
  }
  await Deno.writeFile(`${dir}/random.simidx`, random);
  const r = await run("cli/search.ts", [...common, "--index", `${dir}/random.simidx`, "--query", "a cat"], {
    TMPDIR: tmp,
  });
  assertOneLine(r, /random\.simidx \[hnsw\] @byte \d+: the HNSW graph is damaged/, "random HNSW bytes");
  deepStrictEqual([...Deno.readDirSync(tmp)].map((e) => e.name), [], "temp files left behind");
  // The intact graph still loads and answers.
  const fine = await run("cli/search.ts", [...common, "--index", `${dir}/good.simidx`, "--query", "a cat"], {
    TMPDIR: tmp,
  });
  deepStrictEqual(fine.code, 0, fine.stderr);
  deepStrictEqual([...Deno.readDirSync(tmp)].map((e) => e.name), [], "temp files left behind");
  await Deno.remove(dir, { recursive: true });
  await Deno.remove(tmp, { recursive: true });
});

Deno.test("`deno task encode` refuses a tokenizer whose ids go beyond the model's vocab_size, naming the file and the id", async () => {
  const dir = await Deno.makeTempDir({ prefix: "hostile_vocab_" });
  await Deno.writeTextFile(`${dir}/in.txt`, "e\n");
  const gpt2Vocab = JSON.parse(await Deno.readTextFile(`${TINY_GPT2}/vocab.json`)) as Record<string, number>;
  const bertVocab = (await Deno.readTextFile(`${TINY}/vocab.txt`)).trimEnd().split("\n");
  const cases: [string, string, Record<string, string>, RegExp][] = [
    [
      "GPT-2 vocab.json id 1000 (vocab_size 457)",
      TINY_GPT2,
      { "vocab.json": JSON.stringify({ ...gpt2Vocab, e: 1000 }) },
      /vocab\.json: token "e" has id 1000, beyond the model's vocab_size 457/,
    ],
    [
      "GPT-2 vocab.json with one more token than vocab_size",
      TINY_GPT2,
      { "vocab.json": JSON.stringify({ ...gpt2Vocab, "Ġzebra": 457 }) },
      /vocab\.json: token "Ġzebra" has id 457, beyond the model's vocab_size 457/,
    ],
    [
      "BERT vocab.txt longer than vocab_size",
      TINY,
      { "vocab.txt": [...bertVocab, "zebra"].join("\n") + "\n" },
      /vocab\.txt: token "zebra" has id 100, beyond the model's vocab_size 100/,
    ],
  ];
  for (const [i, [what, from, changes, want]] of cases.entries()) {
    const model = await modelFolder(`${dir}/m${i}`, changes, from);
    const r = await run("cli/encode.ts", [
      ...["--model", model, "--pooler", "avg", "--backend", "cpu"],
      ...["--input", `${dir}/in.txt`, "--output", `${dir}/out${i}.jsonl`],
    ]);
    assertOneLine(r, want, what);
  }
  await Deno.remove(dir, { recursive: true });
});

Deno.test("`deno task encode` refuses a config whose layer count disagrees with the checkpoint, and unknown tensors", async () => {
  const dir = await Deno.makeTempDir({ prefix: "hostile_layers_" });
  await Deno.writeTextFile(`${dir}/in.txt`, "a cat\n");
  const bertConfig = JSON.parse(await Deno.readTextFile(`${TINY}/config.json`));
  const gpt2Config = JSON.parse(await Deno.readTextFile(`${TINY_GPT2}/config.json`));
  const sd = parseSafetensors(await Deno.readFile(`${TINY}/model.safetensors`), "tiny");
  const withExtra = new Map(sd);
  withExtra.set("encoder.rogue.weight", { dtype: "F32", shape: [2], data: new Float32Array([1, 2]) });
  const cases: [string, string, Record<string, string | Uint8Array>, RegExp][] = [
    [
      "BERT config with 2 of the checkpoint's 3 layers",
      TINY,
      { "config.json": JSON.stringify({ ...bertConfig, num_hidden_layers: 2 }) },
      /model\.safetensors \[num_hidden_layers\]: the checkpoint has 3 layers \(tensors up to layer 2\), config\.json says num_hidden_layers 2/,
    ],
    [
      "GPT-2 config with 1 of the checkpoint's 2 layers",
      TINY_GPT2,
      { "config.json": JSON.stringify({ ...gpt2Config, n_layer: 1 }) },
      /model\.safetensors \[n_layer\]: the checkpoint has 2 layers \(tensors up to layer 1\), config\.json says n_layer 1/,
    ],
    [
      "BERT config with more layers than the checkpoint",
      TINY,
      { "config.json": JSON.stringify({ ...bertConfig, num_hidden_layers: 4 }) },
      /model\.safetensors \[encoder\.layer\.3\.[\w.]+\]: missing tensor/,
    ],
    [
      "a tensor no BertModel has",
      TINY,
      { "model.safetensors": serializeSafetensors(withExtra) },
      /model\.safetensors \[encoder\.rogue\.weight\]: unexpected tensor/,
    ],
  ];
  for (const [i, [what, from, changes, want]] of cases.entries()) {
    const model = await modelFolder(`${dir}/m${i}`, changes, from);
    const r = await run("cli/encode.ts", [
      ...["--model", model, "--pooler", "avg", "--backend", "cpu"],
      ...["--input", `${dir}/in.txt`, "--output", `${dir}/out${i}.jsonl`],
    ]);
    assertOneLine(r, want, what);
  }
  await Deno.remove(dir, { recursive: true });
});

/** The tiny BERT's safetensors with `name` replaced by `f` of its values. */
function withTensor(name: string, f: (v: Float32Array) => Float32Array): Uint8Array {
  const sd = parseSafetensors(Deno.readFileSync(`${TINY}/model.safetensors`), "tiny");
  const t = sd.get(name)!;
  sd.set(name, { ...t, data: f(Float32Array.from(t.data as Float32Array)) });
  return serializeSafetensors(sd);
}

Deno.test("`deno task encode` and `eval` refuse NaN/Inf weights naming the tensor, and NaN embeddings instead of writing null or nan", async () => {
  const dir = await Deno.makeTempDir({ prefix: "hostile_nan_" });
  await Deno.writeTextFile(`${dir}/in.txt`, "a cat\nthe man\n");
  const set = (i: number, x: number) => (v: Float32Array) => (v[i] = x, v);
  const cases: [string, Uint8Array, RegExp][] = [
    [
      "a NaN weight",
      withTensor("encoder.layer.1.attention.self.query.weight", set(5, NaN)),
      /model\.safetensors \[encoder\.layer\.1\.attention\.self\.query\.weight\]: value 5 of 1024 is NaN/,
    ],
    [
      "an infinite weight",
      withTensor("embeddings.LayerNorm.bias", set(0, -Infinity)),
      /model\.safetensors \[embeddings\.LayerNorm\.bias\]: value 0 of 32 is -Infinity/,
    ],
    [
      // Finite weights whose products overflow float32: the embeddings come out NaN.
      "weights that overflow",
      withTensor("embeddings.LayerNorm.weight", (v) => v.fill(3e38)),
      /the model produced NaN in the embedding of "[^"]+" \(dimension \d+\)/,
    ],
  ];
  for (const [i, [what, weights, want]] of cases.entries()) {
    const model = await modelFolder(`${dir}/m${i}`, { "model.safetensors": weights });
    const common = ["--model", model, "--pooler", "avg", "--backend", "cpu"];
    const r = await run("cli/encode.ts", [
      ...common,
      "--input",
      `${dir}/in.txt`,
      "--output",
      `${dir}/o${i}.jsonl`,
    ]);
    assertOneLine(r, want, `encode, ${what}`);
    if (haveData) {
      const e = await run("cli/eval.ts", [
        ...[...common, "--mode", "dev", "--tasks", "STSBenchmark", "--data-dir", DATA],
        ...["--json", `${dir}/o${i}.json`],
      ]);
      assertOneLine(e, want, `eval, ${what}`);
    }
  }
  deepStrictEqual([...Deno.readDirSync(dir)].filter((e) => e.isFile).map((e) => e.name), ["in.txt"]);
  await Deno.remove(dir, { recursive: true });
});

Deno.test({
  name:
    "`deno task eval` refuses gold scores outside 0–5 (STS-B) and 1–5 (SICK) with file:line, and writes no --json",
  ignore: !haveData,
  fn: async () => {
    const dir = await Deno.makeTempDir({ prefix: "hostile_gold_" });
    const stsb = (await Deno.readTextFile(`${DATA}/senteval/STS/STSBenchmark/sts-dev.csv`)).split("\n");
    const sick = (await Deno.readTextFile(`${DATA}/senteval/SICK/SICK_trial.txt`)).split("\n");
    /** `lines` with field `col` of line `i` (0-based) replaced by `value`. */
    const withField = (lines: string[], i: number, col: number, value: string) =>
      lines.map((l, j) => j === i ? l.split("\t").map((f, k) => k === col ? value : f).join("\t") : l).join(
        "\n",
      );
    const cases: [string, string, string, RegExp][] = [
      [
        "STS-B score 57",
        withField(stsb, 4, 4, "57"),
        sick.join("\n"),
        /sts-dev\.csv:5: score "57" is not in 0–5/,
      ],
      [
        "STS-B score -3",
        withField(stsb, 0, 4, "-3"),
        sick.join("\n"),
        /sts-dev\.csv:1: score "-3" is not in 0–5/,
      ],
      [
        "SICK score 0",
        stsb.join("\n"),
        withField(sick, 7, 3, "0"),
        /SICK_trial\.txt:8: score "0" is not in 1–5/,
      ],
    ];
    for (const [i, [what, stsbText, sickText, want]] of cases.entries()) {
      const data = `${dir}/data${i}`;
      await Deno.mkdir(`${data}/senteval/STS/STSBenchmark`, { recursive: true });
      await Deno.mkdir(`${data}/senteval/SICK`, { recursive: true });
      await Deno.writeTextFile(`${data}/senteval/STS/STSBenchmark/sts-dev.csv`, stsbText);
      await Deno.writeTextFile(`${data}/senteval/SICK/SICK_trial.txt`, sickText);
      const r = await run("cli/eval.ts", [
        ...["--model", TINY, "--pooler", "avg", "--backend", "cpu", "--mode", "dev"],
        ...["--data-dir", data, "--json", `${dir}/out${i}.json`],
      ]);
      assertOneLine(r, want, what);
      ok(!(await Deno.stat(`${dir}/out${i}.json`).then(() => true, () => false)), `${what}: --json written`);
    }
    await Deno.remove(dir, { recursive: true });
  },
});

Deno.test("`deno task search` prints no terminal escape from indexed sentences or the query, and reads CR-only files", async () => {
  const dir = await Deno.makeTempDir({ prefix: "hostile_esc_" });
  const sentences = [
    "a \u001b[1;31mred\u001b[0m cat sits",
    "x\u001b]0;pwned\u0007 a cat sleeps\u001b[2J",
    "\u009b31mthe dog barks",
  ];
  // CR-only line ends (old Mac): three sentences, not one.
  await Deno.writeTextFile(`${dir}/s.txt`, sentences.join("\r") + "\r");
  const common = ["--model", TINY, "--backend", "cpu", "--index", `${dir}/s.simidx`];
  const built = await run("cli/search.ts", [...common, "--build", `${dir}/s.txt`]);
  deepStrictEqual(built.code, 0, built.stderr);
  ok(/indexed 3 sentences/.test(built.stderr), built.stderr);
  const r = await run("cli/search.ts", [
    ...common,
    ...["--query", "a \u001b[5mcat\u001b[0m", "--top-k", "3", "--threshold=-1"],
  ]);
  deepStrictEqual(r.code, 0, r.stderr);
  // deno-lint-ignore no-control-regex -- the characters that must not reach the terminal
  ok(!/[\u0000-\u0008\u000b-\u001f\u007f-\u009f]/.test(r.stdout), JSON.stringify(r.stdout));
  const lines = r.stdout.trimEnd().split("\n");
  deepStrictEqual(lines[0], "query: a cat");
  deepStrictEqual(
    lines.slice(1).map((l) => l.replace(/^ +-?\d\.\d{4} {2}/, "")).sort(),
    ["a red cat sits", "the dog barks", "x a cat sleeps"],
  );
  // --json keeps the sentences exact (JSON escapes the controls).
  const j = await run("cli/search.ts", [
    ...common,
    "--query",
    "cat",
    "--top-k",
    "3",
    "--threshold=-1",
    "--json",
  ]);
  deepStrictEqual(j.code, 0, j.stderr);
  deepStrictEqual(
    JSON.parse(j.stdout)[0].hits.map((h: { sentence: string }) => h.sentence).sort(),
    [...sentences].sort(),
  );
  await Deno.remove(dir, { recursive: true });
});
