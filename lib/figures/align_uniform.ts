/**
 * A run's trajectory in the alignment–uniformity plane, as the SimCSE paper's Figure 2 reads
 * training (method: `docs/SIMCSE.md`; metrics: `lib/eval/alignment_uniformity.ts`): ℓ_uniform on
 * the x axis, ℓ_align on the y axis, one point per dev evaluation in `metrics.jsonl` that logged both
 * (`{"kind": "eval", "align": …, "uniform": …}`), joined in step order from the untrained model
 * (step 0) on. Lower is better on both axes: the paper's reading is that unsupervised SimCSE keeps
 * alignment roughly steady while uniformity improves (the points move left).
 *
 * @example
 * ```ts
 * import { alignUniformFigure } from "./align_uniform.ts";
 * const fig = alignUniformFigure([
 *   { step: 0, kind: "eval", align: 0.1, uniform: -0.5 },
 *   { step: 25, kind: "eval", align: 0.3, uniform: -2.1 },
 * ]); // null when no evaluation logged both metrics
 * ```
 * @module
 */
import { AXIS, BASE_LAYOUT, type PlotlyFigure } from "./plotly_figure.ts";
import type { MetricsEntry } from "./training_curves.ts";

/** One dev evaluation's point. */
export interface AlignUniformPoint {
  step: number;
  align: number;
  uniform: number;
}

/** The dev evaluations that logged finite `align` and `uniform`, in step order. */
export function alignUniformPoints(entries: MetricsEntry[]): AlignUniformPoint[] {
  return entries
    .filter((e) =>
      e.kind === "eval" && typeof e.align === "number" && Number.isFinite(e.align) &&
      typeof e.uniform === "number" && Number.isFinite(e.uniform)
    )
    .map((e) => ({ step: e.step, align: e.align as number, uniform: e.uniform as number }))
    .sort((a, b) => a.step - b.step);
}

/** The trajectory figure, or null when no evaluation logged both metrics. */
export function alignUniformFigure(
  entries: MetricsEntry[],
  opts: { title?: string } = {},
): PlotlyFigure | null {
  const pts = alignUniformPoints(entries);
  if (pts.length === 0) return null;
  const label = (s: number) => (s === 0 ? "untrained" : `step ${s}`);
  return {
    data: [{
      type: "scatter",
      mode: "lines+markers+text",
      name: "dev evaluations",
      x: pts.map((p) => p.uniform),
      y: pts.map((p) => p.align),
      text: pts.map((p) => label(p.step)),
      textposition: "top center",
      line: { width: 1.5, color: "#999" },
      marker: {
        size: 10,
        color: pts.map((p) => p.step),
        colorscale: "Viridis",
        showscale: true,
        colorbar: { title: { text: "step" } },
        line: { width: 1, color: "#333" },
      },
      hovertemplate: "%{text}<br>ℓ_uniform %{x:.3f}<br>ℓ_align %{y:.3f}<extra></extra>",
      showlegend: false,
      cliponaxis: false,
    }],
    layout: {
      title: { text: opts.title ?? "Alignment and uniformity during training (lower is better on both)" },
      ...BASE_LAYOUT,
      xaxis: { ...AXIS, title: { text: "ℓ_uniform (STS-B dev sentences)" } },
      yaxis: { ...AXIS, title: { text: "ℓ_align (STS-B dev pairs scored > 4)" } },
      annotations: [{
        text: "better ↙",
        xref: "paper",
        yref: "paper",
        x: 0,
        y: 0,
        xanchor: "left",
        yanchor: "bottom",
        showarrow: false,
        font: { color: "#666" },
      }],
      margin: { t: 60, r: 40, b: 60, l: 80 },
    },
  };
}
