import { deepStrictEqual, ok } from "node:assert/strict";
import { TESTDATA } from "../testing/fixtures.ts";
import { formatHits } from "./search.ts";
import { buildIndex } from "../lib/search/sentence_index.ts";

const ROOT = new URL("../", import.meta.url).pathname;
const TINY = `${TESTDATA}bert/tiny-safetensors`;

async function search(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", `${ROOT}cli/search.ts`, "--model", TINY, "--backend", "cpu", ...args],
    cwd: ROOT,
    stdout: "piped",
    stderr: "piped",
    env: { NO_COLOR: "1" },
  }).output();
  const dec = new TextDecoder();
  return { code: out.code, stdout: dec.decode(out.stdout), stderr: dec.decode(out.stderr) };
}

interface Answer {
  query: string;
  hits: { sentence: string; score: number; index: number }[];
}

Deno.test("`deno task search --build` indexes a file, saves it, and a later call loads it and answers the same", async () => {
  const dir = await Deno.makeTempDir();
  const sentences = [
    "a man is playing a guitar .",
    "a woman is slicing an onion .",
    "the cat sat on the mat .",
    "hello",
  ];
  await Deno.writeTextFile(`${dir}/s.txt`, sentences.join("\n") + "\n");
  const idx = `${dir}/s.simidx`;
  const q = ["--query", sentences[2], "--query", "hello", "--top-k", "2", "--threshold=-1", "--json"];
  const built = await search(["--index", idx, "--build", `${dir}/s.txt`, ...q]);
  deepStrictEqual(built.code, 0, built.stderr);
  // No --pooler: the model's own; the tiny test checkpoint is no SimCSE release, so avg (defaultPooler).
  ok(/indexed 4 sentences \(size 32, avg\)/.test(built.stderr), built.stderr);
  const answers = JSON.parse(built.stdout) as Answer[];
  deepStrictEqual(answers.map((a) => a.query), [sentences[2], "hello"]);
  // An indexed sentence finds itself first with cosine 1; top-k caps the list; scores descend.
  deepStrictEqual([answers[0].hits[0].index, answers[1].hits[0].index], [2, 3]);
  for (const a of answers) {
    ok(Math.abs(a.hits[0].score - 1) < 1e-5);
    deepStrictEqual(a.hits.length, 2);
    ok(a.hits[0].score >= a.hits[1].score);
  }
  const loaded = await search(["--index", idx, ...q]);
  deepStrictEqual(loaded.code, 0, loaded.stderr);
  deepStrictEqual(JSON.parse(loaded.stdout), answers);
  const text = await search(["--index", idx, "--query", "hello", "--threshold", "0.99999"]);
  deepStrictEqual(text.code, 0, text.stderr);
  deepStrictEqual(text.stdout, "query: hello\n  1.0000  hello\n");
  await Deno.remove(dir, { recursive: true });
});

Deno.test("`deno task search` with a damaged index or a conflicting pooler prints one error line and exits 1", async () => {
  const dir = await Deno.makeTempDir();
  await Deno.writeTextFile(`${dir}/bad.simidx`, "not an index at all, just text");
  const bad = await search(["--index", `${dir}/bad.simidx`, "--query", "x"]);
  deepStrictEqual(bad.code, 1);
  deepStrictEqual(bad.stderr.trim().split("\n").length, 1, bad.stderr);
  ok(
    bad.stderr.startsWith(`error: ${dir}/bad.simidx`) && /not a sentence index/.test(bad.stderr),
    bad.stderr,
  );
  const fake = (s: string[]) => Promise.resolve(s.map((_, i) => new Float32Array([1, i])));
  await (await buildIndex(["one", "two"], fake, { pooler: "cls_before_pooler" })).save(`${dir}/i.simidx`);
  const full = await Deno.readFile(`${dir}/i.simidx`);
  await Deno.writeFile(`${dir}/cut.simidx`, full.subarray(0, full.length - 8));
  const cut = await search(["--index", `${dir}/cut.simidx`, "--query", "x"]);
  deepStrictEqual(cut.code, 1);
  ok(/cut\.simidx.*truncated/.test(cut.stderr), cut.stderr);
  const pool = await search(["--index", `${dir}/i.simidx`, "--query", "x", "--pooler", "avg"]);
  deepStrictEqual(pool.code, 1);
  ok(/built with --pooler cls_before_pooler/.test(pool.stderr), pool.stderr);
  await Deno.remove(dir, { recursive: true });
});

Deno.test("`formatHits()` prints four-decimal scores and says when nothing passes the threshold", () => {
  deepStrictEqual(
    formatHits("q", [{ sentence: "s", score: 0.87654, index: 0 }], 0.6),
    "query: q\n  0.8765  s",
  );
  deepStrictEqual(formatHits("q", [], 0.6), "query: q\n  (no indexed sentence with cosine >= 0.6)");
});
