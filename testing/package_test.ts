/**
 * `lib/mod.ts` stays a real package: `deno doc --lint` finds every exported symbol, field and
 * referenced type documented and public, and `deno publish --dry-run` accepts the package (no slow
 * types) and would publish none of the repository's data, results, notebooks, benchmarks or tests.
 *
 * @module
 */
import { deepStrictEqual, ok } from "node:assert/strict";

const ROOT = new URL("..", import.meta.url).pathname;

async function deno(...args: string[]): Promise<{ code: number; out: string }> {
  const r = await new Deno.Command(Deno.execPath(), {
    args,
    cwd: ROOT,
    env: { NO_COLOR: "1" },
    stdout: "piped",
    stderr: "piped",
  }).output();
  const dec = new TextDecoder();
  return { code: r.code, out: dec.decode(r.stdout) + dec.decode(r.stderr) };
}

Deno.test("deno doc --lint on every export (lib/mod.ts, lib/figures/mod.ts) reports no missing JSDoc and no private type", async () => {
  const exports = Object.values(
    JSON.parse(Deno.readTextFileSync(`${ROOT}deno.json`)).exports as Record<string, string>,
  );
  deepStrictEqual(exports.slice(0, 2), ["./lib/mod.ts", "./lib/figures/mod.ts"]);
  const { code, out } = await deno("doc", "--lint", ...exports);
  const errors = [...out.matchAll(/^error\[[^\]]+\]:.*\n\s*--> .*$/gm)].map((m) => m[0]);
  deepStrictEqual(errors, [], out);
  deepStrictEqual(code, 0, out);
});

Deno.test("deno publish --dry-run passes and publishes lib/ without tests, data, results, notebooks or benchmarks", async () => {
  const { code, out } = await deno("publish", "--dry-run", "--allow-dirty");
  deepStrictEqual(code, 0, out);
  ok(out.includes("Success Dry run complete"), out);
  const files = [...out.matchAll(/^\s+file:\/\/(\S+) \(/gm)].map((m) => m[1].slice(ROOT.length));
  ok(files.includes("lib/mod.ts"), `lib/mod.ts is not published:\n${files.join("\n")}`);
  const banned =
    /^(testdata|results|data|node_modules|notebooks|bench|reference|cli|experiments|testing|tools)\/|_test\.ts$/;
  deepStrictEqual(files.filter((f) => banned.test(f)), []);
});
