import { deepStrictEqual, ok, strictEqual } from "node:assert/strict";
import { deadUrl, startTestServer } from "../lib/fetch/test_server.ts";
import { sha256File } from "../lib/fetch/file_hash.ts";
import { renderCatalog } from "./fetch.ts";

const ROOT = new URL("../", import.meta.url).pathname;
const FIX = `${ROOT}testdata/fetch/`;
const EXPECTED = JSON.parse(Deno.readTextFileSync(`${FIX}expected.json`));

async function run(args: string[], env: Record<string, string> = {}) {
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", `${ROOT}cli/fetch.ts`, ...args],
    cwd: ROOT,
    stdout: "piped",
    stderr: "piped",
    env: { NO_COLOR: "1", ...env },
  }).output();
  const dec = new TextDecoder();
  return { code: out.code, stdout: dec.decode(out.stdout), stderr: dec.decode(out.stderr) };
}

Deno.test("`renderCatalog()` lists models with their revision and data sets with their destination", () => {
  const text = renderCatalog("https://huggingface.co", "data");
  for (
    const s of [
      "bert-base-uncased",
      "gpt2-medium",
      "bert-base-chinese",
      "google/bert_uncased_L-2_H-128_A-2",
      "princeton-nlp/unsup-simcse-bert-base-uncased",
      "main (unpinned)",
      "senteval_cn",
      "-> nli/nli_for_simcse.csv",
    ]
  ) ok(text.includes(s), s);
});

Deno.test("`deno task fetch wiki1m --base-url` downloads with a progress bar; offline it fails in one message", async () => {
  const wiki = Deno.readFileSync(`${FIX}files/wiki.txt`);
  const srv = startTestServer({
    "/datasets/princeton-nlp/datasets-for-simcse/resolve/main/wiki1m_for_simcse.txt": { body: wiki },
  });
  const data = await Deno.makeTempDir();
  try {
    const ok1 = await run(["wiki1m", "--base-url", srv.url, "--data-dir", data]);
    strictEqual(ok1.code, 0, ok1.stderr);
    strictEqual(await sha256File(`${data}/wiki/wiki1m_for_simcse.txt`), EXPECTED.files["wiki.txt"].sha256);
    ok(/wiki\/wiki1m_for_simcse\.txt \[#{24}\] 69 B\/69 B .*ETA/.test(ok1.stderr), ok1.stderr);
    ok(ok1.stdout.includes("wiki1m: fetched, 1 files"), ok1.stdout);
    // the cpu presets' sample comes with it (this fixture has fewer than 11,914 lines: all of them)
    strictEqual(
      await Deno.readTextFile(`${data}/wiki/wiki1m_for_simcse.head.txt`),
      new TextDecoder().decode(wiki),
    );
    ok(ok1.stdout.includes("wiki1m: wrote the cpu presets' sample"), ok1.stdout);

    const dead = await deadUrl();
    const off = await run(["bert-base-uncased", "--data-dir", data, "--retries", "0"], { HF_ENDPOINT: dead });
    strictEqual(off.code, 1);
    const err = off.stderr.slice(off.stderr.indexOf("error: "));
    ok(err.includes(`${dead}/google-bert/bert-base-uncased/resolve/`), err);
    ok(err.includes(`Still missing: ${data}/models/bert-base-uncased/ config.json, vocab.txt`), err);
    ok(err.includes(`\`deno task fetch bert-base-uncased --data-dir ${data}\``), err);
    ok(!/\n\s+at /.test(off.stderr), "no stack trace");
    deepStrictEqual(
      [...Deno.readDirSync(data)].map((e) => e.name).sort(),
      ["fetch.lock.json", "wiki"],
      "nothing half-written",
    );
  } finally {
    await srv.close();
    await Deno.remove(data, { recursive: true });
  }
});

Deno.test("`deno task fetch` bad input is one line and exit 1", async () => {
  for (
    const [args, re] of [
      [[], /nothing to fetch/],
      [["bert-base-uncasd"], /unknown name 'bert-base-uncasd'.*--list/],
      [["senteval_cn", "--url", "nope"], /--url expects NAME=http/],
      [["gpt2", "--retries=x"], /--retries must be a non-negative integer, got .x./],
    ] as [string[], RegExp][]
  ) {
    const r = await run(args);
    strictEqual(r.code, 1, args.join(" "));
    ok(re.test(r.stderr), `${re} not in ${r.stderr}`);
  }
});
