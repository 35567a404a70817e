import { deepStrictEqual, strictEqual } from "node:assert/strict";
import { describeFigure, PLOTLY_MIME, type PlotlyFigure, plotlyMimeBundle } from "./plotly_figure.ts";

const FIG: PlotlyFigure = {
  data: [
    { type: "bar", name: "paper", x: ["STS12", "STS13"], y: [68.4, null] },
    { type: "scatter", x: [1, 2, 3], y: [0.5, 0.25, 0.125] },
  ],
  layout: { title: { text: "Demo" } },
};

Deno.test("`plotlyMimeBundle()` holds the Plotly JSON under its MIME type and a text fallback", () => {
  const b = plotlyMimeBundle(FIG);
  deepStrictEqual(Object.keys(b).sort(), [PLOTLY_MIME, "text/plain"].sort());
  strictEqual(PLOTLY_MIME, "application/vnd.plotly.v1+json");
  deepStrictEqual(b[PLOTLY_MIME], { data: FIG.data, layout: FIG.layout });
  strictEqual(
    b["text/plain"],
    "Demo\n  paper: STS12: 68.40, STS13: —\n  scatter: 1: 0.5000, 2: 0.2500, 3: 0.1250",
  );
  strictEqual(
    JSON.parse(JSON.stringify(b))[PLOTLY_MIME].data[0].y[1],
    null,
    "missing stays null in JSON, not 0",
  );
});

Deno.test("`describeFigure()` elides long traces in the middle", () => {
  const long: PlotlyFigure = {
    data: [{ type: "scatter", name: "loss", x: [1, 2, 3, 4, 5], y: [5, 4, 3, 2, 1] }],
    layout: {},
  };
  strictEqual(describeFigure(long, 2), "figure\n  loss: 1: 5, … (5 points) …, 5: 1");
});
