import { deepStrictEqual, ok, rejects, throws } from "node:assert/strict";
import {
  BEGIN,
  cell,
  END,
  generatedRegion,
  markdownTable,
  readGeneratedTable,
  readRuns,
  replaceRegion,
  updateRegion,
} from "./markdown_tables.ts";

Deno.test("`cell()` shows missing values as — and never as 0", () => {
  deepStrictEqual([cell(undefined), cell(null), cell(NaN), cell(0), cell(76.254)], [
    "—",
    "—",
    "—",
    "0.00",
    "76.25",
  ]);
});

Deno.test("`updateRegion()` rewrites only the marked region and, in check mode, reports staleness without writing", async () => {
  const dir = await Deno.makeTempDir();
  const path = `${dir}/RESULTS.md`;
  await Deno.writeTextFile(path, `# Title\n\n${BEGIN}\nold\n${END}\n\nfooter\n`);
  ok(await updateRegion(path, "new table", true), "stale in check mode");
  ok((await Deno.readTextFile(path)).includes("\nold\n"), "check mode writes nothing");
  ok(await updateRegion(path, "new table", false));
  deepStrictEqual(await Deno.readTextFile(path), `# Title\n\n${BEGIN}\nnew table\n${END}\n\nfooter\n`);
  ok(!(await updateRegion(path, "new table", true)), "up to date");
  throws(() => replaceRegion("no markers", "x"), /markers are missing/);
  await Deno.remove(dir, { recursive: true });
});

Deno.test("`readRuns()` reads finished runs (summary + config) and skips runs in progress", async () => {
  const dir = await Deno.makeTempDir();
  await Deno.mkdir(`${dir}/exp/b-run`, { recursive: true });
  await Deno.mkdir(`${dir}/exp/a-run`, { recursive: true });
  await Deno.mkdir(`${dir}/exp/c-in-progress`, { recursive: true });
  for (const id of ["a-run", "b-run"]) {
    await Deno.writeTextFile(
      `${dir}/exp/${id}/summary.json`,
      JSON.stringify({ runId: id, finalScores: { STS12: 1 } }),
    );
    await Deno.writeTextFile(`${dir}/exp/${id}/config.json`, JSON.stringify({ config: { preset: "cpu" } }));
  }
  await Deno.writeTextFile(`${dir}/exp/c-in-progress/config.json`, "{}");
  const runs = await readRuns(dir, "exp");
  deepStrictEqual(runs.map((r) => r.summary.runId), ["a-run", "b-run"]);
  deepStrictEqual(runs[0].config, { preset: "cpu" });
  deepStrictEqual(markdownTable(["a", "b"], [["1", "—"]]), "| a | b |\n|---|---|\n| 1 | — |");
  await Deno.remove(dir, { recursive: true });
});

Deno.test("`generatedRegion()` returns what sits between the markers, `readGeneratedTable()` refuses a file without them", async () => {
  deepStrictEqual(
    generatedRegion(`# T\n\n${BEGIN}\n| a |\n|---|\n| 1 |\n${END}\n\nfooter\n`),
    "| a |\n|---|\n| 1 |",
  );
  const other = "<!-- generated:begin (deno run -A experiments/x/tables.ts; do not edit) -->";
  deepStrictEqual(generatedRegion(`intro\n${other}\n| b |\n${END}\n`), "| b |");
  deepStrictEqual(generatedRegion("# no markers\n"), null);
  deepStrictEqual(generatedRegion(`${END}\n${BEGIN}\n`), null);
  const dir = await Deno.makeTempDir();
  await Deno.writeTextFile(`${dir}/R.md`, "# no table\n");
  await rejects(
    readGeneratedTable(`${dir}/R.md`),
    (e: Error) => e.name === "InputError" && /markers/.test(e.message),
  );
  await Deno.remove(dir, { recursive: true });
});
