/**
 * `@simcse/lib/figures`: the figures and result tables of the toolkit, as a notebook or a report
 * uses them. Figures are plain Plotly specs (`{data, layout}`) built from run records; in a Deno
 * Jupyter kernel {@link displayFigure} shows one interactively with a static SVG fallback (headless
 * Chromium), and {@link renderSvgs} turns specs into SVG files' text. The tables are the generated
 * regions of the experiments' `RESULTS.md` ({@link readGeneratedTable}) and the run records under
 * `results/<experiment>/` ({@link readRuns}).
 *
 * @example
 * ```ts
 * import { describeFigure, trainingCurvesFigure } from "./mod.ts";
 * const fig = trainingCurvesFigure([{ step: 1, loss: 4.2 }, { step: 2, loss: 4.1 }]);
 * console.log(describeFigure(fig));
 * ```
 * @module
 */
export {
  describeFigure,
  type NamedFigure,
  type PlotlyFigure,
  plotlyMimeBundle,
  type PlotlyTrace,
  showFigure,
} from "./plotly_figure.ts";
export {
  displayFigure,
  displayMarkdown,
  figureBundle,
  type FigureDisplayOptions,
} from "./notebook_display.ts";
export { findChromium, renderSvgs, type SvgOptions } from "./svg_export.ts";
export {
  type MetricsEntry,
  readMetrics,
  trainingCurvesFigure,
  type TrainingCurvesOptions,
} from "./training_curves.ts";
export {
  readStsReference,
  stsBarsFigure,
  type StsReference,
  type StsRow,
  stsRowsFromRecords,
} from "./sts_bars.ts";
export {
  precisionBarsFigure,
  type PrecisionBench,
  type PrecisionGroup,
  type PrecisionPoint,
  readPrecisionBench,
} from "./precision_bars.ts";
export {
  generatedRegion,
  readGeneratedTable,
  readRuns,
  type RunRecordFiles,
  type RunSummary,
} from "../results/markdown_tables.ts";
