/**
 * Fuzz targets for the surfaces added after the first fuzz suite (issue 19):
 *
 * - `.simidx` sentence indexes with an HNSW graph: the whole file is read as `search` reads it
 *   (`decodeIndexFile`, then the graph through `HnswIndex.deserialize`, which checks it before the
 *   native USearch library sees it) and searched. Oracle: every hit is a stored row, at most top-k,
 *   without repeats, and an intact stored row finds itself with cosine 1 by exact search.
 * - model folders whose tokenizer ids are mutated (BERT `tokenizer.json`, GPT-2 `vocab.json`): the
 *   folder is loaded and sentences are embedded. Oracle: the highest token id is below the config's
 *   `vocab_size`, every id of every encoded sentence indexes the embedding matrix, and every
 *   embedding is finite.
 * - numeric command-line flags: argument lists (a JSON array of strings, mutated) go through the
 *   shared flag parser and helpers of the CLIs (`lib/app/cli.ts`). Oracle: an independent reading of
 *   each value (decimal digits for integers, a finite decimal for numbers) accepts exactly what the
 *   helper accepts, with the same value.
 *
 * @module
 */

import fc from "fast-check";
import { InputError } from "../../lib/runtime/errors.ts";
import { decodeIndexFile, encodeIndexFile } from "../../lib/search/index_file.ts";
import { HnswIndex } from "../../lib/search/hnsw_index.ts";
import { SentenceEncoder } from "../../lib/simcse/sentence_encoder.ts";
import { useBackend } from "../../lib/kernels/backend.ts";
import { writeFileAtomic } from "../../lib/runtime/atomic_write.ts";
import type { FuzzTarget, Verdict } from "./harness.ts";
import { byteOps, jsonOps } from "./mutations.ts";
import { nonNegativeInt, numberFlag, parseFlags, positiveInt } from "../../lib/app/cli.ts";
import { inputError } from "../../lib/runtime/printable.ts";

const ROOT = new URL("../../", import.meta.url);
const path = (rel: string) => decodeURIComponent(new URL(rel, ROOT).pathname);
const enc = new TextEncoder();

// ---------------------------------------------------------------------------------------------
// .simidx with an HNSW graph

/** A deterministic unit-vector matrix of `n` rows of size `dim`. */
function unitRows(n: number, dim: number): Float32Array {
  const m = new Float32Array(n * dim);
  for (let i = 0; i < n; i++) {
    let norm = 0;
    for (let d = 0; d < dim; d++) {
      const x = Math.sin(1.3 * i + 0.7 * d + 0.1 * i * d);
      m[i * dim + d] = x;
      norm += x * x;
    }
    for (let d = 0; d < dim; d++) m[i * dim + d] /= Math.sqrt(norm);
  }
  return m;
}

async function indexSeed(n: number, dim: number, approximate: boolean) {
  const embeddings = unitRows(n, dim);
  let hnsw: Uint8Array | null = null;
  const params = {
    library: "usearch@2.26.2",
    metric: "ip" as const,
    connectivity: 8,
    expansionAdd: 32,
    expansionSearch: 16,
  };
  if (approximate) {
    const idx = await HnswIndex.create(dim, { ...params, threads: 1 });
    idx.add(0, embeddings);
    hnsw = await idx.serialize();
  }
  const bytes = encodeIndexFile({
    meta: {
      modelPath: null,
      pooler: "avg",
      dim,
      count: n,
      createdAt: "2026-01-01T00:00:00Z",
      hnsw: hnsw ? params : null,
    },
    sentences: Array.from({ length: n }, (_, i) => `sentence ${i}`),
    embeddings,
    hnsw,
  });
  // Byte ranges worth mutating most: the HNSW section (counts, levels, links) and the header.
  const headerLen = Number(new DataView(bytes.buffer).getBigUint64(8, true));
  const hot: [number, number][] = [[8, 16 + headerLen]];
  if (hnsw) {
    hot.push([bytes.length - hnsw.length, bytes.length], [
      bytes.length - hnsw.length,
      bytes.length - hnsw.length + 8,
    ]);
  }
  return { bytes, info: { n, dim, hot, embeddings } };
}

const dot = (a: Float32Array, b: Float32Array) => a.reduce((s, x, i) => s + x * b[i], 0);

