import { deepStrictEqual } from "node:assert/strict";

const ROOT = new URL("..", import.meta.url).pathname;

Deno.test("README's Layout table lists every folder of the tree and of lib/, and nothing that is not there", () => {
  const readme = Deno.readTextFileSync(`${ROOT}README.md`);
  const section = readme.slice(readme.indexOf("## Layout"), readme.indexOf("## Tests"));
  // Top-level folders by their first segment (`tools/fuzz/` is the `tools` row), lib/ by its subfolders.
  const listed = [...section.matchAll(/^\| `([^`]+)`/gm)].map((m) => m[1].replace(/\/$/, "")).map((p) =>
    p.startsWith("lib/") || p.startsWith("experiments/") ? p : p.split("/")[0]
  );
  const skip = new Set(["node_modules", ".git", ".ci", ".gl", ".whl"]);
  const dirs = (p: string) =>
    [...Deno.readDirSync(`${ROOT}${p}`)].filter((e) => e.isDirectory && !skip.has(e.name)).map((e) => e.name);
  const want = [
    ...dirs("").filter((d) => d !== "lib" && d !== "experiments").map((d) => d),
    "experiments/<name>",
    ...dirs("lib").map((d) => `lib/${d}`),
    "lib/mod.ts",
  ].sort();
  deepStrictEqual(listed.filter((p) => !p.startsWith("lib/") || p.split("/").length === 2).sort(), want);
});
