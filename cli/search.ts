/**
 * `deno task search --model DIR --index FILE [--query TEXT]... [--build FILE.txt] [--pooler P]
 *   [--top-k K] [--threshold T] [--approximate | --exact] [--batch-size N] [--backend B] [--json]`
 *
 * Sentence search like the official `simcse` tool. With `--build`, embeds the sentences of a text
 * file (one per line) and saves the index to `--index` (atomically); otherwise loads `--index`.
 * Then answers each `--query`: the `--top-k` (default 5) most similar indexed sentences with cosine
 * >= `--threshold` (default 0.6; write a negative value as `--threshold=-1`). `--approximate` uses an HNSW graph (built with `--build`, saved in
 * the index); a loaded index with a saved graph uses it unless `--exact`.
 *
 * The pooler defaults to the one recorded in the index, else `cls_before_pooler` (the unsupervised
 * SimCSE pooler; pass `--pooler cls` for supervised checkpoints, as the official tool's default does).
 *
 * @module
 */
import { main, numberFlag, parseFlags, positiveInt, required } from "../lib/app/cli.ts";
import { parseBackend, useBackend } from "../lib/kernels/backend.ts";
import { parsePooler, type PoolerType } from "../lib/simcse/pooling.ts";
import { InputError } from "../lib/runtime/errors.ts";
import { SentenceEncoder } from "../lib/simcse/sentence_encoder.ts";
import { checkModelFolder } from "../lib/model/model_folder.ts";
import { buildIndex, type SearchHit, SentenceIndex } from "../lib/search/sentence_index.ts";
import { readIndexHeader } from "../lib/search/index_file.ts";
import { checkOutputPath } from "../lib/runtime/output_path.ts";
import { DEFAULT_THRESHOLD, DEFAULT_TOP_K } from "../lib/search/top_k.ts";
import { terminalText } from "../lib/runtime/printable.ts";
import { resolveModelRef } from "../lib/model/model_ref.ts";
import { defaultPooler } from "../lib/simcse/default_pooler.ts";
import { resolveDataDir } from "../lib/eval/sts_data.ts";
import { dropUnusedPermissions } from "../lib/app/permissions.ts";

const USAGE = `usage: deno task search --model DIR --index FILE [--query TEXT]... [--build FILE.txt]
       [--pooler NAME] [--top-k K] [--threshold T] [--approximate | --exact] [--batch-size N]
       [--backend auto|tensorflow|webgpu|wasm|cpu] [--json]`;

/**
 * Human-readable results of one query. Sentences and the query pass through {@link terminalText}:
 * an indexed file cannot colour, move or retitle the user's terminal (`--json` keeps them exact).
 */
export function formatHits(query: string, hits: SearchHit[], threshold: number): string {
  const lines = [`query: ${terminalText(query)}`];
  if (hits.length === 0) lines.push(`  (no indexed sentence with cosine >= ${threshold})`);
  for (const h of hits) lines.push(`  ${h.score.toFixed(4)}  ${terminalText(h.sentence)}`);
  return lines.join("\n");
}

/**
 * The pooler to query an existing index with: the one it was built with (a different --pooler is an
 * error), else the flag, else the model's own; warns when the index was built from another model.
 */
async function indexPooler(
  indexPath: string,
  modelDir: string,
  poolerFlag?: PoolerType,
): Promise<PoolerType> {
  const meta = await readIndexHeader(indexPath);
  if (meta.modelPath !== null && (await realPath(meta.modelPath)) !== (await realPath(modelDir))) {
    console.error(`warning: ${indexPath} was built with --model ${meta.modelPath}, not ${modelDir}`);
  }
  if (meta.pooler === null) return poolerFlag ?? await defaultPooler(modelDir);
  if (poolerFlag !== undefined && poolerFlag !== meta.pooler) {
    throw new InputError(
      `the index was built with --pooler ${meta.pooler}; use it (or rebuild with --build)`,
      {
        file: indexPath,
      },
    );
  }
  return parsePooler(meta.pooler);
}

if (import.meta.main) {
  await main(async () => {
    const { values } = parseFlags(Deno.args, {
      model: { type: "string" },
      index: { type: "string" },
      query: { type: "string", multiple: true },
      build: { type: "string" },
      pooler: { type: "string" },
      "top-k": { type: "string" },
      threshold: { type: "string" },
      approximate: { type: "boolean", default: false },
      exact: { type: "boolean", default: false },
      "batch-size": { type: "string" },
      backend: { type: "string", default: "auto" },
      json: { type: "boolean", default: false },
    }, USAGE);
    const modelDir = await resolveModelRef(
      required(values.model as string | undefined, "model", USAGE),
      resolveDataDir(undefined),
    );
    const indexPath = required(values.index as string | undefined, "index", USAGE);
    const queries = (values.query as string[] | undefined) ?? [];
    const buildFile = values.build as string | undefined;
    const topK = positiveInt(values["top-k"] as string | undefined, "top-k", DEFAULT_TOP_K);
    const threshold = numberFlag(values.threshold as string | undefined, "threshold", DEFAULT_THRESHOLD);
    const batchSize = positiveInt(values["batch-size"] as string | undefined, "batch-size", 64);
    const poolerFlag = values.pooler === undefined ? undefined : parsePooler(values.pooler as string);
    const backendChoice = parseBackend(values.backend as string);
    if (values.approximate && values.exact) {
      throw new InputError(`--approximate and --exact exclude each other\n${USAGE}`);
    }
    if (!buildFile && queries.length === 0) {
      throw new InputError(`give --query (or --build to make an index)\n${USAGE}`);
    }

    const pooler = buildFile
      ? poolerFlag ?? await defaultPooler(modelDir)
      : await indexPooler(indexPath, modelDir, poolerFlag);
    await checkModelFolder(modelDir);
    if (buildFile) await checkOutputPath(indexPath, { flag: "index", inputs: [buildFile, modelDir] });
    await dropUnusedPermissions(await useBackend(backendChoice));
    const encoder = await SentenceEncoder.load(modelDir, { pooler });
    try {
      let index: SentenceIndex;
      if (buildFile) {
        const t0 = performance.now();
        index = await buildIndex(buildFile, encoder, {
          batchSize,
          approximate: values.approximate as boolean,
          modelPath: modelDir,
          pooler,
          progress: true,
        });
        await index.save(indexPath);
        console.error(
          `indexed ${index.size} sentences (size ${index.dim}, ${pooler}${
            index.approximate ? ", HNSW" : ""
          }) ` +
            `in ${((performance.now() - t0) / 1000).toFixed(1)} s -> ${indexPath}`,
        );
      } else {
        index = await SentenceIndex.load(indexPath, encoder, {
          batchSize,
          approximate: values.approximate ? true : values.exact ? false : undefined,
        });
      }
      if (queries.length === 0) return;
      const results = await index.search(queries, { topK, threshold });
      if (values.json) {
        console.log(JSON.stringify(queries.map((query, i) => ({ query, hits: results[i] })), null, 2));
      } else {
        console.log(queries.map((q, i) => formatHits(q, results[i], threshold)).join("\n"));
      }
    } finally {
      encoder.dispose();
    }
  });
}

async function realPath(p: string): Promise<string> {
  try {
    return await Deno.realPath(p);
  } catch {
    return p;
  }
}
