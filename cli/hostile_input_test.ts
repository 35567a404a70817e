/**
 * Truncated, corrupted and malicious files of each kind, given to `deno task eval`, `deno task
 * encode` and training (`experiments/reproduction/run.ts`) as a new user would: each must end with
 * exactly one `error: ...` line naming the file, exit 1, print no stack trace, and write nothing.
 */
import { deepStrictEqual, ok } from "node:assert/strict";
import { TESTDATA } from "../testing/fixtures.ts";

const ROOT = decodeURIComponent(new URL("../", import.meta.url).pathname);
const TINY = `${TESTDATA}bert/tiny-safetensors`;
const DATA = Deno.env.get("SIMCSE_DATA_DIR") ??
  decodeURIComponent(new URL("../../shared/data", import.meta.url).pathname);
const haveData = await Deno.stat(`${DATA}/senteval/STS/STSBenchmark/sts-dev.csv`).then(
  () => true,
  () => false,
);
const enc = new TextEncoder();

interface Result {
  code: number;
  stderr: string;
}

async function run(script: string, args: string[], cwd = ROOT): Promise<Result> {
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", `${ROOT}${script}`, ...args],
    cwd,
    stdout: "piped",
    stderr: "piped",
    env: { NO_COLOR: "1" },
  }).output();
  return { code: out.code, stderr: new TextDecoder().decode(out.stderr) };
}

/** Every file under `dir` (relative paths), to show that a failed command wrote nothing. */
async function listing(dir: string, prefix = ""): Promise<string[]> {
  const out: string[] = [];
  for await (const e of Deno.readDir(`${dir}/${prefix}`)) {
    const rel = prefix ? `${prefix}/${e.name}` : e.name;
    if (e.isDirectory) out.push(`${rel}/`, ...await listing(dir, rel));
    else out.push(rel);
  }
  return out.sort();
}

/** The tiny BERT folder copied to `dir`, with `changes` applied (a function of the original bytes, or new bytes). */
async function modelFolder(
  dir: string,
  changes: Record<string, Uint8Array | string | ((b: Uint8Array) => Uint8Array)> = {},
): Promise<string> {
  await Deno.mkdir(dir, { recursive: true });
  for await (const e of Deno.readDir(TINY)) await Deno.copyFile(`${TINY}/${e.name}`, `${dir}/${e.name}`);
  for (const [name, change] of Object.entries(changes)) {
    const path = `${dir}/${name}`;
    const bytes = typeof change === "function"
      ? change(await Deno.readFile(path))
      : typeof change === "string"
      ? enc.encode(change)
      : change;
    await Deno.writeFile(path, bytes);
    if (name === "pytorch_model.bin") await Deno.remove(`${dir}/model.safetensors`);
  }
  return dir;
}

const flip = (at: (b: Uint8Array) => number, bit = 0x10) => (b: Uint8Array) => {
  const c = b.slice();
  c[at(c)] ^= bit;
  return c;
};
const truncate = (fraction: number) => (b: Uint8Array) => b.slice(0, Math.floor(b.length * fraction));
const fixture = (name: string) => Deno.readFileSync(`${TESTDATA}checkpoint/${name}`);
const tinyConfig = () => JSON.parse(Deno.readTextFileSync(`${TINY}/config.json`));

