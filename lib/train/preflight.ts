/**
 * Up-front checks of an English SimCSE run's inputs (model folder, training corpus, STS-B and SICK-R
 * dev files), so a run fails before any work, naming what is missing and how to get it.
 *
 * @module
 */
import { InputError } from "../runtime/errors.ts";
import { checkModelFolder } from "../model/model_folder.ts";
import type { TrainConfig } from "./train_config.ts";
import { exists } from "../runtime/fs.ts";
import { fetchCommand } from "../fetch/catalog.ts";
import { describeWikiSample, ensureWikiSample, WIKI1M_SAMPLE_FILE } from "../data/wiki_sample.ts";

/** Throw an `InputError` for the first missing input; `checkModel: false` skips generated models. */
export async function preflightEnglish(cfg: TrainConfig, checkModel: boolean): Promise<void> {
  if (checkModel) await checkModelFolder(cfg.modelDir);
  if (cfg.trainFile.endsWith(`/${WIKI1M_SAMPLE_FILE}`) && !(await exists(cfg.trainFile))) {
    // the cpu presets' sample: derived from the full corpus when only that is here
    const note = describeWikiSample(
      await ensureWikiSample(cfg.trainFile.slice(0, -WIKI1M_SAMPLE_FILE.length - 1)),
    );
    if (note) console.error(note);
  }
  const need = [
    [cfg.trainFile, "wiki1m"],
    [`${cfg.dataDir}/senteval/STS/STSBenchmark/sts-dev.csv`, "senteval"],
    [`${cfg.dataDir}/senteval/SICK/SICK_trial.txt`, "senteval"],
  ];
  for (const [file, what] of need) {
    if (!(await exists(file))) {
      throw new InputError(
        `missing; get it with \`${
          fetchCommand([what], { dataDir: cfg.dataDir })
        }\` or point --data-dir / SIMCSE_DATA_DIR at a copy`,
        { file },
      );
    }
  }
}