/** `.simidx` files read and searched as `deno task search` does. */
export const simidxTarget: FuzzTarget = {
  name: ".simidx + HNSW graph",
  file: "fuzz/index.simidx",
  async seeds() {
    return [
      { name: "HNSW, 40 × 6", ...(await indexSeed(40, 6, true)) },
      { name: "HNSW, 3 × 4", ...(await indexSeed(3, 4, true)) },
      { name: "exact, 5 × 3", ...(await indexSeed(5, 3, false)) },
    ];
  },
  mutations(seed) {
    return byteOps(seed.bytes.length, seed.info.hot, seed.info.hot.map((r: [number, number]) => r[0]));
  },
  async run(bytes) {
    const c = decodeIndexFile(bytes, this.file);
    const { count, dim } = c.meta;
    const query = c.embeddings.slice(0, dim);
    const check = (keys: number[], k: number): Verdict => {
      if (keys.length > k) return `${keys.length} hits for top-${k}`;
      if (new Set(keys).size !== keys.length) return `repeated hits ${keys}`;
      if (keys.some((key) => !Number.isInteger(key) || key < 0 || key >= count)) {
        return `hit outside 0..${count - 1}: ${keys}`;
      }
      return null;
    };
    if (c.hnsw && c.meta.hnsw) {
      const g = await HnswIndex.deserialize(c.hnsw, dim, c.meta.hnsw, count, this.file, { threads: 1 });
      if (count > 0) {
        const v = check(g.search(query, 5), Math.min(5, count));
        if (v) return { verdict: v };
      }
    }
    // Exact search: row 0 is its own best match (its cosine with itself is 1).
    if (count > 0) {
      const self = dot(query, query);
      let best = -Infinity;
      for (let i = 0; i < count; i++) {
        best = Math.max(best, dot(query, c.embeddings.subarray(i * dim, (i + 1) * dim)));
      }
      if (!(best >= self - 1e-6) && Math.abs(self - 1) < 1e-3) {
        return { verdict: `row 0 scores ${self}, another ${best}` };
      }
    }
    return { verdict: null };
  },
};

// ---------------------------------------------------------------------------------------------
// Model folders with mutated token ids

const SENTENCES = ["a man is playing a guitar .", "the cat sat on the mat", "e", "zzz ## [UNK] [SEP]"];

/** A model folder under fuzz: a copy of a tiny test model whose tokenizer file is replaced per case. */
function modelTarget(
  name: string,
  src: string,
  tokenizerFile: string,
  seedBytes: () => Promise<Uint8Array>,
): FuzzTarget {
  let dir: string | undefined;
  return {
    name,
    file: `fuzz/${tokenizerFile}`,
    async seeds() {
      await useBackend("cpu");
      dir ??= await Deno.makeTempDir({ prefix: "fuzz_model_" });
      // Errors may name the mutated file or the one it breaks (merges.txt, config.json): the folder.
      this.file = dir;
      for await (const e of Deno.readDir(path(src))) {
        await Deno.copyFile(`${path(src)}/${e.name}`, `${dir}/${e.name}`);
      }
      const bytes = await seedBytes();
      return [{ name: tokenizerFile, bytes, info: JSON.parse(new TextDecoder().decode(bytes)) }];
    },
    mutations(seed) {
      return fc.oneof({ weight: 3, arbitrary: jsonOps(seed.info) }, {
        weight: 1,
        arbitrary: byteOps(seed.bytes.length),
      });
    },
    async run(bytes) {
      await writeFileAtomic(`${dir}/${tokenizerFile}`, bytes);
      const encoder = await SentenceEncoder.load(dir!, { pooler: "avg" });
      try {
        const tok = encoder.tokenizer;
        // The config file's own value, read here independently of the loader.
        const vocabSize = JSON.parse(await Deno.readTextFile(`${dir}/config.json`)).vocab_size as number;
        if (tok.info.vocabSize > vocabSize) {
          return { verdict: `token ids up to ${tok.info.vocabSize - 1} loaded, vocab_size ${vocabSize}` };
        }
        for (const s of SENTENCES) {
          const ids = tok.encode(s);
          const bad = ids.find((id) => !(Number.isInteger(id) && id >= 0 && id < vocabSize));
          if (bad !== undefined) return { verdict: `"${s}" encodes to id ${bad}, vocab_size ${vocabSize}` };
        }
        const vecs = await encoder.encodeRows(SENTENCES);
        if (vecs.some((v) => v.some((x) => !Number.isFinite(x)))) {
          return { verdict: "a non-finite embedding" };
        }
        return { verdict: null };
      } finally {
        encoder.dispose();
      }
    },
    async cleanup() {
      if (dir !== undefined) await Deno.remove(dir, { recursive: true });
      dir = undefined;
    },
  };
}

/** tiny BERT with its vocabulary as a tokenizer.json (ids mutated). */
export const bertTokenizerIdsTarget: FuzzTarget = modelTarget(
  "BERT folder tokenizer.json ids",
  "testdata/bert/tiny-safetensors",
  "tokenizer.json",
  async () => {
    const { BertTokenizer } = await import("../../lib/tokenizer/bert_tokenizer.ts");
    const src = BertTokenizer.fromVocabText(
      Deno.readFileSync(path("testdata/bert/tiny-safetensors/vocab.txt")),
    );
    const tmp = await Deno.makeTempDir({ prefix: "fuzz_tok_seed_" });
    await src.saveTo(tmp);
    const bytes = await Deno.readFile(`${tmp}/tokenizer.json`);
    await Deno.remove(tmp, { recursive: true });
    return bytes;
  },
);

