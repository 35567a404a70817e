/**
 * Up-front check of a model folder, so a command fails before any work when something is missing,
 * naming the missing files and the `deno task fetch` line that brings them (or what to place by hand).
 *
 * @example
 * ```ts
 * import { checkModelFolder } from "./model_folder.ts";
 * await checkModelFolder("data/models/nope").catch((e) => console.log(e.message));
 * ```
 * @module
 */
import { InputError } from "../errors.ts";

async function isFile(path: string): Promise<boolean> {
  try {
    return (await Deno.stat(path)).isFile;
  } catch {
    return false;
  }
}

/** The model name a folder stands for (its last path component), for the fetch hint. */
function modelName(dir: string): string {
  return dir.replace(/\/+$/, "").split("/").pop() || dir;
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
      `model folder is incomplete: missing ${missing.join(", ")}. ` +
        `Get it with \`deno task fetch ${
          modelName(dir)
        }\`, or place a Hugging Face checkpoint folder there by hand.`,
      { file: dir },
    );
  }
}
