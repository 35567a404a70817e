import { deepStrictEqual, ok, strictEqual } from "node:assert/strict";
import { ensureWikiSample, WIKI1M_SAMPLE_FILE, WIKI1M_SAMPLE_LINES, writeHeadLines } from "./wiki_sample.ts";
import { preflightEnglish } from "../train/preflight.ts";
import type { TrainConfig } from "../train/train_config.ts";
import { InputError } from "../runtime/errors.ts";

const DATA = Deno.env.get("SIMCSE_DATA_DIR") ?? new URL("../../../shared/data", import.meta.url).pathname;

Deno.test("`writeHeadLines()` copies the first N lines byte for byte across read-buffer boundaries", async () => {
  const dir = await Deno.makeTempDir();
  // 20,000 lines of varying length (~1.5 MB: many 64 KiB reads), with a CRLF and non-ASCII text
  const lines = Array.from(
    { length: 20000 },
    (_, i) => `${i} é ${"x".repeat(i % 150)}${i === 7 ? "\r" : ""}\n`,
  );
  await Deno.writeTextFile(`${dir}/full.txt`, lines.join(""));
  for (const n of [1, 8, 11914, 20000, 25000]) {
    await writeHeadLines(`${dir}/full.txt`, `${dir}/head.txt`, n);
    strictEqual(await Deno.readTextFile(`${dir}/head.txt`), lines.slice(0, n).join(""), `n = ${n}`);
  }
  deepStrictEqual(
    [...Deno.readDirSync(dir)].map((e) => e.name).sort(),
    ["full.txt", "head.txt"],
    "no temp left",
  );
  await Deno.remove(dir, { recursive: true });
});

Deno.test("`ensureWikiSample()` derives the cpu presets' sample from wiki1m only when it is missing", async () => {
  const dir = await Deno.makeTempDir();
  strictEqual((await ensureWikiSample(dir)).status, "no-source");
  await Deno.mkdir(`${dir}/wiki`);
  const full = Array.from({ length: WIKI1M_SAMPLE_LINES + 5 }, (_, i) => `sentence ${i}\n`).join("");
  await Deno.writeTextFile(`${dir}/wiki/wiki1m_for_simcse.txt`, full);
  const r = await ensureWikiSample(dir);
  strictEqual(r.status, "written");
  strictEqual(r.matchesCommittedRuns, false, "not the real corpus");
  const head = await Deno.readTextFile(`${dir}/${WIKI1M_SAMPLE_FILE}`);
  strictEqual(head.split("\n").length - 1, 11914);
  ok(head.endsWith("sentence 11913\n"));
  strictEqual((await ensureWikiSample(dir)).status, "present");
  await Deno.remove(dir, { recursive: true });
});

Deno.test("the committed sample (shared data) is the one `ensureWikiSample()` checks against", async () => {
  const path = `${DATA}/${WIKI1M_SAMPLE_FILE}`;
  if (!(await Deno.stat(path).then(() => true, () => false))) {
    console.log(`skipped the sample hash check: no ${path} (set SIMCSE_DATA_DIR)`);
    return;
  }
  const text = await Deno.readTextFile(path);
  strictEqual(text.split("\n").length - 1, WIKI1M_SAMPLE_LINES);
  const { sha256File } = await import("../fetch/file_hash.ts");
  const { WIKI1M_SAMPLE_SHA256 } = await import("./wiki_sample.ts");
  strictEqual(await sha256File(path), WIKI1M_SAMPLE_SHA256);
});

Deno.test("a cpu-preset run with only wiki1m derives the sample; with neither, the hint is the fetch command", async () => {
  const dir = await Deno.makeTempDir();
  const cfg = {
    trainFile: `${dir}/${WIKI1M_SAMPLE_FILE}`,
    dataDir: dir,
    modelDir: `${dir}/m`,
  } as TrainConfig;
  try {
    await preflightEnglish(cfg, false);
    ok(false, "should have thrown");
  } catch (e) {
    ok(e instanceof InputError);
    ok(e.message.includes(`deno task fetch wiki1m --data-dir ${dir}`), e.message);
  }
  await Deno.mkdir(`${dir}/wiki`);
  await Deno.writeTextFile(`${dir}/wiki/wiki1m_for_simcse.txt`, "a\nb\n");
  await preflightEnglish(cfg, false).catch((e) => ok(/senteval/.test(e.message), e.message)); // next missing input
  strictEqual(await Deno.readTextFile(cfg.trainFile), "a\nb\n");
  await Deno.remove(dir, { recursive: true });
});