/** tiny GPT-2's vocab.json (ids mutated; merges.txt stays). */
export const gpt2VocabIdsTarget: FuzzTarget = modelTarget(
  "GPT-2 folder vocab.json ids",
  "testdata/gpt2/tiny-safetensors",
  "vocab.json",
  () => Deno.readFile(path("testdata/gpt2/tiny-safetensors/vocab.json")),
);

// ---------------------------------------------------------------------------------------------
// Numeric command-line flags

const FLAG_SEED = [
  "--cases",
  "300",
  "--seed",
  "0",
  "--hang-ms",
  "1500",
  "--threshold",
  "0.6",
  "--ratio",
  "0.5",
];
const USAGE = "usage: fuzz-flags [--cases N] [--seed S] [--hang-ms MS] [--threshold T] [--ratio R]";

/** Independent reading of an integer flag: decimal digits (surrounding whitespace allowed). */
function expectInt(v: string, min: number): number | null {
  const m = /^\s*(\d+)\s*$/.exec(v);
  if (!m) return null;
  const n = BigInt(m[1]);
  return n >= BigInt(min) && n <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(n) : null;
}

/** Independent reading of a number flag: an ECMAScript numeric literal that is finite, within [lo, hi]. */
function expectNumber(v: string, lo: number, hi: number): number | null {
  const t = v.trim();
  if (t === "") return null;
  const n = /^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$/.test(t) || /^0[xXoObB][\da-fA-F]+$/.test(t)
    ? Number(t)
    : NaN;
  return Number.isFinite(n) && n >= lo && n <= hi ? n : null;
}

/** Argument lists through `parseFlags` and the numeric flag helpers every CLI uses. */
export const cliFlagsTarget: FuzzTarget = {
  name: "CLI numeric flags",
  file: "--",
  seeds() {
    return Promise.resolve([{
      name: "fuzz flags",
      bytes: enc.encode(JSON.stringify(FLAG_SEED)),
      info: FLAG_SEED,
    }]);
  },
  mutations(seed) {
    return fc.oneof({ weight: 3, arbitrary: jsonOps(seed.info) }, {
      weight: 1,
      arbitrary: byteOps(seed.bytes.length),
    });
  },
  run(bytes) {
    let args: unknown;
    try {
      args = JSON.parse(new TextDecoder("utf-8", { fatal: true }).decode(bytes));
    } catch {
      throw new InputError("-- the argument list is not UTF-8 JSON (a harness case, not a CLI one)");
    }
    if (!Array.isArray(args) || args.some((a) => typeof a !== "string")) {
      throw new InputError("-- the argument list is not an array of strings (a harness case)");
    }
    // --help prints the usage and exits the process (tested in cli/cli_flags_test.ts): not here.
    if ((args as string[]).some((a) => /^--help(=|$)/.test(a))) return Promise.resolve({ verdict: null });
    let values: Record<string, unknown>;
    try {
      values = parseFlags(args as string[], {
        cases: { type: "string" },
        seed: { type: "string" },
        "hang-ms": { type: "string" },
        threshold: { type: "string" },
        ratio: { type: "string" },
      }, USAGE).values;
    } catch (e) {
      // The CLIs print this message and the usage below it; one line is enough here.
      if (e instanceof InputError) throw inputError(`-- ${e.message.split("\n")[0]}`);
      throw e;
    }
    const got: Record<string, number | null> = {};
    const want: Record<string, number | null> = {};
    const attempt = (key: string, f: () => number, expect: (v: string) => number | null) => {
      const v = values[key] as string | undefined;
      want[key] = v === undefined ? -1 : expect(v);
      try {
        got[key] = f();
      } catch (e) {
        if (!(e instanceof InputError) || !e.message.startsWith(`--${key} must be`)) throw e;
        got[key] = null;
      }
    };
    attempt(
      "cases",
      () => positiveInt(values.cases as string | undefined, "cases", -1),
      (v) => expectInt(v, 1),
    );
    attempt(
      "seed",
      () => nonNegativeInt(values.seed as string | undefined, "seed", -1),
      (v) => expectInt(v, 0),
    );
    attempt(
      "hang-ms",
      () => positiveInt(values["hang-ms"] as string | undefined, "hang-ms", -1),
      (v) => expectInt(v, 1),
    );
    attempt(
      "threshold",
      () => numberFlag(values.threshold as string | undefined, "threshold", -1),
      (v) => expectNumber(v, -Infinity, Infinity),
    );
    attempt(
      "ratio",
      () => numberFlag(values.ratio as string | undefined, "ratio", -1, { min: 0, max: 1 }),
      (v) => expectNumber(v, 0, 1),
    );
    for (const key of Object.keys(want)) {
      if (!Object.is(got[key], want[key])) {
        return Promise.resolve({
          verdict: `--${key} ${JSON.stringify(values[key])}: the helper gives ${got[key]}, expected ${
            want[key]
          }`,
        });
      }
    }
    // A refused value is a refusal of the whole command line: report it like the CLIs do.
    const refused = Object.keys(got).find((k) => got[k] === null);
    if (refused) throw new InputError(`-- --${refused} refused`);
    return Promise.resolve({ verdict: null });
  },
};
