/**
 * `deno task eval --model DIR --pooler NAME [--mode test|dev] [--tasks sts|LIST] [--data-dir DIR]
 *   [--batch-size N] [--backend B] [--json FILE] [--precision fp32|fp16|bf16] [--fp16]
 *   [--metrics sts,align,uniform]`
 *
 * Prints the STS table in the layout of SimCSE's `evaluation.py` (STS12 … STS16, STSBenchmark,
 * SICKRelatedness, Avg.) and, with `--json`, writes the same cells as a flat JSON object.
 * `--tasks lcqmc,pawsx` evaluates the Chinese sets (Spearman × 100 on the test split).
 * Evaluation runs in fp32; `--precision fp16|bf16` (`--fp16` is `--precision fp16`) runs the encoder's
 * Linear layers and attention matmuls in that mixed precision, e.g. as the model was trained
 * (SimCSE-Jittor evaluated its fp16 models in fp16 silently).
 * `--metrics align,uniform` reports alignment and uniformity (Wang & Isola 2020; SimCSE's Figure 2) on
 * the STS-B split of `--mode` instead of the table (`lib/eval/alignment_uniformity.ts`); `sts` is the
 * table, the default; `--metrics sts,align,uniform` prints both and `--json` holds all cells.
 *
 * @module
 */
import { main, parseFlags, positiveInt } from "../lib/app/cli.ts";
import { parseBackend, useBackend } from "../lib/kernels/backend.ts";
import { modelAndPooler } from "../lib/app/model_flags.ts";
import { InputError } from "../lib/runtime/errors.ts";
import { SentenceEncoder } from "../lib/simcse/sentence_encoder.ts";
import { CHINESE_TASKS, type EvalTask, evaluate, STS_TASKS } from "../lib/eval/sts_eval.ts";
import { resolveDataDir } from "../lib/eval/sts_data.ts";
import { renderScores } from "../lib/eval/table.ts";
import { ProgressBar } from "../lib/runtime/progress.ts";
import { writeFileAtomic } from "../lib/runtime/atomic_write.ts";
import { checkOutputPath } from "../lib/runtime/output_path.ts";
import { checkModelFolder } from "../lib/model/model_folder.ts";
import { precisionFlag } from "../lib/app/precision_flag.ts";
import { alignUniform } from "../lib/eval/alignment_uniformity.ts";
import { dropUnusedPermissions } from "../lib/app/permissions.ts";

const USAGE =
  `usage: deno task eval --model DIR|HUB_ID [--pooler cls|cls_before_pooler|avg|avg_top2|avg_first_last|wavg|wavg_jittor]
       [--mode test|dev] [--tasks sts|TASK,...] [--data-dir DIR] [--batch-size N] [--backend auto|tensorflow|webgpu|wasm|cpu]
       [--json FILE] [--precision fp32|fp16|bf16] [--fp16] [--metrics sts|align|uniform,...]
--model: a checkpoint folder or a hub id fetched by \`deno task fetch\`; --pooler: default the model's own
       (a trained checkpoint's, cls_before_pooler for unsup-simcse-*, cls for sup-simcse-*, else avg)
tasks: sts (= ${STS_TASKS.join(",")}), or a comma list of ${[...STS_TASKS, ...CHINESE_TASKS].join(", ")}
       (case-insensitive; lcqmc, pawsx and stsb-zh are the Chinese sets)`;

/** `sts` or a comma list, case-insensitive, into known task names. */
export function parseTasks(spec: string): EvalTask[] {
  const known = [...STS_TASKS, ...CHINESE_TASKS] as EvalTask[];
  const out: EvalTask[] = [];
  for (const raw of spec.split(",").map((s) => s.trim()).filter(Boolean)) {
    if (raw.toLowerCase() === "sts") {
      out.push(...STS_TASKS);
      continue;
    }
    const t = known.find((k) => k.toLowerCase() === raw.toLowerCase());
    if (!t) throw new InputError(`unknown task '${raw}'; expected sts or one of ${known.join(", ")}`);
    out.push(t);
  }
  if (out.length === 0) throw new InputError("--tasks is empty");
  return [...new Set(out)];
}

/** What `--metrics` may list. */
export type Metric = "sts" | "align" | "uniform";

/** `--metrics`: a comma list of sts, align, uniform (case-insensitive). */
export function parseMetrics(spec: string): Set<Metric> {
  const known: Metric[] = ["sts", "align", "uniform"];
  const out = new Set<Metric>();
  for (const raw of spec.split(",").map((s) => s.trim().toLowerCase()).filter(Boolean)) {
    const m = known.find((k) => k === raw);
    if (!m) throw new InputError(`unknown metric '${raw}'; expected a comma list of ${known.join(", ")}`);
    out.add(m);
  }
  if (out.size === 0) {
    throw new InputError("--metrics is empty; expected a comma list of sts, align, uniform");
  }
  return out;
}

