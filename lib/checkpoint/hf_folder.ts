/**
 * Load the weights of a Hugging Face model folder, and read its JSON config files.
 *
 * Weight files are tried in the order `transformers` prefers: `model.safetensors`,
 * `model.safetensors.index.json` (sharded), `pytorch_model.bin`, `pytorch_model.bin.index.json`.
 * A sharded index maps every tensor name to a shard file in the same folder (`weight_map`); shard
 * names must be plain file names, every shard must hold exactly the tensors the index gives it, and
 * every mapped tensor must be found.
 *
 * @example
 * ```ts
 * import { loadStateDictFromFolder } from "./hf_folder.ts";
 * const { stateDict, file } = await loadStateDictFromFolder("testdata/checkpoint/sharded");
 * console.log(file, [...stateDict.keys()]); // ".../model.safetensors.index.json" [ "a.bias", "a.weight", "b.weight" ]
 * ```
 * @module
 */

import { inputError } from "../runtime/printable.ts";
import { readInputText } from "./read_input.ts";
import { readSafetensors } from "./safetensors.ts";
import type { StateDict } from "./state_dict.ts";
import { readTorchBin } from "./torch_bin.ts";
import { isFile } from "../runtime/fs.ts";

/** Weight file names, in the order they are tried. */
export const WEIGHT_FILES = [
  "model.safetensors",
  "model.safetensors.index.json",
  "pytorch_model.bin",
  "pytorch_model.bin.index.json",
] as const;

/** The state dict of a model folder, and the weight (or index) file it came from. */
export async function loadStateDictFromFolder(dir: string): Promise<{ stateDict: StateDict; file: string }> {
  const folder = dir.replace(/\/+$/, "") || "/";
  let info: Deno.FileInfo;
  try {
    info = await Deno.stat(folder);
  } catch {
    throw inputError("model folder not found", { file: folder });
  }
  if (!info.isDirectory) throw inputError("expected a model folder, found a file", { file: folder });
  for (const name of WEIGHT_FILES) {
    const file = `${folder}/${name}`;
    if (!(await isFile(file))) continue;
    const readShard = name.startsWith("model.safetensors") ? readSafetensors : readTorchBin;
    const stateDict = name.endsWith(".index.json")
      ? await loadSharded(folder, file, readShard)
      : await readShard(file);
    return { stateDict, file };
  }
  throw inputError(
    "no weights found: expected model.safetensors or pytorch_model.bin (or a sharded *.index.json)",
    { file: folder },
  );
}

async function loadSharded(
  folder: string,
  indexFile: string,
  readShard: (path: string) => Promise<StateDict>,
): Promise<StateDict> {
  const index = await readJsonConfig(indexFile);
  const map = index["weight_map"];
  if (typeof map !== "object" || map === null || Array.isArray(map)) {
    throw inputError("weight_map is missing or not an object", { file: indexFile, key: "weight_map" });
  }
  const byShard = new Map<string, Set<string>>();
  for (const [tensor, shard] of Object.entries(map)) {
    if (typeof shard !== "string" || !/^[^/\\]+$/.test(shard) || shard === "." || shard === "..") {
      const shown = typeof shard === "string" ? JSON.stringify(shard) : `of type ${typeof shard}`;
      throw inputError(`shard ${shown} is not a file name in this folder`, {
        file: indexFile,
        key: tensor,
      });
    }
    if (!byShard.has(shard)) byShard.set(shard, new Set());
    byShard.get(shard)!.add(tensor);
  }
  const out: StateDict = new Map();
  for (const [shard, wanted] of byShard) {
    const path = `${folder}/${shard}`;
    const sd = await readShard(path);
    for (const [name, tensor] of sd) {
      if (!wanted.has(name)) {
        throw inputError(`tensor is in shard ${shard} but ${indexFile} does not map it there`, {
          file: path,
          key: name,
        });
      }
      out.set(name, tensor);
    }
    for (const name of wanted) {
      if (!sd.has(name)) {
        throw inputError(`the index maps this tensor to ${shard}, which does not hold it`, {
          file: indexFile,
          key: name,
        });
      }
    }
  }
  return out;
}

/**
 * Read a JSON file that must hold an object (config.json, tokenizer_config.json, an index).
 * Missing file, invalid UTF-8, bad JSON (with line and byte position) and non-objects are
 * {@link InputError}s.
 */
export async function readJsonConfig(path: string): Promise<Record<string, unknown>> {
  return parseJsonConfig(await readInputText(path), path);
}

/** Parse the text of a JSON config file (see {@link readJsonConfig}); `file` names it in errors. */
export function parseJsonConfig(text: string, file: string): Record<string, unknown> {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (e) {
    const msg = (e as Error).message;
    const m = /position (\d+)/.exec(msg);
    const pos = m ? Number(m[1]) : undefined;
    const line = pos === undefined ? undefined : text.slice(0, pos).split("\n").length;
    throw inputError(`invalid JSON (${msg.length > 120 ? msg.slice(0, 117) + "..." : msg})`, {
      file,
      line,
    });
  }
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    const kind = value === null ? "null" : Array.isArray(value) ? "an array" : `a ${typeof value}`;
    throw inputError(`expected a JSON object, found ${kind}`, { file });
  }
  return value as Record<string, unknown>;
}
