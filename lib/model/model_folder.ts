/**
 * Up-front check of a model folder, so a command fails before any work when something is missing,
 * naming the missing files and the exact `deno task fetch …` line that brings them (with
 * `--data-dir` when the folder is not under the default data folder), or what to place by hand.
 * Works offline: nothing is downloaded here, and a folder placed by hand passes the check.
 *
 * @example
 * ```ts
 * import { checkModelFolder } from "./model_folder.ts";
 * await checkModelFolder("data/models/nope").catch((e) => console.log(e.message));
 * ```
 * @module
 */
import { InputError } from "../runtime/errors.ts";
import { fetchHintForPath, normDir } from "../fetch/catalog.ts";
import { isFile } from "../runtime/fs.ts";

/** How to get a model folder: the exact fetch command, or what to place by hand. */
export function modelFolderHint(dir: string): string {
  const hint = fetchHintForPath(dir);
  const byHand =
    "place a Hugging Face checkpoint folder (config.json, model.safetensors or pytorch_model.bin, " +
    "tokenizer files) there by hand";
  if (!hint || hint.item.kind !== "model") {
    return `${byHand[0].toUpperCase()}${byHand.slice(1)}; \`deno task fetch --list\` shows the models ` +
      "`deno task fetch` can download into <data>/models/<name>.";
  }
  if (hint.folder && hint.folder !== normDir(dir)) {
    return `Get it with \`${hint.command}\` (it downloads into ${hint.folder}; pass that folder), or ${byHand}.`;
  }
  return `Get it with \`${hint.command}\`, or ${byHand}.`;
}

/** Throw an `InputError` listing what a Hugging Face model folder lacks (config, weights, tokenizer). */
export async function checkModelFolder(dir: string): Promise<void> {
  const missing: string[] = [];
  try {
    if (!(await Deno.stat(dir)).isDirectory) throw new InputError("is not a folder", { file: dir });
  } catch (e) {
    if (e instanceof InputError) throw e;
    missing.push("the folder itself");
  }
  if (missing.length === 0) {
    if (!(await isFile(`${dir}/config.json`))) missing.push("config.json");
    const weights = [
      "model.safetensors",
      "pytorch_model.bin",
      "model.safetensors.index.json",
      "pytorch_model.bin.index.json",
    ];
    if (!(await Promise.all(weights.map((w) => isFile(`${dir}/${w}`)))).some(Boolean)) {
      missing.push("model.safetensors (or pytorch_model.bin)");
    }
    const toks = ["tokenizer.json", "vocab.txt", "vocab.json"];
    if (!(await Promise.all(toks.map((t) => isFile(`${dir}/${t}`)))).some(Boolean)) {
      missing.push("tokenizer.json (or vocab.txt, or vocab.json + merges.txt)");
    }
  }
  if (missing.length > 0) {
    throw new InputError(
      `model folder is incomplete: missing ${missing.join(", ")}. ${modelFolderHint(dir)}`,
      {
        file: dir,
      },
    );
  }
}
