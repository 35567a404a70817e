/**
 * The pooler a model is meant to be used with, as the official `simcse` tool decides it when none is
 * given: a checkpoint this toolkit trained says so itself (`simcse_pooler` in its safetensors
 * metadata); a released SimCSE checkpoint by its name (`unsup-simcse-*`: the raw [CLS] vector,
 * `cls_before_pooler`; `sup-simcse-*`: `cls`, with the pooler layer); every other model `avg`.
 *
 * @example
 * ```ts
 * import { defaultPooler } from "./default_pooler.ts";
 * console.log(await defaultPooler("data/models/unsup-simcse-bert-base-uncased")); // cls_before_pooler
 * ```
 * @module
 */
import { parsePooler, type PoolerType } from "./pooling.ts";
import { readSafetensorsMetadata } from "../checkpoint/safetensors.ts";

/** The `simcse_pooler` entry of `<dir>/model.safetensors`'s metadata, if any (the header only is read). */
async function recordedPooler(dir: string): Promise<PoolerType | null> {
  try {
    const p = (await readSafetensorsMetadata(`${dir}/model.safetensors`)).simcse_pooler;
    return p === undefined ? null : parsePooler(p);
  } catch {
    return null; // no safetensors file, or one the checkpoint reader will judge when the model loads
  }
}

/** The pooler to use for the model folder `dir` when the user names none. */
export async function defaultPooler(dir: string): Promise<PoolerType> {
  const recorded = await recordedPooler(dir);
  if (recorded) return recorded;
  const name = dir.replace(/\/+$/, "").split("/").pop()!.toLowerCase();
  if (name.includes("unsup-simcse")) return "cls_before_pooler";
  if (name.includes("sup-simcse")) return "cls";
  return "avg";
}
