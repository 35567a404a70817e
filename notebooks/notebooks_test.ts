/**
 * Executes every notebook in this folder headless on the Deno Jupyter kernel
 * (`jupyter nbconvert --execute`); a cell that throws fails the test. When Jupyter or the Deno kernel
 * is not installed the tests are skipped with the reason printed (CI installs both: see `.ci/run`).
 *
 * @module
 */
import { ok } from "node:assert/strict";
import { reportSkip, requireTool } from "../testing/tools.ts";

const HERE = new URL(".", import.meta.url).pathname;
const notebooks = [...Deno.readDirSync(HERE)].filter((e) => e.name.endsWith(".ipynb")).map((e) => e.name)
  .sort();

const skip = await requireTool("jupyter");
reportSkip("the notebook tests", skip);

for (const nb of notebooks) {
  Deno.test({
    name: `notebook ${nb} runs top to bottom with no error cell`,
    ignore: skip !== null,
    sanitizeResources: false,
    sanitizeOps: false,
    fn: async () => {
      const out = await Deno.makeTempDir();
      const r = await new Deno.Command("jupyter", {
        args: [
          "nbconvert",
          "--to",
          "notebook",
          "--execute",
          `${HERE}${nb}`,
          "--output-dir",
          out,
          "--ExecutePreprocessor.timeout=900",
        ],
        env: { NO_COLOR: "1" },
        stdout: "piped",
        stderr: "piped",
      }).output();
      ok(r.success, `${nb} failed:\n${new TextDecoder().decode(r.stderr).slice(-4000)}`);
      const executed = JSON.parse(await Deno.readTextFile(`${out}/${nb}`));
      const errors = executed.cells.flatMap((c: { outputs?: { output_type: string }[] }) => c.outputs ?? [])
        .filter((o: { output_type: string }) => o.output_type === "error");
      ok(errors.length === 0, `${nb}: ${errors.length} error outputs`);
      await Deno.remove(out, { recursive: true });
    },
  });
}
