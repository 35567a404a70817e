import { deepStrictEqual, strictEqual, throws } from "node:assert/strict";
import { precisionBarsFigure, precisionBenchFromJson } from "./precision_bars.ts";
import { InputError } from "../runtime/errors.ts";

const GiB = 2 ** 30;

Deno.test("`precisionBarsFigure()` puts FP32 and FP16 steps/s and peak GiB side by side, with FP16/FP32 ratios", () => {
  const fig = precisionBarsFigure({
    label: "wasm CPU",
    fp32: { stepsPerSecond: 2, peakBytes: 4 * GiB },
    fp16: { stepsPerSecond: 3, peakBytes: 1 * GiB },
    reference: {
      label: "Jittor",
      fp32: { stepsPerSecond: 6.62, peakBytes: 6.16e9 },
      fp16: { stepsPerSecond: 8.76, peakBytes: 4.04e9 },
    },
  });
  deepStrictEqual(fig.data.map((t) => [t.name, t.xaxis, t.yaxis]), [
    ["FP32", "x", "y"],
    ["FP32", "x2", "y2"],
    ["FP16", "x", "y"],
    ["FP16", "x2", "y2"],
  ]);
  deepStrictEqual(fig.data[0].x, ["wasm CPU", "Jittor"]);
  deepStrictEqual(fig.data[0].y, [2, 6.62]);
  deepStrictEqual(fig.data[2].y, [3, 8.76]);
  deepStrictEqual(fig.data[1].y, [4, 6.16e9 / GiB]);
  deepStrictEqual(fig.data[3].y, [1, 4.04e9 / GiB]);
  const notes = (fig.layout.annotations as { text: string }[]).map((a) => a.text);
  // 3/2 = 1.50 and 8.76/6.62 = 1.32; 1/4 = 0.25 and 4.04/6.16 = 0.66
  deepStrictEqual(notes, ["speed (FP16/FP32 = 1.50 / 1.32)", "memory (FP16/FP32 = 0.25 / 0.66)"]);
});

Deno.test("`precisionBenchFromJson()` reads the fp16_bench record (tracked tensor bytes, Jittor reference)", () => {
  const b = precisionBenchFromJson({
    kind: "fp16-bench",
    backend: "wasm",
    gpu: "none (CPU-only machine)",
    stepBench: {
      fp32: { stepsPerSecond: 0.5, peakTrackedBytes: 800 },
      fp16: { stepsPerSecond: 0.625, peakTrackedBytes: 500 },
    },
    rss: { fp32: { peakRssBytes: 9e9 }, fp16: { peakRssBytes: 8e9 } },
    jittorReference: {
      gpu: "RTX 3090",
      fp32: { itPerS: 6.62, memGB: 6.16 },
      fp16: { itPerS: 8.76, memGB: 4.04 },
    },
  });
  deepStrictEqual(b.fp32, { stepsPerSecond: 0.5, peakBytes: 800 });
  deepStrictEqual(b.fp16, { stepsPerSecond: 0.625, peakBytes: 500 });
  strictEqual(b.label, "this toolkit (wasm, CPU)");
  deepStrictEqual(b.reference, {
    label: "SimCSE-Jittor (RTX 3090, reference)",
    fp32: { stepsPerSecond: 6.62, peakBytes: 6.16e9 },
    fp16: { stepsPerSecond: 8.76, peakBytes: 4.04e9 },
  });
  const rssOnly = precisionBenchFromJson({
    kind: "fp16-bench",
    stepBench: { fp32: { stepsPerSecond: 1 }, fp16: { stepsPerSecond: 2 } },
    rss: { fp32: { peakRssBytes: 7 }, fp16: { peakRssBytes: 6 } },
  });
  deepStrictEqual([rssOnly.fp32.peakBytes, rssOnly.fp16.peakBytes, rssOnly.reference], [7, 6, undefined]);
});

Deno.test("`precisionBenchFromJson()` names the file and key of a bad record", () => {
  throws(
    () =>
      precisionBenchFromJson(
        { fp32: { stepsPerSecond: 1, peakBytes: 2 }, fp16: { stepsPerSecond: "fast" } },
        "b.json",
      ),
    (e) => e instanceof InputError && e.message.startsWith("b.json [fp16.stepsPerSecond]"),
  );
  throws(() => precisionBenchFromJson(null, "b.json"), InputError);
  deepStrictEqual(
    precisionBenchFromJson({
      fp32: { stepsPerSecond: 1, peakBytes: 2 },
      fp16: { stepsPerSecond: 3, peakBytes: 1 },
    }),
    {
      label: undefined,
      fp32: { stepsPerSecond: 1, peakBytes: 2 },
      fp16: { stepsPerSecond: 3, peakBytes: 1 },
    },
  );
});
