/**
 * Figure (c): FP32 vs FP16 training speed and memory as bars, side by side (steps/s on the left,
 * peak memory on the right), each bar labelled with its value and the FP16/FP32 ratio in the
 * subplot title. Input: a bench record from `results/bench/*.json`, either the simple shape
 *
 * ```json
 * { "label": "wasm, 2-core CPU", "fp32": { "stepsPerSecond": 0.9, "peakBytes": 8.1e8 },
 *   "fp16": { "stepsPerSecond": 1.1, "peakBytes": 5.0e8 },
 *   "reference": { "label": "Jittor, RTX 3090", "fp32": {...}, "fp16": {...} } }
 * ```
 *
 * or the record `bench/fp16_bench.ts` writes (`kind: "fp16-bench"`: `stepBench.<p>.stepsPerSecond`,
 * memory = `stepBench.<p>.peakTrackedBytes`, else `rss.<p>.peakRssBytes`; its `jittorReference`
 * becomes the reference group).
 *
 * @example
 * ```ts
 * import { precisionBarsFigure } from "./precision_bars.ts";
 * const fig = precisionBarsFigure({
 *   fp32: { stepsPerSecond: 1, peakBytes: 2e9 },
 *   fp16: { stepsPerSecond: 1.5, peakBytes: 1e9 },
 * });
 * console.log(fig.data.length); // 4: speed and memory, FP32 and FP16
 * ```
 * @module
 */
import { InputError } from "../runtime/errors.ts";
import { readInputText } from "../checkpoint/read_input.ts";
import { AXIS, BASE_LAYOUT, type PlotlyFigure, type PlotlyTrace } from "./plotly_figure.ts";

/** Speed and peak memory of one precision. */
export interface PrecisionPoint {
  /** Training steps per second. */
  stepsPerSecond: number;
  /** Peak memory in bytes. */
  peakBytes: number;
}

/** One machine/implementation measured in both precisions. */
export interface PrecisionGroup {
  /** Bar-group label, e.g. "wasm, 2-core CPU". */
  label?: string;
  /** The FP32 measurement. */
  fp32: PrecisionPoint;
  /** The FP16 measurement. */
  fp16: PrecisionPoint;
}

/** A bench record: our measurement and, optionally, a published reference measured elsewhere. */
export interface PrecisionBench extends PrecisionGroup {
  /** A published measurement to compare with, when the record has one. */
  reference?: PrecisionGroup;
}

function point(v: unknown, file: string, key: string): PrecisionPoint {
  const p = v as Partial<PrecisionPoint> | undefined;
  for (const k of ["stepsPerSecond", "peakBytes"] as const) {
    if (typeof p?.[k] !== "number" || !Number.isFinite(p[k]) || p[k] < 0) {
      throw new InputError(`expected a non-negative number`, { file, key: `${key}.${k}` });
    }
  }
  return { stepsPerSecond: p!.stepsPerSecond!, peakBytes: p!.peakBytes! };
}

/** Turn a parsed bench record of either accepted shape into a {@link PrecisionBench}. */
export function precisionBenchFromJson(json: unknown, file = "bench record"): PrecisionBench {
  const j = json as Record<string, unknown> | null;
  if (typeof j !== "object" || j === null) throw new InputError("expected a JSON object", { file });
  if (j.kind === "fp16-bench") {
    const sb = j.stepBench as Record<string, Record<string, number>> | undefined;
    const rss = j.rss as Record<string, Record<string, number>> | undefined;
    const pick = (p: "fp32" | "fp16") =>
      point(
        {
          stepsPerSecond: sb?.[p]?.stepsPerSecond,
          peakBytes: sb?.[p]?.peakTrackedBytes ?? rss?.[p]?.peakRssBytes,
        },
        file,
        `stepBench.${p}`,
      );
    const out: PrecisionBench = {
      label: `this toolkit (${j.backend ?? "?"}, ${onGpu(j.gpu) ? String(j.gpu) : "CPU"})`,
      fp32: pick("fp32"),
      fp16: pick("fp16"),
    };
    const ref = j.jittorReference as
      | {
        gpu?: string;
        fp32?: { itPerS?: number; memGB?: number };
        fp16?: { itPerS?: number; memGB?: number };
      }
      | undefined;
    if (ref?.fp32 && ref.fp16) {
      const conv = (p: "fp32" | "fp16") =>
        point(
          { stepsPerSecond: ref[p]?.itPerS, peakBytes: (ref[p]?.memGB ?? NaN) * 1e9 },
          file,
          `jittorReference.${p}`,
        );
      out.reference = {
        label: `SimCSE-Jittor (${ref.gpu ?? "GPU"}, reference)`,
        fp32: conv("fp32"),
        fp16: conv("fp16"),
      };
    }
    return out;
  }
  const out: PrecisionBench = {
    label: typeof j.label === "string" ? j.label : undefined,
    fp32: point(j.fp32, file, "fp32"),
    fp16: point(j.fp16, file, "fp16"),
  };
  if (j.reference !== undefined) {
    const r = j.reference as Record<string, unknown>;
    out.reference = {
      label: typeof r?.label === "string" ? r.label : "reference",
      fp32: point(r?.fp32, file, "reference.fp32"),
      fp16: point(r?.fp16, file, "reference.fp16"),
    };
  }
  return out;
}

