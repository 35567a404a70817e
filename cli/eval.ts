/**
 * `deno task eval --model DIR --pooler NAME [--mode test|dev] [--tasks sts|LIST] [--data-dir DIR]
 *   [--batch-size N] [--backend B] [--json FILE] [--fp16]`
 *
 * Prints the STS table in the layout of SimCSE's `evaluation.py` (STS12 … STS16, STSBenchmark,
 * SICKRelatedness, Avg.) and, with `--json`, writes the same cells as a flat JSON object.
 * `--tasks lcqmc,pawsx` evaluates the Chinese sets (Spearman × 100 on the test split).
 * Evaluation runs in fp32; `--fp16` runs the encoder's Linear layers and attention matmuls in fp16 mixed
 * precision, as the model was trained with `fp16` (SimCSE-Jittor did so silently at evaluation).
 *
 * @module
 */
import { main, parseFlags, positiveInt, required } from "./_cli.ts";
import { parseBackend, useBackend } from "../lib/backend.ts";
import { parsePooler, pool, type PoolerType, poolsFirstToken } from "../lib/pooling.ts";
import { InputError } from "../lib/errors.ts";
import { SentenceEncoder } from "../lib/sentence_encoder.ts";
import { CHINESE_TASKS, type EvalTask, evaluate, STS_TASKS } from "../lib/eval/sts_eval.ts";
import { resolveDataDir } from "../lib/eval/sts_data.ts";
import { renderScores } from "../lib/eval/table.ts";
import { ProgressBar } from "../lib/progress.ts";
import { writeFileAtomic } from "../lib/io/atomic_write.ts";
import { checkModelFolder } from "../lib/model/model_folder.ts";
import { loadEncoder } from "../lib/model/registry.ts";
import { hasPrecisionSwitch } from "../lib/model/fp16.ts";

const USAGE =
  `usage: deno task eval --model DIR --pooler cls|cls_before_pooler|avg|avg_top2|avg_first_last|wavg|wavg_jittor
       [--mode test|dev] [--tasks sts|TASK,...] [--data-dir DIR] [--batch-size N] [--backend auto|tensorflow|webgpu|wasm|cpu]
       [--json FILE] [--fp16]
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

/** A checkpoint's sentence encoder; with `fp16`, its Linear layers and attention matmuls run in fp16. */
export async function loadSentenceEncoder(
  dir: string,
  pooler: PoolerType,
  fp16: boolean,
): Promise<SentenceEncoder> {
  if (!fp16) return await SentenceEncoder.load(dir, { pooler });
  const { encoder: model, tokenizer } = await loadEncoder(dir);
  if (!hasPrecisionSwitch(model)) {
    model.dispose();
    throw new InputError(`--fp16 is implemented for BERT encoders; '${model.kind}' has no fp16 layers`);
  }
  if (pooler === "cls" && !model.hasPooler) {
    model.dispose();
    throw new InputError(`${dir}: pooler 'cls' needs pooler.dense weights (try --pooler cls_before_pooler)`);
  }
  model.precision = "fp16";
  return new SentenceEncoder(
    tokenizer,
    (x) => pool(pooler, model.forward(x, { firstTokenOnly: poolsFirstToken(pooler) })),
    model.config.maxPositionEmbeddings,
    model,
  );
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
      fp16: { type: "boolean", default: false },
    }, USAGE);
    const modelDir = required(values.model as string | undefined, "model", USAGE);
    const pooler = parsePooler(required(values.pooler as string | undefined, "pooler", USAGE));
    const mode = values.mode as string;
    if (mode !== "test" && mode !== "dev") throw new InputError(`--mode must be test or dev, got '${mode}'`);
    const tasks = parseTasks(values.tasks as string);
    const batchSize = positiveInt(values["batch-size"] as string | undefined, "batch-size", 128);
    const dataDir = resolveDataDir(values["data-dir"] as string | undefined);
    await checkModelFolder(modelDir);
    const backend = await useBackend(parseBackend(values.backend as string));
    const fp16 = values.fp16 as boolean;
    const encoder = await loadSentenceEncoder(modelDir, pooler, fp16);
    console.error(
      `model ${modelDir} | pooler ${pooler} | backend ${backend} | data ${dataDir}${
        fp16 ? " | fp16 matmuls" : ""
      }`,
    );
    let bar: ProgressBar | undefined;
    const t0 = performance.now();
    const result = await evaluate((s) => encoder.embedBatch(s), {
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
    encoder.dispose();
    for (const s of result.skipped) console.error(`skipped ${s.task}: ${s.reason}`);
    console.log(renderScores(result.scores, mode));
    console.error(`evaluated in ${((performance.now() - t0) / 1000).toFixed(1)} s`);
    if (values.json) {
      await writeFileAtomic(values.json as string, JSON.stringify(result.scores, null, 2) + "\n");
    }
  });
}