/** Broken model folders: [name, files to change, what the error line must contain]. */
const BROKEN_MODELS: [string, Parameters<typeof modelFolder>[1], RegExp][] = [
  [
    "truncated safetensors",
    { "model.safetensors": truncate(0.5) },
    /model\.safetensors \[[\w.]+\]: data_offsets \[\d+, \d+\] run past the end of the data block/,
  ],
  [
    "safetensors cut inside its header",
    { "model.safetensors": (b) => b.slice(0, 100) },
    /model\.safetensors @byte 0: header length \d+ runs past the end of the file \(100 bytes\)/,
  ],
  [
    "safetensors header bit flip",
    { "model.safetensors": flip(() => 8, 0x40) },
    /model\.safetensors @byte 8: header is not valid UTF-8 JSON/,
  ],
  ["safetensors header length 2^64-1", {
    "model.safetensors": (b) => {
      const c = b.slice();
      c.fill(0xff, 0, 8);
      return c;
    },
  }, /model\.safetensors @byte 0: header length 18446744073709551615 exceeds/],
  [
    "os.system pickle",
    { "pytorch_model.bin": fixture("malicious_os_system.bin") },
    /refusing pickle global os\.system/,
  ],
  [
    "reduce-based pickle",
    { "pytorch_model.bin": fixture("malicious_reduce.bin") },
    /refusing pickle global posix\.system/,
  ],
  [
    "zip bomb entry",
    { "pytorch_model.bin": fixture("inflate_beyond_declared.bin") },
    /inflates beyond its declared 16 bytes/,
  ],
  ["storage larger than the file", {
    "pytorch_model.bin": fixture("storage_larger_than_entry.bin"),
  }, /storage declares 1000000000 F32 elements/],
  ["truncated legacy pytorch_model.bin", {
    "pytorch_model.bin": truncate(0.7)(fixture("legacy_bert/pytorch_model.bin")),
  }, /pytorch_model\.bin \[storage \d+\] @byte \d+: storage needs \d+ bytes, the file has \d+ left/],
  ["config.json not JSON", { "config.json": '{"hidden_size": 32,\n oops' }, /config\.json:2: invalid JSON/],
  ["config.json negative layer_norm_eps", {
    "config.json": JSON.stringify({ ...tinyConfig(), layer_norm_eps: -1 }),
  }, /config\.json \[layer_norm_eps\]: layer_norm_eps must be positive/],
  ["config.json absurd hidden_size", {
    "config.json": JSON.stringify({ ...tinyConfig(), hidden_size: 2 ** 40, num_attention_heads: 1 }),
  }, /config\.json \[hidden_size\]: 1099511627776 is implausibly large/],
  ["vocab.txt invalid UTF-8", {
    "vocab.txt": (b) => Uint8Array.from([...b.slice(0, 20), 0xff, ...b.slice(20)]),
  }, /vocab\.txt:\d+ @byte \d+: invalid UTF-8/],
  [
    "vocab.txt duplicate token",
    { "vocab.txt": (b) => Uint8Array.from([...b, ...enc.encode("the\n")]) },
    /vocab\.txt:\d+: duplicate token "the"/,
  ],
  ["tokenizer.json id 2^31", {
    "tokenizer.json": JSON.stringify({
      model: {
        type: "WordPiece",
        unk_token: "[UNK]",
        vocab: { "[PAD]": 0, "[UNK]": 1, "[CLS]": 2, "[SEP]": 2 ** 31 },
      },
    }),
  }, /tokenizer\.json \[model\.vocab\]: token "\[SEP\]" has id 2147483648, but there are only 4 tokens/],
];

/** One `error:` line, last, naming something; exit 1; no stack trace. */
function assertOneLine(r: Result, want: RegExp, what: string): void {
  deepStrictEqual(r.code, 1, `${what}: exit ${r.code}\n${r.stderr}`);
  const lines = r.stderr.trimEnd().split("\n");
  const errors = lines.filter((l) => l.startsWith("error: "));
  deepStrictEqual(errors.length, 1, `${what}: expected one error line\n${r.stderr}`);
  ok(lines.at(-1)!.startsWith("error: "), `${what}: the error is not the last line\n${r.stderr}`);
  ok(want.test(errors[0]), `${what}: ${errors[0]} does not match ${want}`);
  ok(!/^\s+at /m.test(r.stderr), `${what}: stack trace printed\n${r.stderr}`);
}

/** Run `f` over `items` with at most `n` at a time (each spawns a Deno process). */
async function pool<T>(items: T[], n: number, f: (item: T) => Promise<void>): Promise<void> {
  const queue = [...items];
  await Promise.all(Array.from({ length: n }, async () => {
    while (queue.length) await f(queue.shift()!);
  }));
}

