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

/** The `simcse_pooler` entry of `<dir>/model.safetensors`'s header metadata, if any (header read only). */
async function recordedPooler(dir: string): Promise<PoolerType | null> {
  let file: Deno.FsFile;
  try {
    file = await Deno.open(`${dir}/model.safetensors`);
  } catch {
    return null;
  }
  try {
    const head = new Uint8Array(8);
    if ((await file.read(head)) !== 8) return null;
    const n = Number(new DataView(head.buffer).getBigUint64(0, true));
    if (n <= 0 || n > 1_000_000) return null; // a huge header is for the checkpoint reader to judge
    const json = new Uint8Array(n);
    let got = 0;
    while (got < n) {
      const r = await file.read(json.subarray(got));
      if (r === null) return null;
      got += r;
    }
    const meta = (JSON.parse(new TextDecoder().decode(json)) as { __metadata__?: Record<string, unknown> })
      .__metadata__;
    const p = meta?.simcse_pooler;
    return typeof p === "string" ? parsePooler(p) : null;
  } catch {
    return null;
  } finally {
    file.close();
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
