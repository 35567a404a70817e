/**
 * Where model folders live. Downloaded ones (`deno task fetch`) are under the data folder,
 * `<dataDir>/models/<repo name>`, like every other input (`--data-dir` / `SIMCSE_DATA_DIR`, else
 * `data`). Folders the toolkit generates itself and can always regenerate (a vocabulary-only tokenizer
 * folder for random-init presets, a randomly initialised GPT-2) go to the cache folder,
 * `<cache>/models/<name>` (`$SIMCSE_CACHE_DIR`, else `$XDG_CACHE_HOME/simcse-ts`, else
 * `~/.cache/simcse-ts`), so that a run never writes into the data folder (which may be read-only or
 * shared) and a failed run leaves nothing there.
 *
 * @example
 * ```ts
 * import { fetchedModelDir, generatedModelDir } from "./model_dirs.ts";
 * fetchedModelDir("data", "bert-base-uncased"); // "data/models/bert-base-uncased"
 * generatedModelDir("bert-base-uncased-vocab"); // "/home/me/.cache/simcse-ts/models/bert-base-uncased-vocab"
 * ```
 * @module
 */
import { cacheDir } from "../kernels/mod.ts";

/** The folder `deno task fetch` fills for a model whose folder name is `name`. */
export function fetchedModelDir(dataDir: string, name: string): string {
  return `${dataDir.replace(/\/+$/, "")}/models/${name}`;
}

/** The folder for a model the toolkit generates (`name` is its folder name). */
export function generatedModelDir(name: string): string {
  return `${cacheDir()}/models/${name}`;
}