Deno.test("`deno task encode` and `deno task eval` refuse each broken model file with one line, exit 1, and write nothing", async () => {
  const dir = await Deno.makeTempDir({ prefix: "hostile_cli_" });
  await Deno.writeTextFile(`${dir}/in.txt`, "a man is playing a guitar.\n");
  const before = await listing(dir);
  const made: string[] = [];
  await pool(BROKEN_MODELS.map((m, i) => [m, i] as const), 4, async ([[what, changes, want], i]) => {
    const model = await modelFolder(`${dir}/model${i}`, changes);
    made.push(...await listing(dir, `model${i}`), `model${i}/`);
    const common = ["--model", model, "--pooler", "avg", "--backend", "cpu"];
    const encode = await run("cli/encode.ts", [
      ...common,
      "--input",
      `${dir}/in.txt`,
      "--output",
      `${dir}/out${i}.jsonl`,
    ]);
    assertOneLine(encode, want, `encode, ${what}`);
    // eval loads models through the same code as encode: one case per kind of file is enough.
    if (
      /^(truncated safetensors|os\.system|config\.json not|vocab\.txt invalid|tokenizer\.json|truncated legacy)/
        .test(what)
    ) {
      const evalr = await run("cli/eval.ts", [
        ...common,
        "--mode",
        "dev",
        "--data-dir",
        DATA,
        "--json",
        `${dir}/out${i}.json`,
      ]);
      assertOneLine(evalr, want, `eval, ${what}`);
    }
  });
  deepStrictEqual(await listing(dir), [...before, ...made].sort(), "a failed command wrote a file");
  await Deno.remove(dir, { recursive: true });
});

Deno.test("`deno task encode` refuses an input file that is not UTF-8, with one line and nothing written", async () => {
  const dir = await Deno.makeTempDir({ prefix: "hostile_cli_" });
  await Deno.writeFile(`${dir}/in.txt`, Uint8Array.from([...enc.encode("fine\n"), 0xc3, 0x28, 0x0a]));
  const r = await run("cli/encode.ts", [
    ...["--model", TINY, "--pooler", "avg", "--backend", "cpu"],
    ...["--input", `${dir}/in.txt`, "--output", `${dir}/out.jsonl`],
  ]);
  assertOneLine(r, /in\.txt:2: file is not valid UTF-8 text/, "encode, bad input");
  deepStrictEqual(await listing(dir), ["in.txt"]);
  await Deno.remove(dir, { recursive: true });
});

Deno.test({
  name:
    "`deno task eval` refuses corrupted STS-B / SICK files with one line naming file and line, and writes no --json",
  ignore: !haveData,
  fn: async () => {
    const dir = await Deno.makeTempDir({ prefix: "hostile_cli_" });
    const stsb = await Deno.readTextFile(`${DATA}/senteval/STS/STSBenchmark/sts-dev.csv`);
    const sick = await Deno.readTextFile(`${DATA}/senteval/SICK/SICK_trial.txt`);
    const lines = stsb.split("\n");
    /** sts-dev.csv with the score (column 4) of line `i` (0-based) replaced. */
    const withScore = (i: number, score: string) =>
      lines.map((l, j) => j === i ? l.split("\t").map((f, k) => k === 4 ? score : f).join("\t") : l).join(
        "\n",
      );
    const cases: [string, string, string, RegExp][] = [
      [
        "non-numeric score",
        withScore(2, "abc"),
        sick,
        /sts-dev\.csv:3: score "abc" is not a number/,
      ],
      [
        "truncated mid-line",
        lines.slice(0, 10).join("\n") + "\n" + lines[10].split("\t").slice(0, 4).join("\t"),
        sick,
        /sts-dev\.csv:11: expected at least 7 tab-separated fields, got 4/,
      ],
      [
        "a score of 1e999",
        withScore(0, "1e999"),
        sick,
        /sts-dev\.csv:1: score "1e999" is not a number/,
      ],
      ["invalid UTF-8", "", sick, /sts-dev\.csv:1 @byte 0: not valid UTF-8/],
      [
        "SICK without its last lines",
        stsb,
        sick.split("\n").slice(0, 300).join("\n"),
        /SICK_trial\.txt: expected 500 scored pairs/,
      ],
    ];
    await pool(cases.map((c, i) => [c, i] as const), 3, async ([[what, stsbText, sickText, want], i]) => {
      const data = `${dir}/data${i}`;
      await Deno.mkdir(`${data}/senteval/STS/STSBenchmark`, { recursive: true });
      await Deno.mkdir(`${data}/senteval/SICK`, { recursive: true });
      await Deno.writeFile(
        `${data}/senteval/STS/STSBenchmark/sts-dev.csv`,
        what === "invalid UTF-8" ? Uint8Array.of(0xff, 0x0a) : enc.encode(stsbText),
      );
      await Deno.writeTextFile(`${data}/senteval/SICK/SICK_trial.txt`, sickText);
      const r = await run("cli/eval.ts", [
        ...["--model", TINY, "--pooler", "avg", "--backend", "cpu", "--mode", "dev"],
        ...["--data-dir", data, "--json", `${dir}/out${i}.json`],
      ]);
      assertOneLine(r, want, `eval, ${what}`);
      ok(!(await Deno.stat(`${dir}/out${i}.json`).then(() => true, () => false)), `${what}: --json written`);
    });
    await Deno.remove(dir, { recursive: true });
  },
});

