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
  type: "scatter" | "bar";
  name?: string;
  x: (number | string)[];
  /** `null` draws nothing at that x (a missing value is never drawn as 0). */
  y: (number | null)[];
  mode?: "lines" | "markers" | "lines+markers" | "text" | "lines+markers+text";
  xaxis?: string;
  yaxis?: string;
  text?: string[];
  textposition?: "auto" | "outside" | "inside" | "none" | "top center";
  hovertemplate?: string;
  showlegend?: boolean;
  legendgroup?: string;
  marker?: Record<string, unknown>;
  line?: Record<string, unknown>;
  cliponaxis?: boolean;
}

/** A complete figure: what `Plotly.newPlot(div, data, layout)` takes. */
export interface PlotlyFigure {
  data: PlotlyTrace[];
  layout: Record<string, unknown>;
}

/** A figure with the file stem it is exported under (`results/figures/<name>.svg`). */
export interface NamedFigure {
  name: string;
  figure: PlotlyFigure;
  /** Export size in CSS pixels (default 800 × 450). */
  width?: number;
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
export function plotlyMimeBundle(fig: PlotlyFigure, text = describeFigure(fig)): Record<string, unknown> {
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
