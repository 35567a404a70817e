import { deepStrictEqual, ok, strictEqual } from "node:assert/strict";
import { exportSvgs, findChromium, stableIds } from "./svg_export.ts";
import { stsBarsFigure } from "./sts_bars.ts";
import { trainingCurvesFigure } from "./training_curves.ts";
import { precisionBarsFigure } from "./precision_bars.ts";
import { reportSkip, requireTool } from "../../testing/tools.ts";

const chromium = await findChromium();
reportSkip("the SVG rendering test", await requireTool("chromium"));

Deno.test("`stableIds()` replaces Plotly's random per-plot ids with fixed ones", () => {
  const svg =
    '<defs id="defs-a1b2c3"><clipPath id="clipa1b2c3xyplot"/></defs><g clip-path="url(#clipa1b2c3xyplot)"/>';
  strictEqual(
    stableIds(svg),
    '<defs id="defs-fig000"><clipPath id="clipfig000xyplot"/></defs><g clip-path="url(#clipfig000xyplot)"/>',
  );
});

Deno.test("`exportSvgs()` without Chromium writes nothing and says why, without failing", async () => {
  const dir = await Deno.makeTempDir();
  const r = await exportSvgs([{ name: "x", figure: { data: [], layout: {} } }], dir, { chromium: null });
  deepStrictEqual(r.written, []);
  ok(r.skipped && /no headless Chromium/.test(r.skipped) && /chromium-headless-shell/.test(r.skipped));
  deepStrictEqual([...Deno.readDirSync(dir)], []);
  await Deno.remove(dir, { recursive: true });
});

/** Non-empty bar paths `M x0,y0 V y1 H x1 V y0 Z` of an SVG, as [x0, height]. */
function bars(svg: string): [number, number][] {
  return [...svg.matchAll(/<g class="point"><path d="M([\d.]+),([\d.]+)V([\d.]+)H/g)]
    .map((m) => [Number(m[1]), Number(m[2]) - Number(m[3])] as [number, number]);
}

Deno.test({
  name:
    "`exportSvgs()` renders the three figure kinds to SVG files in one Chromium run (bar heights ∝ values)",
  ignore: !chromium,
  fn: async () => {
    const dir = await Deno.makeTempDir();
    const r = await exportSvgs([
      {
        name: "sts",
        figure: stsBarsFigure([
          { name: "Paper", scores: { STS12: 68.4, STS13: 82.41, "Avg.": 76.25 } },
          { name: "ours", scores: { STS12: 30, STS14: 40 } },
        ], { title: "STS bars test" }),
      },
      {
        name: "curves",
        figure: trainingCurvesFigure([
          { step: 0, kind: "eval", STSBenchmark: 60 },
          { step: 1, kind: "train", loss: 2 },
          { step: 2, kind: "train", loss: 1.5 },
          { step: 2, kind: "eval", STSBenchmark: 65 },
        ], { title: "Curves test" }),
      },
      {
        name: "precision",
        figure: precisionBarsFigure({
          fp32: { stepsPerSecond: 1, peakBytes: 2 ** 31 },
          fp16: { stepsPerSecond: 1.5, peakBytes: 2 ** 30 },
        }),
        width: 900,
        height: 400,
      },
    ], dir);
    deepStrictEqual(r.written, [`${dir}/sts.svg`, `${dir}/curves.svg`, `${dir}/precision.svg`]);
    const [sts, curves, precision] = await Promise.all(r.written.map((p) => Deno.readTextFile(p)));
    for (const svg of [sts, curves, precision]) {
      ok(svg.startsWith("<svg") && svg.trimEnd().endsWith("</svg>"));
    }
    ok(/width="900" height="400"/.test(precision));
    for (const text of ["STS bars test", "Paper", "ours", "STS-B", "SICK-R", "Avg."]) {
      ok(sts.includes(`>${text}<`), text);
    }
    for (const text of ["Curves test", "training loss", "STS-B dev", "best checkpoint"]) {
      ok(curves.includes(`>${text}<`), text);
    }
    ok(precision.includes("speed (FP16/FP32 = 1.50)") && precision.includes("memory (FP16/FP32 = 0.50)"));
    // Five drawn bars (the missing cells draw nothing), heights proportional to the scores.
    const b = bars(sts);
    strictEqual(b.length, 5);
    const byX = b.sort((p, q) => p[0] - q[0]).map((p) => p[1]); // STS12 paper, STS12 ours, STS13, STS14, Avg.
    const values = [68.4, 30, 82.41, 40, 76.25];
    for (let i = 1; i < 5; i++) ok(Math.abs(byX[i] / byX[0] - values[i] / values[0]) < 0.01, `bar ${i}`);
    ok(!/id="clip[0-9a-f]{6}/.test(sts), "no random ids left");
    await Deno.remove(dir, { recursive: true });
  },
});
