/**
 * `deno task encode` as a user runs it on a long corpus: read from a pipe, killed part way, resumed.
 */
import { deepStrictEqual, ok } from "node:assert/strict";
import { TESTDATA } from "../testing/fixtures.ts";

const ROOT = decodeURIComponent(new URL("../", import.meta.url).pathname);
const TINY = `${TESTDATA}bert/tiny-safetensors`;

function encodeArgs(input: string, output: string, extra: string[] = []): string[] {
  return [
    "run",
    "-A",
    `${ROOT}cli/encode.ts`,
    "--model",
    TINY,
    "--pooler",
    "avg",
    "--input",
    input,
    "--output",
    output,
    "--batch-size",
    "4", // windows of 16 batches: 64 lines
    "--backend",
    "cpu",
    ...extra,
  ];
}

async function run(args: string[]): Promise<{ code: number; stderr: string }> {
  const out = await new Deno.Command(Deno.execPath(), {
    args,
    cwd: ROOT,
    stdout: "piped",
    stderr: "piped",
    env: { NO_COLOR: "1" },
  }).output();
  return { code: out.code, stderr: new TextDecoder().decode(out.stderr) };
}

const exists = (p: string) => Deno.stat(p).then(() => true, () => false);

Deno.test("`deno task encode` killed mid-run keeps the previous output; --resume then writes the uninterrupted file byte for byte", async () => {
  const dir = await Deno.makeTempDir();
  const words = ["the", "cat", "sat", "on", "a", "mat", "man", "plays", "guitar", "."];
  const lines = Array.from(
    { length: 200 },
    (_, i) => Array.from({ length: 1 + (i * 7) % 13 }, (_, j) => words[(i + j * 3) % words.length]).join(" "),
  );
  // CR-only line endings: each must stay one sentence.
  await Deno.writeTextFile(`${dir}/in.txt`, lines.join("\r") + "\r");
  const full = await run(encodeArgs(`${dir}/in.txt`, `${dir}/full.jsonl`));
  deepStrictEqual(full.code, 0, full.stderr);
  // the progress bar's last line shows every line done (it showed 0/200 when the input ended in its window)
  ok(/^encode \[#{24}\] 200\/200 /m.test(full.stderr), full.stderr);
  const want = await Deno.readFile(`${dir}/full.jsonl`);
  deepStrictEqual(new TextDecoder().decode(want).split("\n").length, 201, "one line per sentence");

  // The same sentences through a pipe (/dev/stdin), stopped by SIGKILL after two windows were flushed
  // while the third was still being read.
  const out = `${dir}/out.jsonl`;
  await Deno.writeTextFile(out, "previous\n");
  const child = new Deno.Command(Deno.execPath(), {
    args: encodeArgs("/dev/stdin", out),
    cwd: ROOT,
    stdin: "piped",
    stdout: "null",
    stderr: "piped",
    env: { NO_COLOR: "1" },
  }).spawn();
  const w = child.stdin.getWriter();
  await w.write(new TextEncoder().encode(lines.slice(0, 150).join("\n") + "\n"));
  let flushed = 0;
  for (let t = 0; t < 1200 && flushed < 128; t++) {
    await new Promise((r) => setTimeout(r, 50));
    try {
      flushed = JSON.parse(await Deno.readTextFile(`${out}.partial.json`)).lines;
    } catch { /* not yet written */ }
  }
  deepStrictEqual(flushed, 128, "two windows of 64 flushed");
  child.kill("SIGKILL");
  await child.status;
  await w.close().catch(() => {});
  await child.stderr.cancel();
  deepStrictEqual(await Deno.readTextFile(out), "previous\n", "the previous output is untouched");
  // Leave a torn line after the flushed part, as a kill during a write does.
  await Deno.writeTextFile(`${out}.partial`, "[0.5,", { append: true });

  // Resuming in another precision would mix two encoders' rows: refused in one line, nothing changed.
  const mixed = await run(encodeArgs(`${dir}/in.txt`, out, ["--resume", "--precision", "bf16"]));
  deepStrictEqual(mixed.code, 1);
  ok(/^error: .*different precision; resume with the same model and flags/m.test(mixed.stderr), mixed.stderr);
  deepStrictEqual(await Deno.readTextFile(out), "previous\n");

  const resumed = await run(encodeArgs(`${dir}/in.txt`, out, ["--resume"]));
  deepStrictEqual(resumed.code, 0, resumed.stderr);
  ok(resumed.stderr.includes("resuming after line 128"), resumed.stderr);
  deepStrictEqual(await Deno.readFile(out), want, "the resumed file equals the uninterrupted one");
  ok(!(await exists(`${out}.partial`)) && !(await exists(`${out}.partial.json`)), "partial files removed");

  // --resume with nothing to resume is one clear line.
  const none = await run(encodeArgs(`${dir}/in.txt`, `${dir}/new.jsonl`, ["--resume"]));
  deepStrictEqual(none.code, 1);
  ok(/^error: .*new\.jsonl\.partial\.json: no partial encode to resume/m.test(none.stderr), none.stderr);
  await Deno.remove(dir, { recursive: true });
});

Deno.test("no CLI output may destroy an input or a special file: one line, exit 1, the input intact", async () => {
  const dir = await Deno.makeTempDir();
  const model = `${dir}/model`;
  await Deno.mkdir(model);
  for await (const e of Deno.readDir(TINY)) await Deno.copyFile(`${TINY}/${e.name}`, `${model}/${e.name}`);
  const text = "a man plays a guitar.\nthe cat sat.\n";
  await Deno.writeTextFile(`${dir}/s.txt`, text);
  await Deno.symlink(`${dir}/s.txt`, `${dir}/link.txt`);
  await Deno.link(`${dir}/s.txt`, `${dir}/hard.txt`);
  await Deno.mkdir(`${dir}/folder`);
  const fifo = await new Deno.Command("mkfifo", { args: [`${dir}/fifo`] }).output();
  ok(fifo.success);
  const config = await Deno.readFile(`${model}/config.json`);
  const cli = (script: string, args: string[]) =>
    run(["run", "-A", `${ROOT}cli/${script}`, "--model", model, "--backend", "cpu", ...args]);
  const encode = (input: string, output: string) =>
    cli("encode.ts", ["--pooler", "avg", "--input", input, "--output", output]);
  const cases: [string, () => Promise<{ code: number; stderr: string }>, RegExp][] = [
    [
      "encode onto its input",
      () => encode(`${dir}/s.txt`, `${dir}/s.txt`),
      /--output is the same file as the input/,
    ],
    [
      "encode onto a symlink to its input",
      () => encode(`${dir}/s.txt`, `${dir}/link.txt`),
      /same file as the input/,
    ],
    [
      "encode onto a hard link to its input",
      () => encode(`${dir}/s.txt`, `${dir}/hard.txt`),
      /same file as the input/,
    ],
    [
      "encode onto a model file",
      () => encode(`${dir}/s.txt`, `${model}/config.json`),
      /config\.json, an input/,
    ],
    ["encode onto a folder", () => encode(`${dir}/s.txt`, `${dir}/folder`), /--output is a directory/],
    ["encode onto a fifo", () => encode(`${dir}/s.txt`, `${dir}/fifo`), /--output is a fifo/],
    [
      "search --build onto its sentences",
      () => cli("search.ts", ["--build", `${dir}/s.txt`, "--index", `${dir}/link.txt`]),
      /--index is the same file as the input/,
    ],
    [
      "eval --json onto a model file",
      () => cli("eval.ts", ["--pooler", "avg", "--json", `${model}/config.json`]),
      /--json is the same file as .*config\.json, an input/,
    ],
  ];
  for (const [what, start, want] of cases) {
    const r = await start(); // one at a time: concurrent Deno processes print lock-wait notes
    deepStrictEqual(r.code, 1, `${what}: ${r.stderr}`);
    const lines = r.stderr.trimEnd().split("\n");
    const errors = lines.filter((l) => l.startsWith("error: "));
    ok(errors.length === 1 && lines.at(-1) === errors[0] && want.test(errors[0]), `${what}: ${r.stderr}`);
    ok(!/^\s+at /m.test(r.stderr), `${what}: stack trace printed\n${r.stderr}`);
  }
  deepStrictEqual(await Deno.readTextFile(`${dir}/s.txt`), text, "the input is intact");
  ok((await Deno.lstat(`${dir}/link.txt`)).isSymlink, "the link is intact");
  deepStrictEqual(await Deno.readFile(`${model}/config.json`), config);
  ok((await Deno.stat(`${dir}/fifo`)).isFifo && (await Deno.stat(`${dir}/folder`)).isDirectory);
  deepStrictEqual(
    (await Array.fromAsync(Deno.readDir(dir))).map((e) => e.name).sort(),
    ["fifo", "folder", "hard.txt", "link.txt", "model", "s.txt"],
    "nothing else written",
  );
  await Deno.remove(dir, { recursive: true });
});

Deno.test("`deno task search --build /dev/stdin` indexes sentences piped in (CR-only line endings)", async () => {
  const dir = await Deno.makeTempDir();
  const child = new Deno.Command(Deno.execPath(), {
    args: [
      ...["run", "-A", `${ROOT}cli/search.ts`, "--model", TINY, "--backend", "cpu", "--pooler", "avg"],
      ...["--build", "/dev/stdin", "--index", `${dir}/x.simidx`, "--query", "the cat sat", "--json"],
    ],
    cwd: ROOT,
    stdin: "piped",
    stdout: "piped",
    stderr: "piped",
    env: { NO_COLOR: "1" },
  }).spawn();
  const w = child.stdin.getWriter();
  await w.write(new TextEncoder().encode("the cat sat\ra man plays\rhello world\r"));
  await w.close();
  const out = await child.output();
  const stderr = new TextDecoder().decode(out.stderr);
  deepStrictEqual(out.code, 0, stderr);
  ok(/indexed 3 sentences/.test(stderr), stderr);
  const hits = JSON.parse(new TextDecoder().decode(out.stdout))[0].hits as {
    sentence: string;
    score: number;
  }[];
  deepStrictEqual(hits[0].sentence, "the cat sat");
  ok(Math.abs(hits[0].score - 1) < 1e-5, "the query itself scores 1");
  await Deno.remove(dir, { recursive: true });
});
