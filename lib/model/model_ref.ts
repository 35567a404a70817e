/**
 * What `--model` may name, as sentence-transformers and the official `simcse` tool accept: a model
 * folder, or a hub id (`princeton-nlp/unsup-simcse-bert-base-uncased`, an alias such as `bert-tiny`)
 * that resolves to the folder `deno task fetch` fills, `<dataDir>/models/<repo name>`. An id whose
 * folder is not there yet is an error naming the exact fetch command (this toolkit runs without
 * network; `deno task fetch` is the one command that downloads).
 *
 * @example
 * ```ts
 * import { resolveModelRef } from "./model_ref.ts";
 * console.log(await resolveModelRef("testdata/bert/tiny-safetensors", "data")); // the folder itself
 * ```
 * @module
 */
import { InputError } from "../runtime/errors.ts";
import { fetchCommand, findItem, modelFolder } from "../fetch/catalog.ts";

/** `ref` as a model folder: itself when it is a folder, else the fetched folder of a known hub id. */
export async function resolveModelRef(ref: string, dataDir: string): Promise<string> {
  const isDir = await Deno.stat(ref).then((s) => s.isDirectory, () => false);
  if (isDir) return ref;
  const item = findItem(ref);
  if (!item || item.kind !== "model") return ref; // not a hub id: the folder checks say what is missing
  const dir = `${dataDir.replace(/\/+$/, "")}/${modelFolder(item)}`;
  if (await Deno.stat(`${dir}/config.json`).then((s) => s.isFile, () => false)) return dir;
  throw new InputError(
    `model '${ref}' is not downloaded (looked in ${dir}); get it with \`${
      fetchCommand([item.name], { dataDir })
    }\``,
  );
}
