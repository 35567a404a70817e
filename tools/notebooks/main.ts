/**
 * `deno task notebooks [--check] [NAME...]`: re-execute the notebooks (all, or those named, with or
 * without `.ipynb`) and write them in place with their outputs, which are committed. `--check` writes
 * nothing: it compares each cell's outputs with the committed ones after normalising the volatile
 * fields (tools/notebooks/compare.ts), prints a per-cell summary of what differs and exits 1 when a
 * notebook is stale, as `deno task tables --check`. Needs Jupyter and the Deno kernel.
 *
 * @module
 */
import { main, parseFlags } from "../../lib/app/cli.ts";
import { InputError } from "../../lib/runtime/errors.ts";
import { writeFileAtomic } from "../../lib/runtime/atomic_write.ts";
import { ProgressBar } from "../../lib/runtime/progress.ts";
import { findChromium } from "../../lib/figures/svg_export.ts";
import { requireTool } from "../../testing/tools.ts";
import { formatDiffs, serialiseNotebook } from "./compare.ts";
import { kernelEnv, listNotebooks, NOTEBOOKS_DIR, runNotebook } from "./execute.ts";

const USAGE = "usage: deno task notebooks [--check] [NAME...]";

if (import.meta.main) {
  await main(async () => {
    const { values, positionals } = parseFlags(
      Deno.args,
      { check: { type: "boolean", default: false } },
      USAGE,
      { positionals: true },
    );
    const check = values.check as boolean;
    const all = listNotebooks();
    const names = positionals.length === 0 ? all : positionals.map((p) => {
      const n = p.replace(/^.*\//, "").replace(/\.ipynb$/, "") + ".ipynb";
      if (!all.includes(n)) {
        throw new InputError(`no notebook '${p}' in notebooks/ (${all.join(", ")})\n${USAGE}`);
      }
      return n;
    });
    const missing = await requireTool("jupyter");
    if (missing) throw new InputError(`the notebooks cannot be executed here: ${missing}`);
    if (!(await findChromium())) {
      console.error(
        "note: no headless Chromium, so figures get no static SVG (apt-get install --no-install-recommends " +
          "chromium-headless-shell); the SVG is not compared by --check",
      );
    }
    const { info, note } = kernelEnv();
    for (const line of [info, note]) if (line) console.error(`note: ${line}`);
    const bar = new ProgressBar("notebooks", names.length, "nb");
    let stale = 0;
    for (const [i, name] of names.entries()) {
      console.error(`executing notebooks/${name} (${i + 1}/${names.length})`);
      const run = await runNotebook(name);
      const took = `${run.seconds.toFixed(1)} s${run.attempts > 1 ? ` in ${run.attempts} executions` : ""}`;
      if (check) {
        if (run.diffs.length > 0) {
          stale++;
          console.error(formatDiffs(`notebooks/${name}`, run.diffs));
          console.error(
            `stale: notebooks/${name} (run \`deno task notebooks ${name}\`), executed in ${took}`,
          );
        } else console.error(`notebooks/${name}: outputs equal the committed ones (executed in ${took})`);
      } else if (run.diffs.some((d) => d.kind === "missing")) {
        // never commit a notebook that lost an output the committed one has
        stale++;
        console.error(formatDiffs(`notebooks/${name}`, run.diffs));
        console.error(
          `not written: notebooks/${name} produced fewer outputs than the committed one in ${run.attempts} ` +
            `executions; run again, or clear those outputs in the committed notebook if they are gone for good`,
        );
      } else {
        const text = serialiseNotebook(run.executed);
        const path = `${NOTEBOOKS_DIR}${name}`;
        if (text !== (await Deno.readTextFile(path))) {
          await writeFileAtomic(path, text);
          console.error(
            `updated notebooks/${name} (executed in ${took}; ${run.diffs.length} cells with new outputs)`,
          );
        } else console.error(`notebooks/${name} unchanged (executed in ${took})`);
      }
      bar.update(i + 1);
    }
    bar.finish();
    if (stale > 0) Deno.exit(1);
  });
}
