/**
 * `deno run -A bench/search_bench.ts [--data-dir DIR] [--embed fake|tiny] [--dim N] [--queries N]
 *   [--limit N] [--ef 16,32,64,128,256] [--json FILE]`
 *
 * Exact (brute-force) vs approximate (HNSW, `usearch`) sentence search on real STS sentences: every
 * unique sentence of `senteval/STS/*` under the data folder (STS12–16 `STS.input.*.txt`, both
 * columns; STS-B `sts-{train,dev,test}.csv`, columns 6 and 7). `--queries` of them (every k-th)
 * are held out as queries; the rest are indexed. For each HNSW search beam (`--ef`), reports
 * recall@10 against the exact top-10 (and a tie-aware variant: a result counts when its exact score
 * reaches the 10th exact score) and the query time, next to the brute-force query time measured in
 * the same process. Both go through `SentenceIndex.searchEmbedding`, one query at a time, one thread.
 *
 * Embeddings: `--embed fake` (default) is a deterministic hashed bag of words and bigrams (each
 * feature a fixed pseudo-random vector, summed and L2-normalised; `--dim`, default 768 = BERT-base),
 * so neighbours share words, as with a real encoder, and any machine gets the same vectors fast.
 * `--embed tiny` uses the test checkpoint `testdata/bert/tiny-safetensors` (size 32, a 100-token
 * vocabulary: most words are [UNK], so many sentences get near-identical vectors and plain recall
 * understates the index; see the tie-aware column).
 *
 * @module
 */
import { main, parseFlags, positiveInt } from "../lib/app/cli.ts";
import { InputError } from "../lib/runtime/errors.ts";
import { joinPath, resolveDataDir } from "../lib/eval/sts_data.ts";
import { writeFileAtomic } from "../lib/runtime/atomic_write.ts";
import { checkOutputPath } from "../lib/runtime/output_path.ts";
import { useBackend } from "../lib/kernels/backend.ts";
import { SentenceEncoder } from "../lib/simcse/sentence_encoder.ts";
import { buildIndex, type EmbedFn, SentenceIndex } from "../lib/search/sentence_index.ts";
import { unitVector } from "../lib/search/embedding_matrix.ts";

/** Every unique sentence of `senteval/STS/*` in first-seen order (files in name order). */
export async function stsSentences(dataDir: string): Promise<{ sentences: string[]; files: number }> {
  const root = joinPath(dataDir, "senteval/STS");
  const seen = new Set<string>();
  const out: string[] = [];
  let files = 0;
  const dirs: string[] = [];
  try {
    for await (const e of Deno.readDir(root)) if (e.isDirectory) dirs.push(e.name);
  } catch {
    throw new InputError("no STS data here (set SIMCSE_DATA_DIR or pass --data-dir)", { file: root });
  }
  for (const d of dirs.sort()) {
    const names: string[] = [];
    for await (const e of Deno.readDir(`${root}/${d}`)) names.push(e.name);
    for (const name of names.sort()) {
      const cols = name.startsWith("STS.input.") && name.endsWith(".txt")
        ? [0, 1]
        : /^sts-(train|dev|test)\.csv$/.test(name)
        ? [5, 6]
        : null;
      if (!cols) continue;
      files++;
      for (const line of (await Deno.readTextFile(`${root}/${d}/${name}`)).split(/\r\n|\r|\n/)) {
        const f = line.split("\t");
        for (const c of cols) {
          const s = f[c]?.trim();
          if (s && !seen.has(s)) {
            seen.add(s);
            out.push(s);
          }
        }
      }
    }
  }
  return { sentences: out, files };
}

/** 32-bit FNV-1a hash of a string. */
function fnv1a(s: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) h = Math.imul(h ^ s.charCodeAt(i), 0x01000193);
  return h >>> 0;
}

