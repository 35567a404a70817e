/** `deno task reproduce` finds its inputs under --data-dir and writes nothing when it cannot start. */
import { deepStrictEqual, ok, strictEqual } from "node:assert/strict";
import { bertTinyDir, preset } from "./config.ts";

const ROOT = new URL("../../", import.meta.url).pathname;

async function tree(dir: string): Promise<string[]> {
  const out: string[] = [];
  for await (const e of Deno.readDir(dir)) {
    out.push(e.name);
    if (e.isDirectory) out.push(...(await tree(`${dir}/${e.name}`)).map((n) => `${e.name}/${n}`));
  }
  return out.sort();
}

Deno.test("`preset()` model folders follow the data folder; generated vocabularies go to the cache", () => {
  strictEqual(preset("paper", "/d").modelDir, "/d/models/bert-base-uncased");
  strictEqual(preset("cpu", "/d", true).modelDir, "/d/models/bert_uncased_L-2_H-128_A-2");
  strictEqual(bertTinyDir("/d/"), "/d/models/bert_uncased_L-2_H-128_A-2");
  const random = preset("cpu", "/d");
  ok(random.randomInit && !random.randomInit.tokenizerDir.startsWith("/d"), random.randomInit?.tokenizerDir);
  ok(!random.randomInit!.tokenizerDir.startsWith("data/"), "not under the repository's data/");
});

Deno.test("a reproduce that cannot start (no corpus) fails in one line naming the fetch command and writes nothing", async () => {
  const tmp = await Deno.makeTempDir();
  const data = `${tmp}/data`, cache = `${tmp}/cache`, cwd = `${tmp}/cwd`;
  for (const d of [data, cache, cwd]) await Deno.mkdir(d);
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", `${ROOT}experiments/reproduction/run.ts`, "--preset", "cpu", "--backend", "wasm"],
    cwd,
    env: { NO_COLOR: "1", SIMCSE_DATA_DIR: data, SIMCSE_CACHE_DIR: cache },
    stdout: "piped",
    stderr: "piped",
  }).output();
  const stderr = new TextDecoder().decode(out.stderr);
  strictEqual(out.code, 1, stderr);
  const last = stderr.trim().split("\n").at(-1)!;
  ok(
    last.startsWith(
      `error: ${data}/wiki/wiki1m_for_simcse.head.txt: missing; get it with \`deno task fetch wiki1m`,
    ),
    last,
  );
  ok(stderr.includes(`${data}/models/bert_uncased_L-2_H-128_A-2 is absent`), stderr);
  deepStrictEqual(await tree(tmp), ["cache", "cwd", "data"], "no vocabulary folder, no data/models, no run");
  await Deno.remove(tmp, { recursive: true });
});
