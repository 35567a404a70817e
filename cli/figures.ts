/**
 * `deno task figures [--results DIR] [--out DIR]`
 *
 * Regenerate every static figure (SVG) from the run records: training curves per experiment, the
 * reproduction STS bars against the paper and seed, and FP32 vs FP16 speed and memory (see
 * `lib/figures/all_figures.ts`). Files go to `<out>/<name>.svg` (default `results/figures/`). Needs
 * headless Chromium (`apt-get install -y --no-install-recommends chromium-headless-shell`); without
 * it, says so and exits 0 having written nothing.
 *
 * @module
 */
import { main, parseFlags } from "../lib/app/cli.ts";
import { collectFigures } from "../lib/figures/all_figures.ts";
import { exportSvgs } from "../lib/figures/svg_export.ts";

const ROOT = new URL("../", import.meta.url).pathname;
const USAGE = "usage: deno task figures [--results DIR] [--out DIR]";

if (import.meta.main) {
  await main(async () => {
    const { values } = parseFlags(Deno.args, {
      results: { type: "string", default: `${ROOT}results` },
      out: { type: "string" },
    }, USAGE);
    const results = values.results as string;
    const out = (values.out as string | undefined) ?? `${results}/figures`;
    const { figures, notes } = await collectFigures(results);
    for (const n of notes) console.error(`note: ${n}`);
    const r = await exportSvgs(figures, out);
    if (r.skipped) return;
    for (const p of r.written) console.error(`wrote ${p}`);
  });
}