/** The deterministic fake embedding: Σ unigram vectors + ½ Σ bigram vectors, each from a seeded PRNG. */
export function fakeEmbedding(sentence: string, dim: number): Float32Array {
  const toks = sentence.toLowerCase().split(/\s+/).filter(Boolean);
  const feats: [string, number][] = toks.map((t) => [t, 1]);
  for (let i = 0; i + 1 < toks.length; i++) feats.push([`${toks[i]} ${toks[i + 1]}`, 0.5]);
  const v = new Float32Array(dim);
  for (const [f, w] of feats) {
    let s = fnv1a(f) || 1;
    for (let j = 0; j < dim; j++) {
      s ^= s << 13;
      s ^= s >>> 17;
      s ^= s << 5; // xorshift32
      v[j] += w * ((s >>> 0) / 2 ** 32 - 0.5);
    }
  }
  return unitVector(v);
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

if (import.meta.main) {
  await main(async () => {
    const { values } = parseFlags(
      Deno.args,
      {
        "data-dir": { type: "string" },
        embed: { type: "string", default: "fake" },
        dim: { type: "string" },
        queries: { type: "string" },
        limit: { type: "string" },
        ef: { type: "string", default: "16,32,64,128,256" },
        json: { type: "string" },
      },
      "usage: deno run -A bench/search_bench.ts [--data-dir DIR] [--embed fake|tiny] [--dim N] [--queries N] [--limit N] [--ef LIST] [--json FILE]",
    );
    const dataDir = resolveDataDir(values["data-dir"] as string | undefined);
    if (values.json) await checkOutputPath(values.json as string, { flag: "json", inputs: [dataDir] });
    const embedKind = values.embed as string;
    if (embedKind !== "fake" && embedKind !== "tiny") {
      throw new InputError(`--embed must be fake or tiny, got '${embedKind}'`);
    }
    const dim = positiveInt(values.dim as string | undefined, "dim", 768);
    const nQueries = positiveInt(values.queries as string | undefined, "queries", 500);
    const efs = (values.ef as string).split(",").map((x) => positiveInt(x, "ef", 64));
    const K = 10;

    let { sentences, files } = await stsSentences(dataDir);
    const limit = values.limit
      ? positiveInt(values.limit as string, "limit", sentences.length)
      : sentences.length;
    sentences = sentences.slice(0, limit);
    console.error(
      `${sentences.length} unique STS sentences from ${files} files under ${dataDir}/senteval/STS`,
    );

    // Embed everything once.
    let t = performance.now();
    let vectors: Float32Array[];
    let model: string;
    if (embedKind === "fake") {
      vectors = sentences.map((s) => fakeEmbedding(s, dim));
      model = `fake hashed bag of words + bigrams, size ${dim}`;
    } else {
      await useBackend("auto");
      const tiny = new URL("../testdata/bert/tiny-safetensors", import.meta.url).pathname;
      const enc = await SentenceEncoder.load(tiny, { pooler: "cls_before_pooler" });
      vectors = await enc.encodeRows(sentences, { batchSize: 128, normalize: true, progress: true });
      enc.dispose();
      model = "testdata/bert/tiny-safetensors (cls_before_pooler, size 32)";
    }
    const embedSeconds = (performance.now() - t) / 1000;
    console.error(`embedded with ${model} in ${embedSeconds.toFixed(1)} s`);

    // Hold out every k-th sentence as a query.
    const step = Math.max(1, Math.floor(sentences.length / nQueries));
    const qIdx = new Set(Array.from({ length: Math.min(nQueries, sentences.length) }, (_, i) => i * step));
    const corpus = sentences.filter((_, i) => !qIdx.has(i));
    const queryVecs = [...qIdx].map((i) => vectors[i]);
    const byText = new Map(sentences.map((s, i) => [s, vectors[i]]));
    const lookup: EmbedFn = (s) => Promise.resolve(s.map((x) => byText.get(x)!));

    t = performance.now();
    const exact = await buildIndex(corpus, lookup, { batchSize: 4096 });
    const exactBuild = (performance.now() - t) / 1000;

    // Exact top-10 (brute force) of every query.
    const all = { topK: K, threshold: -Infinity };
    const truth = queryVecs.map((q) => exact.searchEmbedding(q, all));
    t = performance.now();
    const approx = await buildIndex(corpus, lookup, {
      batchSize: 4096,
      approximate: { expansionSearch: efs[0] },
    });
    const hnswBuild = (performance.now() - t) / 1000;
    console.error(`HNSW build (M=16, ef_construction=128, all cores): ${hnswBuild.toFixed(1)} s`);
    const tmp = await Deno.makeTempFile({ suffix: ".simidx" });
    await approx.save(tmp);
    const fileBytes = (await Deno.stat(tmp)).size;

    const rows: {
      ef: number;
      recall: number;
      recallTies: number;
      msPerQuery: number;
      bruteForceMsPerQuery: number;
      speedup: number;
    }[] = [];
    for (const ef of efs) {
      const idx = await SentenceIndex.load(tmp, lookup, { approximate: { expansionSearch: ef } });
      let hits = 0, tieHits = 0;
      const times: number[] = [], bfTimes: number[] = [];
      for (const [qi, q] of queryVecs.entries()) {
        // Brute force and HNSW alternate query by query, so load from elsewhere hits both alike.
        let t0 = performance.now();
        exact.searchEmbedding(q, all);
        bfTimes.push(performance.now() - t0);
        t0 = performance.now();
        const got = idx.searchEmbedding(q, all);
        times.push(performance.now() - t0);
        const want = new Set(truth[qi].map((h) => h.index));
        const kth = truth[qi][truth[qi].length - 1].score;
        for (const h of got) {
          if (want.has(h.index)) hits++;
          if (h.score >= kth - 1e-6) tieHits++;
        }
      }
      const n = queryVecs.length * K;
      const ms = median(times), bf = median(bfTimes);
      rows.push({
        ef,
        recall: hits / n,
        recallTies: Math.min(1, tieHits / n),
        msPerQuery: ms,
        bruteForceMsPerQuery: bf,
        speedup: bf / ms,
      });
      console.error(
        `ef ${ef}: recall@10 ${(hits / n).toFixed(4)}, ${ms.toFixed(3)} ms/query (brute force ${
          bf.toFixed(3)
        })`,
      );
    }
    await Deno.remove(tmp);

    const table = [
      `Sentence search on ${corpus.length} indexed STS sentences, ${queryVecs.length} held-out queries, ${model}.`,
      `HNSW (usearch, M=16, ef_construction=128): built in ${hnswBuild.toFixed(1)} s; index file ${
        (fileBytes / 2 ** 20).toFixed(1)
      } MiB. Median ms per query, one thread; brute force timed alternately with HNSW.`,
      "",
      "| ef (search beam) | recall@10 | recall@10, ties counted | HNSW ms/query | brute force ms/query | speed-up |",
      "|---|---|---|---|---|---|",
      ...rows.map((r) =>
        `| ${r.ef} | ${r.recall.toFixed(4)} | ${r.recallTies.toFixed(4)} | ${r.msPerQuery.toFixed(3)} | ${
          r.bruteForceMsPerQuery.toFixed(3)
        } | ${r.speedup.toFixed(1)}× |`
      ),
    ].join("\n");
    console.log(table);
    if (values.json) {
      await writeFileAtomic(
        values.json as string,
        JSON.stringify(
          {
            kind: "search-bench",
            date: new Date().toISOString(),
            command: `deno run -A bench/search_bench.ts ${Deno.args.join(" ")}`.trim(),
            deno: Deno.version.deno,
            cpus: navigator.hardwareConcurrency,
            loadavg: Deno.loadavg(),
            model,
            indexed: corpus.length,
            queries: queryVecs.length,
            embedSeconds,
            exactBuildSeconds: exactBuild,
            hnswBuildSeconds: hnswBuild,
            indexFileBytes: fileBytes,
            hnsw: rows,
            table,
          },
          null,
          2,
        ) + "\n",
      );
    }
  });
}
