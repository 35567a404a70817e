/**
 * Executes every notebook in this folder headless on the Deno Jupyter kernel (`jupyter nbconvert
 * --execute`, into a temporary folder) and checks its outputs equal the committed ones, cell by cell,
 * after normalising the volatile fields (execution counts, timings, dates, paths, random ids; see
 * tools/notebooks/compare.ts): the semantics of `deno task notebooks --check`. A stale notebook fails
 * with the per-cell summary; `deno task notebooks NAME` regenerates it. When Jupyter or the Deno
 * kernel is not installed the tests are skipped with the reason printed (CI installs both: see
 * `.ci/run`).
 *
 * @module
 */
import { ok } from "node:assert/strict";
import { reportSkip, requireTool } from "../testing/tools.ts";
import { formatDiffs } from "../tools/notebooks/compare.ts";
import { kernelEnv, listNotebooks, runNotebook } from "../tools/notebooks/execute.ts";

const skip = await requireTool("jupyter");
reportSkip("the notebook tests", skip);

for (const nb of listNotebooks()) {
  Deno.test({
    name: `notebook ${nb} runs top to bottom and its outputs equal the committed ones`,
    ignore: skip !== null,
    sanitizeResources: false,
    sanitizeOps: false,
    fn: async () => {
      const run = await runNotebook(nb);
      const errors = run.executed.cells.flatMap((c) => c.outputs ?? []).filter((o) =>
        o.output_type === "error"
      );
      ok(errors.length === 0, `${nb}: ${errors.map((e) => `${e.ename}: ${e.evalue}`).join("\n")}`);
      ok(
        run.diffs.length === 0,
        `${formatDiffs(`notebooks/${nb}`, run.diffs)}\n(regenerate with \`deno task notebooks ${nb}\`` +
          `${kernelEnv().note ? `; note: ${kernelEnv().note}` : ""})`,
      );
      console.log(`${nb} executed in ${run.seconds.toFixed(1)} s (${run.attempts} execution(s))`);
    },
  });
}