Deno.test("training refuses broken training files and model files with one line, exit 1, and writes nothing", async () => {
  const dir = await Deno.makeTempDir({ prefix: "hostile_train_" });
  // The cpu preset's model folder is <data dir>/models/…: each run gets its own data folder, holding
  // links to the shared STS files and training files and its own (broken) model folder.
  const tinyDir = "data/shared/models/bert_uncased_L-2_H-128_A-2";
  await Deno.mkdir(`${dir}/data/senteval/STS/STSBenchmark`, { recursive: true });
  await Deno.mkdir(`${dir}/data/senteval/SICK`, { recursive: true });
  await Deno.writeTextFile(`${dir}/data/senteval/STS/STSBenchmark/sts-dev.csv`, "x\n");
  await Deno.writeTextFile(`${dir}/data/senteval/SICK/SICK_trial.txt`, "x\n");
  const trainFiles: [string, string, Uint8Array, RegExp][] = [
    [
      "invalid UTF-8",
      "bad.txt",
      Uint8Array.from([...enc.encode("one sentence\n"), 0xe2, 0x82, 0x0a]),
      /bad\.txt:2 @byte 13: invalid UTF-8/,
    ],
    ["empty", "empty.txt", new Uint8Array(0), /empty\.txt: training file is empty/],
    [
      "text after a closing quote",
      "nli.csv",
      enc.encode('sent0,sent1\n"a" b,c\n'),
      /nli\.csv:2: malformed CSV: text after the closing quote/,
    ],
    [
      "unclosed quote",
      "nli2.csv",
      enc.encode('sent0,sent1\na,"b\nc,d\n'),
      /nli2\.csv:2: malformed CSV: the quoted field opened on line 2 never closes/,
    ],
    [
      "short row",
      "nli3.csv",
      enc.encode("sent0,sent1,hard_neg\na,b,c\nd,e\n"),
      /nli3\.csv:3: row has 2 fields, the header has 3/,
    ],
  ];
  for (const [, name, bytes] of trainFiles) await Deno.writeFile(`${dir}/data/${name}`, bytes);
  const cases: [string, string, Parameters<typeof modelFolder>[1], RegExp][] = trainFiles.map((
    [what, name, , want],
  ) => [what, `data/${name}`, {}, want]);
  for (
    const [what, changes, want] of BROKEN_MODELS.filter(([what]) =>
      /truncated|os\.system|config\.json not|vocab\.txt invalid/.test(what)
    )
  ) {
    cases.push([`model: ${what}`, "data/ok.txt", changes, want]);
  }
  await Deno.writeTextFile(`${dir}/data/ok.txt`, "a sentence\nanother one\n");
  await pool(cases.map((c, i) => [c, i] as const), 3, async ([[what, trainFile, changes, want], i]) => {
    const cwd = `${dir}/run${i}`;
    await modelFolder(`${cwd}/${tinyDir}`, changes);
    for (const e of Deno.readDirSync(`${dir}/data`)) {
      await Deno.symlink(`${dir}/data/${e.name}`, `${cwd}/data/shared/${e.name}`);
    }
    const before = await listing(cwd);
    const r = await run("experiments/reproduction/run.ts", [
      ...["--preset", "cpu", "--backend", "cpu", "--data-dir", "data/shared"],
      ...["--set", `trainFile=${trainFile.replace("data/", "data/shared/")}`, "--set", "outputDir=out"],
    ], cwd);
    assertOneLine(r, want, `train, ${what}`);
    deepStrictEqual(await listing(cwd), before, `train, ${what}: wrote files`);
  });
  await Deno.remove(dir, { recursive: true });
});
