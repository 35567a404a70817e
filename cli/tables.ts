/**
 * `deno task tables [--check]`: regenerate every generated result table (each experiment's RESULTS.md,
 * and README.md's CPU speed table from `results/bench/`) from the run records in `results/` and the
 * committed reference numbers. `--check` writes nothing and exits 1 when a table is stale.
 *
 * @module
 */
import { benchTable } from "../lib/results/bench_table.ts";
import { updateRegion } from "../lib/results/markdown_tables.ts";
import { main, parseFlags } from "../lib/app/cli.ts";

const ROOT = new URL("../", import.meta.url).pathname;

type TableWriter = (check: boolean) => Promise<boolean>;

/**
 * Every generated table: name → writer(check) returning "was stale". Each experiment folder with a
 * `tables.ts` exporting `writeResultsMarkdown` contributes its RESULTS.md, so a new experiment is a new
 * folder and nothing here changes.
 */
export async function generatedTables(): Promise<Record<string, TableWriter>> {
  const out: Record<string, TableWriter> = {};
  const names = [...Deno.readDirSync(`${ROOT}experiments`)].filter((e) => e.isDirectory).map((e) => e.name)
    .sort();
  for (const name of names) {
    const file = `${ROOT}experiments/${name}/tables.ts`;
    if (!(await Deno.stat(file).then((s) => s.isFile, () => false))) continue;
    const mod = await import(new URL(`../experiments/${name}/tables.ts`, import.meta.url).href) as {
      writeResultsMarkdown?: TableWriter;
    };
    if (mod.writeResultsMarkdown) out[`experiments/${name}/RESULTS.md`] = mod.writeResultsMarkdown;
  }
  out["README.md"] = (c) => updateRegion(`${ROOT}README.md`, `\n${benchTable(`${ROOT}results/bench`)}\n`, c);
  return out;
}

const USAGE = "usage: deno task tables [--check]";

if (import.meta.main) {
  await main(async () => {
    const { values } = parseFlags(
      Deno.args,
      { check: { type: "boolean", default: false } },
      USAGE,
    );
    const check = values.check as boolean;
    let stale = 0;
    const tables = await generatedTables();
    for (const [name, write] of Object.entries(tables)) {
      if (await write(check)) {
        stale++;
        console.error(check ? `stale: ${name} (run \`deno task tables\`)` : `updated ${name}`);
      }
    }
    if (check && stale > 0) Deno.exit(1);
    if (!check) console.error(`tables up to date (${Object.keys(tables).length} files)`);
  });
}
