import { deepStrictEqual, ok } from "node:assert/strict";
import { figureBundle, SVG_MIME } from "./notebook_display.ts";
import { findChromium } from "./svg_export.ts";
import { PLOTLY_MIME, type PlotlyFigure } from "./plotly_figure.ts";
import { reportSkip, requireTool } from "../../testing/tools.ts";

const skip = await requireTool("chromium");
reportSkip("the notebook figure SVG test", skip);

const FIG: PlotlyFigure = {
  data: [{ type: "bar", name: "ours", x: ["STS12", "STS13"], y: [30, 60] }],
  layout: { title: { text: "bars" } },
};

Deno.test("`figureBundle()` without Chromium holds the Plotly JSON and the text summary only", async () => {
  const b = await figureBundle(FIG, { chromium: null });
  deepStrictEqual(Object.keys(b), [PLOTLY_MIME, "text/plain"]);
  deepStrictEqual((b[PLOTLY_MIME] as PlotlyFigure).data[0].y, [30, 60]);
  deepStrictEqual(b["text/plain"], "bars\n  ours: STS12: 30, STS13: 60");
});

Deno.test({
  name: "`figureBundle()` with Chromium adds the static SVG of the same spec, with stable ids",
  ignore: skip !== null,
  fn: async () => {
    const chromium = await findChromium();
    const a = await figureBundle(FIG, { chromium });
    const svg = a[SVG_MIME] as string;
    ok(svg.startsWith("<svg") && svg.includes("bars") && svg.includes("STS13"), svg.slice(0, 200));
    ok(!/clip[0-9a-f]{6}/.test(svg), "Plotly's random clip ids are replaced");
    deepStrictEqual((await figureBundle(FIG, { chromium }))[SVG_MIME], svg);
  },
});
