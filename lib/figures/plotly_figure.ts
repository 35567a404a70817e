/**
 * Figure specs as plain Plotly JSON (`{data, layout}`): the one description of a chart that both
 * outputs use. In a notebook, {@link plotlyMimeBundle} gives the MIME bundle for
 * `Deno.jupyter.display(bundle, { raw: true })` (JupyterLab and VS Code draw
 * `application/vnd.plotly.v1+json` interactively; `text/plain` is the fallback other front ends
 * show). For files, `svg_export.ts` renders the same spec to SVG with headless Chromium.
 *
 * @example
 * ```ts
 * import { plotlyMimeBundle, type PlotlyFigure } from "./plotly_figure.ts";
 * const fig: PlotlyFigure = { data: [{ type: "bar", name: "a", x: ["x"], y: [1] }], layout: { title: { text: "t" } } };
 * // in a Deno Jupyter notebook: await Deno.jupyter.display(plotlyMimeBundle(fig), { raw: true });
 * console.log(plotlyMimeBundle(fig)["text/plain"]);
 * ```
 * @module
 */

/** One Plotly trace (the fields these figures use; Plotly accepts many more). */
export interface PlotlyTrace {
  /** Scatter (lines, markers) or bar. */
  type: "scatter" | "bar";
  /** Legend name. */
  name?: string;
  /** Positions along x (numbers or categories). */
  x: (number | string)[];
  /** `null` draws nothing at that x (a missing value is never drawn as 0). */
  y: (number | null)[];
  /** How a scatter trace draws its points. */
  mode?: "lines" | "markers" | "lines+markers" | "text" | "lines+markers+text";
  /** The x axis it uses (`x`, `x2`, …). */
  xaxis?: string;
  /** The y axis it uses (`y`, `y2`, …). */
  yaxis?: string;
  /** Text per point (labels, hover). */
  text?: string[];
  /** Where the text of a bar goes. */
  textposition?: "auto" | "outside" | "inside" | "none" | "top center";
  /** Plotly hover template. */
  hovertemplate?: string;
  /** Whether the trace has a legend entry. */
  showlegend?: boolean;
  /** Traces toggled together from the legend. */
  legendgroup?: string;
  /** Marker style (Plotly's `marker`). */
  marker?: Record<string, unknown>;
  /** Line style (Plotly's `line`). */
  line?: Record<string, unknown>;
  /** Whether text and markers are clipped at the axes. */
  cliponaxis?: boolean;
}

/** A complete figure: what `Plotly.newPlot(div, data, layout)` takes. */
export interface PlotlyFigure {
  /** The traces. */
  data: PlotlyTrace[];
  /** Plotly's layout object (title, axes, legend, …). */
  layout: Record<string, unknown>;
}

/** A figure with the file stem it is exported under (`results/figures/<name>.svg`). */
export interface NamedFigure {
  /** The file stem. */
  name: string;
  /** The figure. */
  figure: PlotlyFigure;
  /** Export size in CSS pixels (default 800 × 450). */
  width?: number;
  /** Export height in CSS pixels (default 450). */
  height?: number;
}

/** Layout shared by every figure: white background, a readable font. */
export const BASE_LAYOUT: Record<string, unknown> = {
  paper_bgcolor: "white",
  plot_bgcolor: "white",
  font: { family: "Arial, Helvetica, sans-serif", size: 13, color: "#222" },
};

/** Axis style shared by every figure: light grid, no zero line. */
export const AXIS: Record<string, unknown> = {
  gridcolor: "#e5e5e5",
  linecolor: "#999",
  zeroline: false,
  automargin: true,
};

/** The Plotly MIME type JupyterLab, VS Code and nteract render. */
export const PLOTLY_MIME = "application/vnd.plotly.v1+json";

/** The MIME bundle for `Deno.jupyter.display(bundle, { raw: true })`. */
export function plotlyMimeBundle(
  fig: PlotlyFigure,
  text: string = describeFigure(fig),
): Record<string, unknown> {
  return { [PLOTLY_MIME]: { data: fig.data, layout: fig.layout }, "text/plain": text };
}

/** Display a figure in a Deno Jupyter kernel (interactive); outside a kernel, print its text summary. */
export async function showFigure(fig: PlotlyFigure): Promise<void> {
  const jupyter = (Deno as unknown as {
    jupyter?: { display(obj: Record<string, unknown>, opts: { raw: boolean }): Promise<void> };
  }).jupyter;
  if (jupyter) await jupyter.display(plotlyMimeBundle(fig), { raw: true });
  else console.log(describeFigure(fig));
}

/** A short plain-text summary: the title and, per trace, its name and points (missing shown as —). */
export function describeFigure(fig: PlotlyFigure, maxPoints = 12): string {
  const title = (fig.layout.title as { text?: string } | undefined)?.text ?? "figure";
  const lines = [title];
  for (const t of fig.data) {
    const pts = t.x.map((x, i) =>
      `${x}: ${t.y[i] === null || t.y[i] === undefined ? "—" : round(t.y[i] as number)}`
    );
    const shown = pts.length > maxPoints
      ? [...pts.slice(0, maxPoints / 2), `… (${pts.length} points) …`, ...pts.slice(-maxPoints / 2)]
      : pts;
    lines.push(`  ${t.name ?? t.type}: ${shown.join(", ")}`);
  }
  return lines.join("\n");
}

function round(v: number): string {
  return Number.isInteger(v) ? String(v) : v.toPrecision(4);
}
