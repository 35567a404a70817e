/**
 * `deno task chinese [--preset seed|cpu] [--task lcqmc|pawsx|all] [--pooler cls|avg|all] [--backend B]
 *   [--data-dir DIR] [--set key=value ...]`
 *
 * Trains SimCSE on Chinese for each (task, pooler) asked for, then regenerates `RESULTS.md`. Without
 * `--preset` it picks `seed` when bert-base-chinese and the train splits are present, else `cpu`.
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
import { renderScores } from "../../lib/eval/table.ts";
import { writeFileAtomic } from "../../lib/runtime/atomic_write.ts";
import { checkModelFolder } from "../../lib/model/model_folder.ts";
import { train } from "../../lib/train/run.ts";
import { fetchCommand } from "../../lib/fetch/catalog.ts";
import { fetchedModelDir } from "../../lib/model/model_dirs.ts";
import { preset, splitFile, type ZhPooler, type ZhPreset, type ZhTask } from "./config.ts";
import { writeResultsMarkdown } from "./tables.ts";
import { exists } from "../../lib/runtime/fs.ts";

const USAGE = `usage: deno task chinese [--preset seed|cpu] [--task lcqmc|pawsx|all] [--pooler cls|avg|all]
       ${TRAIN_FLAGS_USAGE}`;

/**
 * bert-base-chinese's vocab.txt for random-init presets, copied into the generated tokenizer folder
 * `dir` from the fetched model (`<dataDir>/models/bert-base-chinese/`) or from
 * `$SIMCSE_VOCAB_DIR/bert-base-chinese/`.
 */
export async function ensureVocab(dir: string, dataDir: string): Promise<void> {
  if (await exists(`${dir}/vocab.txt`)) return;
  const vocabDir = Deno.env.get("SIMCSE_VOCAB_DIR");
  const candidates = [
    `${fetchedModelDir(dataDir, "bert-base-chinese")}/vocab.txt`,
    ...(vocabDir ? [`${vocabDir}/bert-base-chinese/vocab.txt`] : []),
  ];
  let src: string | undefined;
  for (const c of candidates) if (!src && (await exists(c))) src = c;
  if (!src) {
    throw new InputError(
      `no bert-base-chinese vocab.txt (looked for ${candidates.join(", ")}): run \`${
        fetchCommand(["bert-base-chinese"], { dataDir })
      }\` or set SIMCSE_VOCAB_DIR to a folder with bert-base-chinese/vocab.txt`,
    );
  }
  await writeFileAtomic(`${dir}/vocab.txt`, await Deno.readFile(src));
  await writeFileAtomic(`${dir}/tokenizer_config.json`, JSON.stringify({ do_lower_case: true }) + "\n");
}

function choices<T extends string>(value: string, all: readonly T[], flag: string): T[] {
  if (value === "all") return [...all];
  if (!(all as readonly string[]).includes(value)) {
    throw new InputError(`--${flag} must be ${all.join(", ")} or all, got '${value}'`);
  }
  return [value as T];
}

if (import.meta.main) {
  await main(async () => {
    const { values } = parseFlags(Deno.args, {
      ...TRAIN_FLAGS,
      task: { type: "string", default: "all" },
      pooler: { type: "string", default: "all" },
    }, USAGE);
    const sets = trainSets(values);
    const dataDir = resolveDataDir(values["data-dir"] as string | undefined);
    const tasks = choices<ZhTask>(values.task as string, ["lcqmc", "pawsx"], "task");
    const poolers = choices<ZhPooler>(values.pooler as string, ["cls", "avg"], "pooler");
    const backend = await useBackend(parseBackend(values.backend as string));
    let name = values.preset as ZhPreset | undefined;
    if (name === undefined) {
      const model = await exists(`${fetchedModelDir(dataDir, "bert-base-chinese")}/config.json`);
      const trainSplits = (await Promise.all(tasks.map((t) => exists(splitFile(dataDir, t, "train"))))).every(
        Boolean,
      );
      name = model && trainSplits ? "seed" : "cpu";
      announcePreset(
        name,
        name === "seed"
          ? "bert-base-chinese and the train splits are present"
          : "bert-base-chinese or a train split is not downloaded; `--preset seed` runs the seed's setup",
      );
    }
    if (name !== "seed" && name !== "cpu") {
      throw new InputError(`unknown preset '${name}'; expected seed or cpu`);
    }
    for (const task of tasks) {
      for (const valid of ["valid", "test"] as const) {
        if (!(await exists(splitFile(dataDir, task, valid)))) {
          throw new InputError(
            `missing; get it with \`${
              fetchCommand(["senteval_cn"], { dataDir })
            }\` or point --data-dir at a copy`,
            { file: splitFile(dataDir, task, valid) },
          );
        }
      }
    }
    // Every run's --set values are checked before the first run starts.
    for (const task of tasks) {
      for (const pooler of poolers) {
        checkTrainConfig(
          applyOverrides(preset(name, task, pooler, dataDir, "train"), values.set as string[]),
        );
      }
    }
    for (const task of tasks) {
      const trainSplit = (await exists(splitFile(dataDir, task, "train"))) ? "train" : "valid";
      if (trainSplit === "valid") {
        console.error(
          `${task}: no train split under ${dataDir}; training on the valid split's first column (recorded in the run record)`,
        );
      }
      for (const pooler of poolers) {
        const cfg = {
          ...applyOverrides(preset(name, task, pooler, dataDir, trainSplit), sets),
          overrides: sets,
        };
        if (cfg.randomInit) await ensureVocab(cfg.randomInit.tokenizerDir, dataDir);
        else await checkModelFolder(cfg.modelDir);
        console.error(`== ${cfg.preset}`);
        const r = await train(cfg, {
          backend,
          resume: values.resume as boolean,
          overwrite: values.overwrite as boolean,
        });
        console.error(`run record: ${r.runDir} (${r.status})`);
        if (r.finalScores) console.log(renderScores(r.finalScores, "test"));
        if (r.status !== "completed") Deno.exit(exitCodeOf(r.status));
      }
    }
    await writeResultsMarkdown();
  });
}
