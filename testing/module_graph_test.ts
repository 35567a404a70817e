import { deepStrictEqual, ok } from "node:assert/strict";
import { findCycles, layeringViolations, repoModuleGraph } from "./module_graph.ts";

const ROOT = new URL("..", import.meta.url).pathname.replace(/\/$/, "");

Deno.test("the repository's module graph keeps the layering rules (docs/ARCHITECTURE.md)", async () => {
  const graph = await repoModuleGraph(ROOT, [
    "lib",
    "cli",
    "experiments",
    "bench",
    "notebooks",
    "tools",
    "testing",
  ]);
  ok(graph.length > 150, `the graph has every module (${graph.length})`);
  ok(graph.some((n) => n.path === "lib/model/bert.ts" && n.imports.includes("lib/model/encoder.ts")));
  const bad = layeringViolations(graph);
  deepStrictEqual(bad, [], `layering violations:\n${bad.join("\n")}`);
});

Deno.test("`layeringViolations()` flags each rule on a hand-made graph", () => {
  const bad = layeringViolations([
    { path: "lib/a.ts", imports: ["cli/x.ts", "lib/b.ts"] },
    { path: "lib/b.ts", imports: ["lib/a.ts"] },
    { path: "lib/model/m.ts", imports: ["lib/train/t.ts"] },
    { path: "lib/eval/e.ts", imports: ["lib/kernels/cpu_pool.ts", "lib/kernels/mod.ts"] },
    { path: "experiments/x/run.ts", imports: ["cli/_cli.ts"] },
    { path: "lib/kernels/k.ts", imports: ["lib/kernels/cpu_pool.ts"] },
    { path: "lib/train/x_test.ts", imports: ["lib/kernels/cpu_pool.ts", "cli/y.ts"] },
  ]);
  deepStrictEqual(bad, [
    "lib/a.ts imports cli/x.ts: lib/ never imports an app or tool folder",
    "lib/model/m.ts imports lib/train/t.ts: the model layer sits below training",
    "lib/eval/e.ts imports lib/kernels/cpu_pool.ts: backend internals are reached through lib/kernels/mod.ts",
    "experiments/x/run.ts imports cli/_cli.ts: experiments share code with cli/ through lib/app/, not cli/",
    "import cycle: lib/a.ts -> lib/b.ts -> lib/a.ts",
  ]);
});

Deno.test("`findCycles()` finds a three-file cycle and nothing in a DAG", () => {
  deepStrictEqual(
    findCycles([
      { path: "c", imports: ["a"] },
      { path: "a", imports: ["b"] },
      { path: "b", imports: ["c", "d"] },
      { path: "d", imports: [] },
    ]),
    [["a", "b", "c", "a"]],
  );
  deepStrictEqual(findCycles([{ path: "a", imports: ["b"] }, { path: "b", imports: [] }]), []);
});
