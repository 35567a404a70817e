/** Tests for table.ts: the expected text is the sample output printed in SimCSE's README. */
import { deepStrictEqual as assertEquals } from "node:assert/strict";
import {
  renderMarkdownTable,
  renderScores,
  renderScoresMarkdown,
  renderTable,
  scoreTables,
} from "./table.ts";

// Copied from princeton-nlp/SimCSE README.md ("expected to output the results in a tabular format").
const README_SAMPLE = `------ test ------
+-------+-------+-------+-------+-------+--------------+-----------------+-------+
| STS12 | STS13 | STS14 | STS15 | STS16 | STSBenchmark | SICKRelatedness |  Avg. |
+-------+-------+-------+-------+-------+--------------+-----------------+-------+
| 75.30 | 84.67 | 80.19 | 85.40 | 80.82 |    84.26     |      80.39      | 81.58 |
+-------+-------+-------+-------+-------+--------------+-----------------+-------+`;

const SAMPLE_SCORES = {
  STS12: 75.3,
  STS13: 84.67,
  STS14: 80.19,
  STS15: 85.4,
  STS16: 80.82,
  STSBenchmark: 84.26,
  SICKRelatedness: 80.39,
  "Avg.": 81.58,
};

Deno.test("`renderScores()` reproduces the official evaluation.py table byte for byte", () => {
  assertEquals(renderScores(SAMPLE_SCORES, "test"), README_SAMPLE);
});

Deno.test("`renderTable()` centres like PrettyTable (extra space right of odd-length text)", () => {
  // Hand-derived from PrettyTable's rule: width 7, "abc" (odd) -> 2 left, 2 right; "ab" (even) 3/2; "abcd" 2/1.
  assertEquals(
    renderTable(["abcdefg", "x"], ["abc", "1.00"]),
    [
      "+---------+------+",
      "| abcdefg |  x   |",
      "+---------+------+",
      "|   abc   | 1.00 |",
      "+---------+------+",
    ].join("\n"),
  );
});

Deno.test("`scoreTables()` keeps official column order, drops tasks not run, puts Chinese in a 2nd table", () => {
  const tables = scoreTables({ LCQMC: 63.55, SICKRelatedness: 72.23, STSBenchmark: 82.5, PAWSX: 12.37 });
  assertEquals(tables, [
    { columns: ["STSBenchmark", "SICKRelatedness"], values: ["82.50", "72.23"] },
    { columns: ["LCQMC", "PAWSX"], values: ["63.55", "12.37"] },
  ]);
});

Deno.test("`renderMarkdownTable()` gives a header, a right-aligned rule and one row", () => {
  assertEquals(
    renderMarkdownTable(["STS12", "Avg."], ["68.40", "76.25"]),
    "| STS12 | Avg. |\n|---:|---:|\n| 68.40 | 76.25 |",
  );
  assertEquals(
    renderScoresMarkdown({ STSBenchmark: 76.85, LCQMC: 1 }),
    "| STSBenchmark |\n|---:|\n| 76.85 |\n\n| LCQMC |\n|---:|\n| 1.00 |",
  );
});