/** ℓ_align / ℓ_uniform of `embed` on STS-B `mode`, printed as a small table; returns the cells asked for. */
async function printAlignUniform(
  embed: (s: string[]) => Promise<Float32Array[]>,
  dataDir: string,
  mode: "test" | "dev",
  batchSize: number,
  metrics: Set<Metric>,
): Promise<Record<string, number>> {
  let auBar: ProgressBar | undefined;
  const au = await alignUniform(embed, dataDir, {
    split: mode,
    batchSize,
    onProgress: (done, total) => {
      auBar ??= new ProgressBar("align/uniform", total, "sent");
      auBar.update(done);
    },
  });
  auBar?.finish();
  const cols = (["align", "uniform"] as const).filter((m) => metrics.has(m));
  console.log(
    `STS-B ${mode}: ${au.positives} pairs scored > 4 (align), ${au.sentences} distinct sentences (uniform)\n` +
      `| ${cols.join(" | ")} |\n|${cols.map(() => "-------|").join("")}\n| ${
        cols.map((c) => au[c].toFixed(4)).join(" | ")
      } |`,
  );
  return Object.fromEntries(cols.map((c) => [c, au[c]]));
}

if (import.meta.main) {
  await main(async () => {
    const { values } = parseFlags(Deno.args, {
      model: { type: "string" },
      pooler: { type: "string" },
      mode: { type: "string", default: "test" },
      tasks: { type: "string", default: "sts" },
      "data-dir": { type: "string" },
      "batch-size": { type: "string" },
      backend: { type: "string", default: "auto" },
      json: { type: "string" },
      precision: { type: "string" },
      fp16: { type: "boolean", default: false },
      metrics: { type: "string", default: "sts" },
    }, USAGE);
    const mode = values.mode as string;
    if (mode !== "test" && mode !== "dev") throw new InputError(`--mode must be test or dev, got '${mode}'`);
    const tasks = parseTasks(values.tasks as string);
    const metrics = parseMetrics(values.metrics as string);
    const batchSize = positiveInt(values["batch-size"] as string | undefined, "batch-size", 128);
    const precision = precisionFlag(values.precision as string | undefined, values.fp16 as boolean);
    const backendChoice = parseBackend(values.backend as string);
    const dataDir = resolveDataDir(values["data-dir"] as string | undefined);
    const { modelDir, pooler, pooledBy } = await modelAndPooler(
      values.model as string | undefined,
      values.pooler as string | undefined,
      dataDir,
      USAGE,
    );
    await checkModelFolder(modelDir);
    if (values.json) {
      await checkOutputPath(values.json as string, { flag: "json", inputs: [modelDir, dataDir] });
    }
    const backend = await useBackend(backendChoice);
    await dropUnusedPermissions(backend); // FFI and subprocesses serve the cpu backend only
    const encoder = await SentenceEncoder.load(modelDir, { pooler, precision });
    console.error(
      `model ${modelDir} | pooler ${pooler}${
        pooledBy === "model" ? " (the model's)" : ""
      } | backend ${backend} | data ${dataDir}${precision !== "fp32" ? ` | ${precision} matmuls` : ""}`,
    );
    let bar: ProgressBar | undefined;
    const t0 = performance.now();
    const embed = (s: string[]) => encoder.embedBatch(s);
    const cells: Record<string, number> = {};
    if (metrics.has("sts")) {
      const result = await evaluate(embed, {
        dataDir,
        mode,
        tasks,
        batchSize,
        onProgress: (done, total) => {
          bar ??= new ProgressBar("eval", total, "pair");
          bar.update(done);
        },
      });
      bar?.finish();
      for (const s of result.skipped) console.error(`skipped ${s.task}: ${s.reason}`);
      console.log(renderScores(result.scores, mode));
      Object.assign(cells, result.scores);
    }
    if (metrics.has("align") || metrics.has("uniform")) {
      Object.assign(cells, await printAlignUniform(embed, dataDir, mode, batchSize, metrics));
    }
    encoder.dispose();
    console.error(`evaluated in ${((performance.now() - t0) / 1000).toFixed(1)} s`);
    if (values.json) {
      await writeFileAtomic(values.json as string, JSON.stringify(cells, null, 2) + "\n");
    }
  });
}
