/**
 * `--model` and `--pooler` as every command reads them: the model is a folder or a hub id
 * (`model_ref.ts`), and the pooler defaults to the one the model is meant for (`default_pooler.ts`).
 *
 * @module
 */
import { required } from "./cli.ts";
import { resolveModelRef } from "../model/model_ref.ts";
import { defaultPooler } from "../simcse/default_pooler.ts";
import { parsePooler, type PoolerType } from "../simcse/pooling.ts";

/** The model folder and pooler of `--model REF [--pooler NAME]`; `pooledBy` says where the pooler came from. */
export async function modelAndPooler(
  model: string | undefined,
  pooler: string | undefined,
  dataDir: string,
  usage: string,
): Promise<{ modelDir: string; pooler: PoolerType; pooledBy: "flag" | "model" }> {
  const modelDir = await resolveModelRef(required(model, "model", usage), dataDir);
  if (pooler !== undefined) return { modelDir, pooler: parsePooler(pooler), pooledBy: "flag" };
  return { modelDir, pooler: await defaultPooler(modelDir), pooledBy: "model" };
}
