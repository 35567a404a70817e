/**
 * `deno task gpt2-wavg [--preset gpt2|gpt2-medium|cpu] [--pooler avg,wavg,wavg_jittor] [--backend B]
 *   [--data-dir DIR] [--resume | --overwrite] [--set key=value ...]`
 *
 * Trains unsupervised SimCSE on GPT-2 once per pooler (no MLP head; presets in `config.ts`), selects
 * each run on STS-B dev, writes the best checkpoint (Hugging Face GPT-2 format) and a run record under
 * `results/gpt2-wavg/`, and prints the final STS table. For the two weighted poolers it also evaluates
 * the best checkpoint with the *other* weighting (`cross_pooler.json` in the run record), which
 * separates what the seed's padded weighting does at evaluation time from what it does in training.
 * Finally it regenerates `RESULTS.md`. With no `--preset` it picks the one that fits this machine.
 *
 * @module
 */
import { main, parseFlags } from "../../lib/app/cli.ts";
import { parseBackend, useBackend } from "../../lib/kernels/backend.ts";
import { applyOverrides } from "../../lib/app/overrides.ts";
import {
  announcePreset,
  exitCodeOf,
  TRAIN_FLAGS,
  TRAIN_FLAGS_USAGE,
  trainSets,
} from "../../lib/app/train_command.ts";
import { checkTrainConfig } from "../../lib/train/train_config.ts";
import { InputError } from "../../lib/runtime/errors.ts";
import { resolveDataDir } from "../../lib/eval/sts_data.ts";
import { type EvalTask, evaluate } from "../../lib/eval/sts_eval.ts";
import { renderScores } from "../../lib/eval/table.ts";
import { writeFileAtomic } from "../../lib/runtime/atomic_write.ts";
import { preflightEnglish } from "../../lib/train/preflight.ts";
import { SentenceEncoder } from "../../lib/simcse/sentence_encoder.ts";
import { train } from "../../lib/train/run.ts";
import type { TrainConfig } from "../../lib/train/train_config.ts";
import {
  CPU_RANDOM_GPT2,
  GPT2_POOLERS,
  type Gpt2Pooler,
  preset,
  type PresetName,
  PRESETS,
} from "./config.ts";
import { ensureRandomGpt2 } from "./random_gpt2.ts";
import { CROSS_POOLER_FILE, writeResultsMarkdown } from "./tables.ts";
import { exists } from "../../lib/runtime/fs.ts";

const USAGE = `usage: deno task gpt2-wavg [--preset gpt2|gpt2-medium|cpu] [--pooler avg,wavg,wavg_jittor]
       ${TRAIN_FLAGS_USAGE}
(one training run per pooler, in the order given; default: all three)`;

/** `avg,wavg` -> ["avg", "wavg"], each a decoder pooler, no repeats. */
export function parsePoolerList(spec: string): Gpt2Pooler[] {
  const out: Gpt2Pooler[] = [];
  for (const raw of spec.split(",").map((s) => s.trim()).filter(Boolean)) {
    if (!(GPT2_POOLERS as readonly string[]).includes(raw)) {
      throw new InputError(`unknown pooler '${raw}' for GPT-2; expected ${GPT2_POOLERS.join(", ")}`);
    }
    if (!out.includes(raw as Gpt2Pooler)) out.push(raw as Gpt2Pooler);
  }
  if (out.length === 0) throw new InputError("--pooler is empty");
  return out;
}

