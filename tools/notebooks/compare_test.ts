import { deepStrictEqual, ok } from "node:assert/strict";
import {
  cleanExecuted,
  compareNotebooks,
  formatDiffs,
  normaliseText,
  type Notebook,
  type NotebookOutput,
  serialiseNotebook,
} from "./compare.ts";

// Hand-made notebooks in the shape `jupyter nbconvert --execute` writes (nbformat 4.5).
const TABLE = [
  "| run | STS-B dev | Avg. |\n",
  "|---|---|---|\n",
  "| this run | 47.42 | 37.37 |",
];
const PLOTLY_ID = "3f2b9c1e-5d4a-4e7b-9a1c-0d2e3f4a5b6c";

function notebook(over: {
  count?: number;
  table?: string[];
  stream?: string;
  y?: number[];
  svg?: string | null;
  html?: string;
  timestamps?: string;
  extra?: NotebookOutput[];
} = {}): Notebook {
  const count = over.count ?? 1;
  const figure: NotebookOutput = {
    output_type: "display_data",
    metadata: {},
    data: {
      "application/vnd.plotly.v1+json": {
        data: [{
          type: "scatter",
          name: "training loss",
          x: [1, 2, 3],
          y: over.y ?? [4.3140554, 4.2167969, 4.1607370],
        }],
        layout: { title: { text: "Training loss and STS-B dev" } },
      },
      ...(over.svg === null ? {} : { "image/svg+xml": over.svg ?? '<svg><clipPath id="clipfig000"/></svg>' }),
      "text/plain": "Training loss and STS-B dev\n  training loss: 1: 4.314, 2: 4.217, 3: 4.161",
    },
  };
  return {
    cells: [
      { cell_type: "markdown", id: "cell-0", metadata: {}, source: ["# 01 · Reproduction\n", "text"] },
      {
        cell_type: "code",
        id: "cell-1",
        execution_count: count,
        metadata: {
          execution: {
            "iopub.execute_input": over.timestamps ?? "2026-12-03T06:27:18.528000Z",
            "iopub.status.idle": over.timestamps ?? "2026-12-03T06:27:19.772000Z",
          },
        },
        source: ["const run = await train(cfg);\n", "console.log(run.status);"],
        outputs: [{
          output_type: "stream",
          name: "stdout",
          text: [
            over.stream ?? "completed in 58.1 s (0.52 steps/s), peak 1.21 GiB, run /tmp/tmpa1b2c3/run-1\n",
          ],
        }],
      },
      {
        cell_type: "code",
        id: "cell-2",
        execution_count: count + 1,
        metadata: {},
        source: "await displayFigure(fig);",
        outputs: [figure, ...(over.extra ?? [])],
      },
      {
        cell_type: "code",
        id: "cell-3",
        execution_count: count + 2,
        metadata: {},
        source: "// The final STS table\nDeno.jupyter.md`${table}`;",
        outputs: [
          {
            output_type: "execute_result",
            execution_count: count + 2,
            metadata: {},
            data: {
              "text/markdown": over.table ?? TABLE,
              "text/html": over.html ??
                `<div id="${PLOTLY_ID}"></div><script>Plotly.newPlot("${PLOTLY_ID}", data)</script>`,
            },
          },
        ],
      },
    ],
    metadata: { kernelspec: { name: "deno", display_name: "Deno", language: "typescript" } },
    nbformat: 4,
    nbformat_minor: 5,
  };
}

Deno.test("identical notebooks have no difference", () => {
  deepStrictEqual(compareNotebooks(notebook(), notebook()), []);
});

Deno.test("a changed number in a table output is reported, with its cell, line and both values", () => {
  const changed = notebook({ table: [TABLE[0], TABLE[1], "| this run | 48.10 | 37.37 |"] });
  const diffs = compareNotebooks(notebook(), changed);
  deepStrictEqual(diffs.length, 1);
  deepStrictEqual(diffs[0].cell, 4);
  deepStrictEqual(diffs[0].label, "// The final STS table");
  ok(diffs[0].detail.includes("text/markdown line 3"), diffs[0].detail);
  ok(diffs[0].detail.includes("- | this run | 47.42 | 37.37 |"), diffs[0].detail);
  ok(diffs[0].detail.includes("+ | this run | 48.10 | 37.37 |"), diffs[0].detail);
  const text = formatDiffs("notebooks/01-reproduction.ipynb", diffs);
  ok(text.startsWith("notebooks/01-reproduction.ipynb: 1 cell differ"), text);
  ok(text.includes("cell 4 (// The final STS table):"), text);
});

Deno.test("a changed number in printed text (no unit) is reported", () => {
  const a = notebook({ stream: "completed best STS-B dev 47.42 at step 10\n" });
  const b = notebook({ stream: "completed best STS-B dev 47.43 at step 10\n" });
  const diffs = compareNotebooks(a, b);
  deepStrictEqual(diffs.map((d) => d.cell), [2]);
});

Deno.test("execution counts and cell timestamps are not differences", () => {
  const b = notebook({ count: 7, timestamps: "2027-01-01T00:00:00.000000Z" });
  deepStrictEqual(compareNotebooks(notebook(), b), []);
});

