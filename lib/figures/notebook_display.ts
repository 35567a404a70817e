/**
 * Figures in a notebook that every front end can show: the MIME bundle holds the Plotly JSON
 * (`application/vnd.plotly.v1+json`, drawn interactively by JupyterLab, VS Code and nteract), a
 * static SVG of the same spec (`image/svg+xml`, what a code host such as GitHub shows for a committed
 * notebook) when headless Chromium is installed, and a plain-text summary. The SVG is a rendering of
 * the JSON next to it, made by {@link renderSvgs} with stable clip-path ids. Tables go out with
 * {@link displayMarkdown} (rendered in a kernel, printed outside one).
 *
 * @example
 * ```ts
 * import { figureBundle } from "./notebook_display.ts";
 * const fig = { data: [{ type: "bar" as const, x: ["a"], y: [1] }], layout: {} };
 * const bundle = await figureBundle(fig, { chromium: null }); // no SVG without Chromium
 * console.log(Object.keys(bundle)); // ["application/vnd.plotly.v1+json", "text/plain"]
 * ```
 * @module
 */
import { describeFigure, type PlotlyFigure, plotlyMimeBundle } from "./plotly_figure.ts";
import { findChromium, renderSvgs } from "./svg_export.ts";

/** Options of {@link figureBundle} and {@link displayFigure}. */
export interface FigureDisplayOptions {
  /** The Chromium binary for the SVG (default: found by `findChromium()`); `null` = no SVG. */
  chromium?: string | null;
  /** Size of the static SVG in CSS pixels (default 800 × 450). */
  width?: number;
  /** Height of the static SVG in CSS pixels (default 450). */
  height?: number;
}

/** The MIME type of the static rendering. */
export const SVG_MIME = "image/svg+xml";

/**
 * The MIME bundle of a figure: Plotly JSON, text summary and, when Chromium is available, the static
 * SVG rendering of the same spec.
 */
export async function figureBundle(
  fig: PlotlyFigure,
  opts: FigureDisplayOptions = {},
): Promise<Record<string, unknown>> {
  const bundle = plotlyMimeBundle(fig);
  const chromium = opts.chromium === undefined ? await findChromium() : opts.chromium;
  if (!chromium) return bundle;
  const [svg] = await renderSvgs([{ name: "figure", figure: fig, width: opts.width, height: opts.height }], {
    chromium,
  });
  return { ...bundle, [SVG_MIME]: svg };
}

/**
 * Display a figure in a Deno Jupyter kernel (interactive Plotly, with a static SVG fallback when
 * Chromium is installed); outside a kernel, print its text summary.
 */
export async function displayFigure(fig: PlotlyFigure, opts: FigureDisplayOptions = {}): Promise<void> {
  const jupyter = (Deno as unknown as {
    jupyter?: { display(obj: Record<string, unknown>, opts: { raw: boolean }): Promise<void> };
  }).jupyter;
  if (jupyter) await jupyter.display(await figureBundle(fig, opts), { raw: true });
  else console.log(describeFigure(fig));
}

/** Display markdown (a table) in a Deno Jupyter kernel; outside a kernel, print it. */
export async function displayMarkdown(markdown: string): Promise<void> {
  const jupyter = (Deno as unknown as {
    jupyter?: { display(obj: Record<string, unknown>, opts: { raw: boolean }): Promise<void> };
  }).jupyter;
  if (jupyter) await jupyter.display({ "text/markdown": markdown }, { raw: true });
  else console.log(markdown);
}
