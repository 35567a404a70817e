import { deepStrictEqual, ok } from "node:assert/strict";

const ROOT = new URL("../", import.meta.url).pathname;

Deno.test("`deno task figures` without Chromium says so, writes nothing and exits 0", async () => {
  const dir = await Deno.makeTempDir();
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", `${ROOT}cli/figures.ts`, "--results", `${dir}/results`, "--out", `${dir}/figures`],
    cwd: ROOT,
    env: { NO_COLOR: "1", PATH: "", SIMCSE_CHROMIUM: "" },
    stdout: "piped",
    stderr: "piped",
  }).output();
  const stderr = new TextDecoder().decode(out.stderr);
  deepStrictEqual(out.code, 0, stderr);
  ok(/SVG export skipped: no headless Chromium/.test(stderr), stderr);
  ok(/note: reproduction: no run with final test scores yet/.test(stderr), stderr);
  ok(!(await Deno.stat(`${dir}/figures`).then(() => true, () => false)), "nothing written");
  await Deno.remove(dir, { recursive: true });
});
