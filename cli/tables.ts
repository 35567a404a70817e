/**
 * `deno task tables [--check]`: regenerate every generated result table (each experiment's RESULTS.md,
 * and README.md's CPU speed table from `results/bench/`) from the run records in `results/` and the
 * committed reference numbers. `--check` writes nothing and exits 1 when a table is stale.
 *
 * @module
 */
import { writeResultsMarkdown as reproduction } from "../experiments/reproduction/tables.ts";
import { writeResultsMarkdown as chinese } from "../experiments/chinese-transfer/tables.ts";
import { writeResultsMarkdown as gpt2 } from "../experiments/gpt2-wavg/tables.ts";
import { benchTable } from "../lib/results/bench_table.ts";
import { updateRegion } from "../lib/results/markdown_tables.ts";
import { main, parseFlags } from "../lib/app/cli.ts";
import { InputError } from "../lib/runtime/errors.ts";

const ROOT = new URL("../", import.meta.url).pathname;

/** Every generated table: name → writer(check) returning "was stale". */
export const TABLES: Record<string, (check: boolean) => Promise<boolean>> = {
  "experiments/reproduction/RESULTS.md": (c) => reproduction(c),
  "experiments/chinese-transfer/RESULTS.md": (c) => chinese(c),
  "experiments/gpt2-wavg/RESULTS.md": (c) => gpt2(c),
  "README.md": (c) => updateRegion(`${ROOT}README.md`, `\n${benchTable(`${ROOT}results/bench`)}\n`, c),
};

const USAGE = "usage: deno task tables [--check]";

if (import.meta.main) {
  await main(async () => {
    const { values, positionals } = parseFlags(
      Deno.args,
      { check: { type: "boolean", default: false } },
      USAGE,
    );
    if (positionals.length) throw new InputError(`unexpected argument '${positionals[0]}'\n${USAGE}`);
    const check = values.check as boolean;
    let stale = 0;
    for (const [name, write] of Object.entries(TABLES)) {
      if (await write(check)) {
        stale++;
        console.error(check ? `stale: ${name} (run \`deno task tables\`)` : `updated ${name}`);
      }
    }
    if (check && stale > 0) Deno.exit(1);
    if (!check) console.error(`tables up to date (${Object.keys(TABLES).length} files)`);
  });
}