/** Read a bench record file (an InputError names the file and the bad key). */
export async function readPrecisionBench(path: string): Promise<PrecisionBench> {
  let json: unknown;
  try {
    json = JSON.parse(await readInputText(path));
  } catch (e) {
    if (e instanceof InputError) throw e;
    throw new InputError(`not valid JSON (${(e as Error).message})`, { file: path });
  }
  return precisionBenchFromJson(json, path);
}

/** Whether a record's `gpu` field names a GPU (the CPU-only bench writes "none (...)"). */
function onGpu(gpu: unknown): boolean {
  return typeof gpu === "string" && gpu !== "" && !/^none\b/i.test(gpu);
}

const GiB = 2 ** 30;
const COLORS = { fp32: "#1f77b4", fp16: "#2ca02c" };

/** Two bar subplots (speed, memory), FP32 and FP16 bars per group (ours, then the reference). */
export function precisionBarsFigure(bench: PrecisionBench, opts: { title?: string } = {}): PlotlyFigure {
  const groups: PrecisionGroup[] = [{ ...bench, label: bench.label ?? "this toolkit" }];
  if (bench.reference) groups.push(bench.reference);
  // Horizontal two-line tick labels ("this toolkit<br>(wasm, CPU)"): rotated ones ran into the legend
  // and past the right edge.
  const x = groups.map((g) => (g.label ?? "").replace(" (", "<br>("));
  const data: PlotlyTrace[] = [];
  for (const p of ["fp32", "fp16"] as const) {
    const name = p.toUpperCase();
    const speed = groups.map((g) => g[p].stepsPerSecond);
    const mem = groups.map((g) => g[p].peakBytes / GiB);
    data.push({
      type: "bar",
      name,
      legendgroup: p,
      x,
      y: speed,
      xaxis: "x",
      yaxis: "y",
      text: speed.map((v) => v.toPrecision(3)),
      textposition: "outside",
      cliponaxis: false,
      marker: { color: COLORS[p] },
      hovertemplate: `${name} %{x}<br>%{y:.3f} steps/s<extra></extra>`,
    }, {
      type: "bar",
      name,
      legendgroup: p,
      showlegend: false,
      x,
      y: mem,
      xaxis: "x2",
      yaxis: "y2",
      text: mem.map((v) => v.toPrecision(3)),
      textposition: "outside",
      cliponaxis: false,
      marker: { color: COLORS[p] },
      hovertemplate: `${name} %{x}<br>%{y:.3f} GiB<extra></extra>`,
    });
  }
  const ratios = (f: (g: PrecisionGroup) => [number, number]) =>
    groups.map((g) => {
      const [a, b] = f(g);
      return b > 0 ? (a / b).toFixed(2) : "—";
    }).join(" / ");
  const speedRatio = ratios((g) => [g.fp16.stepsPerSecond, g.fp32.stepsPerSecond]);
  const memRatio = ratios((g) => [g.fp16.peakBytes, g.fp32.peakBytes]);
  return {
    data,
    layout: {
      ...BASE_LAYOUT,
      title: { text: opts.title ?? "FP32 vs FP16 mixed precision" },
      barmode: "group",
      grid: { rows: 1, columns: 2, pattern: "independent" },
      xaxis: { ...AXIS, domain: [0, 0.45], tickangle: 0 },
      yaxis: { ...AXIS, title: { text: "training steps / s" }, rangemode: "tozero" },
      xaxis2: { ...AXIS, domain: [0.55, 1], anchor: "y2", tickangle: 0 },
      yaxis2: { ...AXIS, title: { text: "peak memory (GiB)" }, rangemode: "tozero", anchor: "x2" },
      annotations: [
        subplotTitle(`speed (FP16/FP32 = ${speedRatio})`, 0.225),
        subplotTitle(`memory (FP16/FP32 = ${memRatio})`, 0.775),
      ],
      legend: { orientation: "h", x: 0.5, xanchor: "center", y: -0.25, yanchor: "top" },
      margin: { t: 80, r: 30, b: 110, l: 70 },
    },
  };
}

function subplotTitle(text: string, x: number): Record<string, unknown> {
  return {
    text,
    x,
    y: 1.02,
    xref: "paper",
    yref: "paper",
    xanchor: "center",
    yanchor: "bottom",
    showarrow: false,
  };
}