/** Evaluate a run's best checkpoint with the other weighted pooler; writes `cross_pooler.json`. */
async function crossEvaluate(cfg: TrainConfig, runDir: string): Promise<void> {
  const other = cfg.poolerType === "wavg" ? "wavg_jittor" : "wavg";
  const enc = await SentenceEncoder.load(cfg.outputDir, { pooler: other });
  try {
    const embed = (s: string[]) => enc.embedBatch(s);
    const dev = await evaluate(embed, { dataDir: cfg.dataDir, mode: "dev", tasks: ["STSBenchmark"] });
    const test = await evaluate(embed, {
      dataDir: cfg.dataDir,
      mode: "test",
      tasks: cfg.finalEvalTasks as EvalTask[],
    });
    await writeFileAtomic(
      `${runDir}/${CROSS_POOLER_FILE}`,
      JSON.stringify(
        {
          trainPooler: cfg.poolerType,
          evalPooler: other,
          note: "the run's best checkpoint evaluated with the other weighted pooler",
          stsbDev: dev.scores.STSBenchmark,
          finalScores: test.scores,
        },
        null,
        2,
      ) + "\n",
    );
    console.log(`\nsame checkpoint, evaluated with ${other}:`);
    console.log(renderScores(test.scores, "test"));
  } finally {
    enc.dispose();
  }
}

if (import.meta.main) {
  await main(async () => {
    const { values } = parseFlags(Deno.args, {
      ...TRAIN_FLAGS,
      pooler: { type: "string", default: GPT2_POOLERS.join(",") },
    }, USAGE);
    const sets = trainSets(values);
    const dataDir = resolveDataDir(values["data-dir"] as string | undefined);
    const poolers = parsePoolerList(values.pooler as string);
    const backend = await useBackend(parseBackend(values.backend as string));
    let name = values.preset as string | undefined;
    if (name === undefined) {
      const gpu = backend === "tensorflow" || backend === "webgpu";
      const have = (await exists(`${preset("gpt2", poolers[0], dataDir).modelDir}/config.json`)) &&
        (await exists(`${dataDir}/wiki/wiki1m_for_simcse.txt`));
      name = gpu && have ? "gpt2" : "cpu";
      announcePreset(
        name,
        name === "gpt2"
          ? `GPU backend '${backend}' and gpt2 + wiki1m are present`
          : `backend '${backend}'${gpu ? "" : " is a CPU"}${
            have ? "" : "; gpt2 or wiki1m is not downloaded"
          }; \`--preset gpt2\` or \`--preset gpt2-medium\` runs the seed's recipe`,
      );
    }
    if (!(PRESETS as readonly string[]).includes(name)) {
      throw new InputError(`unknown preset '${name}'; expected ${PRESETS.join(", ")}`);
    }
    const cfgs = poolers.map((p) => ({
      ...applyOverrides(preset(name as PresetName, p, dataDir), sets),
      overrides: sets,
    }));
    cfgs.forEach(checkTrainConfig);
    for (const cfg of cfgs) await preflightEnglish(cfg, cfg.modelDir !== CPU_RANDOM_GPT2.dir);
    if (cfgs.some((c) => c.modelDir === CPU_RANDOM_GPT2.dir) && (await ensureRandomGpt2(CPU_RANDOM_GPT2))) {
      console.error(
        `wrote a randomly initialised GPT-2 (L${CPU_RANDOM_GPT2.nLayer}/H${CPU_RANDOM_GPT2.nEmbd}) to ${CPU_RANDOM_GPT2.dir}`,
      );
    }
    let exitCode = 0;
    for (const cfg of cfgs) {
      console.error(`\n== ${cfg.preset}: pooler ${cfg.poolerType} ==`);
      const result = await train(cfg, {
        backend,
        resume: values.resume as boolean,
        overwrite: values.overwrite as boolean,
      });
      console.error(
        `run record: ${result.runDir} (${result.status}, ${result.stepsPerSecond.toFixed(2)} steps/s)`,
      );
      if (result.finalScores) {
        console.log(renderScores(result.finalScores, "test"));
        if (cfg.poolerType !== "avg") await crossEvaluate(cfg, result.runDir);
      }
      if (result.status !== "completed") {
        exitCode = exitCodeOf(result.status);
        break;
      }
    }
    await writeResultsMarkdown();
    if (exitCode !== 0) Deno.exit(exitCode);
  });
}