Deno.test("timing lines, rates, memory sizes and temporary paths are not differences", () => {
  const b = notebook({
    stream: "completed in 73.9 s (0.41 steps/s), peak 1.35 GiB, run /tmp/tmpz9y8x7/run-1\n",
  });
  deepStrictEqual(compareNotebooks(notebook(), b), []);
});

Deno.test("a changed Plotly div id is not a difference", () => {
  const id = "9a8b7c6d-1e2f-4a3b-8c4d-5e6f7a8b9c0d";
  const b = notebook({ html: `<div id="${id}"></div><script>Plotly.newPlot("${id}", data)</script>` });
  deepStrictEqual(compareNotebooks(notebook(), b), []);
});

Deno.test("a figure's data is compared: a changed point is reported, float noise is not", () => {
  const moved = compareNotebooks(notebook(), notebook({ y: [4.3140554, 4.3, 4.1607370] }));
  deepStrictEqual(moved.length, 1);
  ok(moved[0].detail.includes("data[0].y[1]: - 4.2167969"), moved[0].detail);
  ok(moved[0].detail.includes("+ 4.3"), moved[0].detail);
  const noise = notebook({ y: [4.3140554 * (1 + 1e-9), 4.2167969, 4.1607370] });
  deepStrictEqual(compareNotebooks(notebook(), noise), []);
});

Deno.test("a figure's static SVG (a rendering of its spec) is not compared, nor required", () => {
  deepStrictEqual(
    compareNotebooks(notebook(), notebook({ svg: '<svg><clipPath id="clipab12cd"/></svg>' })),
    [],
  );
  deepStrictEqual(compareNotebooks(notebook(), notebook({ svg: null })), []);
});

Deno.test("an output the committed notebook lacks, or an error, is reported", () => {
  const extra = notebook({ extra: [{ output_type: "stream", name: "stderr", text: "warning: x\n" }] });
  const d1 = compareNotebooks(notebook(), extra);
  deepStrictEqual(d1.map((d) => d.cell), [3]);
  ok(d1[0].detail.includes("not in the committed notebook"), d1[0].detail);
  const err = notebook({
    extra: [{ output_type: "error", ename: "InputError", evalue: "no data", traceback: [] }],
  });
  ok(compareNotebooks(notebook(), err)[0].detail.includes("error InputError: no data"));
  deepStrictEqual(d1[0].kind, "different");
  const fewer = notebook();
  fewer.cells.pop();
  deepStrictEqual(compareNotebooks(notebook(), fewer)[0].detail, "- 4 cells\n+ 3 cells");
});

Deno.test("normaliseText keeps plain numbers, words with units inside and relative paths", () => {
  const keep =
    "| s0: The cat sat. | 0.891 | 4 sentences -> 32-dimensional | ../testdata/bert/tiny | steps/s |";
  deepStrictEqual(normaliseText(keep), keep);
  deepStrictEqual(normaliseText("https://example.org/a/b"), "https://example.org/a/b");
  deepStrictEqual(
    normaliseText("2026-12-03T06:27:18.528Z took 12 ms, 3.5 sentences/s, 512 MiB in /work/x/y"),
    "<date> took <duration>, <rate>, <bytes> in <path>",
  );
});

Deno.test("cleanExecuted drops timing metadata and the kernel's metadata, keeps outputs, counts and ids", () => {
  const executed = notebook({ count: 1 });
  executed.metadata = { ...executed.metadata, language_info: { name: "typescript", version: "6.0.3" } };
  executed.cells.forEach((c) => delete c.id);
  const committed = notebook();
  committed.metadata = { kernelspec: { name: "deno" } };
  const clean = cleanExecuted(executed, committed);
  deepStrictEqual(clean.metadata, { kernelspec: { name: "deno" } });
  deepStrictEqual(clean.cells.map((c) => c.id), ["cell-0", "cell-1", "cell-2", "cell-3"]);
  deepStrictEqual(clean.cells[1].metadata, {});
  deepStrictEqual(clean.cells[1].execution_count, 1);
  deepStrictEqual(clean.cells[3].outputs, executed.cells[3].outputs);
  ok(!serialiseNotebook(clean).includes("iopub"));
  ok(serialiseNotebook(clean).endsWith("}\n"));
  // as Jupyter writes it: sorted keys, one-space indent
  const text = serialiseNotebook({ nbformat: 4, cells: [{ source: "x", cell_type: "code" }] });
  deepStrictEqual(
    text,
    '{\n "cells": [\n  {\n   "cell_type": "code",\n   "source": "x"\n  }\n ],\n "nbformat": 4\n}\n',
  );
});

Deno.test("an output the run did not produce, the others agreeing, is a `missing` difference", () => {
  const dropped = notebook();
  dropped.cells[3].outputs = [];
  const d = compareNotebooks(notebook(), dropped);
  deepStrictEqual(d.map((x) => [x.cell, x.kind]), [[4, "missing"]]);
  ok(d[0].detail.includes("not produced by this run"), d[0].detail);
  const changed = notebook({ table: [TABLE[0], TABLE[1], "| this run | 48.10 | 37.37 |"] });
  changed.cells[2].outputs = [];
  deepStrictEqual(compareNotebooks(notebook(), changed).map((x) => [x.cell, x.kind]), [[3, "missing"], [
    4,
    "different",
  ]]);
});
