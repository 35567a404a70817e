/**
 * Fuzz targets for the text readers: `config.json`, `vocab.txt`, `tokenizer.json`, the STS12–16
 * input/gold files, STS-B and SICK, the Chinese `.data` sets, and training files (`.txt`, `.csv`,
 * `.tsv`). Seeds are small synthetic files in each format (with multi-byte text, extra columns,
 * quoting), plus, when the shared data folder is there, the first lines of the real files.
 *
 * Oracles: `config.json` is checked field by field against its JSON and Hugging Face's defaults and
 * value rules; the tokenizers are checked against the vocabulary they were built from (every id
 * of every piece is the piece's id in the file); the data files against invariants here (aligned
 * columns, finite scores, whitespace-normalised sentences) and, in the long run, against
 * `reference/text_fuzz_oracle.py`, which re-reads every loaded case with Python's own string
 * primitives (`str.split`, `splitlines`, `float`, the `csv` module) and must agree hash for hash.
 *
 * @module
 */

import fc from "fast-check";
import { parseJsonConfig } from "../../lib/checkpoint/hf_folder.ts";
import { decodeInputText } from "../../lib/checkpoint/read_input.ts";
import { parseTrainBytes, type TrainFileFormat } from "../../lib/data/train_corpus.ts";
import {
  decodeDataText,
  type PairList,
  parseChinese,
  parseSick,
  parseStsBenchmark,
  parseStsSubset,
} from "../../lib/eval/sts_data.ts";
import { bertConfigFromJson } from "../../lib/model/bert_config.ts";
import { BertTokenizer } from "../../lib/tokenizer/bert_tokenizer.ts";
import { writeFileAtomic } from "../../lib/runtime/atomic_write.ts";
import { float64Hex, rowsHash } from "./canonical.ts";
import type { FuzzTarget, RunResult, Seed, Verdict } from "./harness.ts";
import { byteOps, jsonOps, lineOps } from "./mutations.ts";

const ROOT = new URL("../../", import.meta.url);
const path = (rel: string) => decodeURIComponent(new URL(rel, ROOT).pathname);
const enc = new TextEncoder();

/** The shared data folder, if present ($SIMCSE_DATA_DIR, else ../shared/data). */
function dataDir(): string | null {
  let dir: string | undefined;
  try {
    dir = Deno.env.get("SIMCSE_DATA_DIR");
  } catch { /* no env permission */ }
  dir ??= decodeURIComponent(new URL("../../../shared/data", import.meta.url).pathname);
  try {
    return Deno.statSync(dir).isDirectory ? dir : null;
  } catch {
    return null;
  }
}

/** The first `n` lines of a shared data file, or null when it is not there. */
function headOf(rel: string, n: number): Uint8Array | null {
  const dir = dataDir();
  if (!dir) return null;
  try {
    const text = Deno.readTextFileSync(`${dir}/${rel}`);
    return enc.encode(text.split("\n").slice(0, n).join("\n") + "\n");
  } catch {
    return null;
  }
}

function textSeeds(synthetic: Record<string, string>, real: Record<string, string> = {}): Seed[] {
  const seeds: Seed[] = Object.entries(synthetic).map(([name, text]) => ({ name, bytes: enc.encode(text) }));
  for (const [name, rel] of Object.entries(real)) {
    const bytes = headOf(rel, 40);
    if (bytes) seeds.push({ name, bytes });
  }
  return seeds;
}

function countLines(b: Uint8Array): number {
  let n = 1;
  for (const c of b) if (c === 0x0a) n++;
  return n;
}

function textMutations(seed: Seed): fc.Arbitrary<import("./mutations.ts").Op[]> {
  return fc.oneof(
    { weight: 2, arbitrary: lineOps(countLines(seed.bytes)) },
    { weight: 1, arbitrary: byteOps(seed.bytes.length) },
  );
}

// ---------------------------------------------------------------------------------------------
// config.json

const CONFIG_DEFAULTS: Record<string, unknown> = {
  hidden_act: "gelu",
  hidden_dropout_prob: 0.1,
  attention_probs_dropout_prob: 0.1,
  max_position_embeddings: 512,
  type_vocab_size: 2,
  layer_norm_eps: 1e-12,
  initializer_range: 0.02,
  pad_token_id: 0,
};

/** Why a loaded config is not what its JSON says (HF BertConfig semantics), or null. */
function configOracle(text: string, cfg: Record<string, unknown>): Verdict {
  let json: Record<string, unknown>;
  try {
    json = JSON.parse(text.replace(/^\uFEFF/, ""));
  } catch {
    return "loaded a config.json that is not JSON";
  }
  const get = (k: string) => json[k] ?? CONFIG_DEFAULTS[k];
  const posInt = (v: unknown) => typeof v === "number" && Number.isInteger(v) && v > 0;
  const prob = (v: unknown) => typeof v === "number" && v >= 0 && v < 1;
  const rules: [string, string, (v: unknown) => boolean][] = [
    ["vocab_size", "vocabSize", posInt],
    ["hidden_size", "hiddenSize", posInt],
    ["num_hidden_layers", "numHiddenLayers", posInt],
    ["num_attention_heads", "numAttentionHeads", posInt],
    ["intermediate_size", "intermediateSize", posInt],
    ["hidden_act", "hiddenAct", (v) => v === "gelu" || v === "gelu_new" || v === "relu"],
    ["hidden_dropout_prob", "hiddenDropoutProb", prob],
    ["attention_probs_dropout_prob", "attentionProbsDropoutProb", prob],
    ["max_position_embeddings", "maxPositionEmbeddings", posInt],
    ["type_vocab_size", "typeVocabSize", posInt],
    ["layer_norm_eps", "layerNormEps", (v) => typeof v === "number" && v > 0 && Number.isFinite(v)],
    ["initializer_range", "initializerRange", (v) => typeof v === "number" && v >= 0 && Number.isFinite(v)],
    [
      "pad_token_id",
      "padTokenId",
      (v) => typeof v === "number" && Number.isInteger(v) && v >= 0 && v < (json.vocab_size as number),
    ],
  ];
  for (const [key, field, ok] of rules) {
    const v = get(key);
    if (!ok(v)) return `accepted ${key} = ${JSON.stringify(v)}`;
    if (cfg[field] !== v) return `${field} is ${cfg[field]} but ${key} is ${JSON.stringify(v)}`;
  }
  if (json.model_type !== undefined && json.model_type !== "bert") return "accepted a non-BERT model_type";
  const pe = json.position_embedding_type;
  if (pe !== undefined && pe !== "absolute") return `accepted position_embedding_type ${JSON.stringify(pe)}`;
  if ((cfg.hiddenSize as number) % (cfg.numAttentionHeads as number) !== 0) {
    return "heads do not divide hidden";
  }
  return null;
}

export const configTarget: FuzzTarget = {
  name: "config.json",
  file: "fuzz/config.json",
  seeds() {
    const seeds = textSeeds({
      "bert-base": JSON.stringify(
        {
          architectures: ["BertForMaskedLM"],
          attention_probs_dropout_prob: 0.1,
          hidden_act: "gelu",
          hidden_dropout_prob: 0.1,
          hidden_size: 768,
          initializer_range: 0.02,
          intermediate_size: 3072,
          layer_norm_eps: 1e-12,
          max_position_embeddings: 512,
          model_type: "bert",
          num_attention_heads: 12,
          num_hidden_layers: 12,
          pad_token_id: 0,
          type_vocab_size: 2,
          vocab_size: 30522,
        },
        null,
        2,
      ),
      "minimal": '{"vocab_size": 100, "hidden_size": 32, "num_hidden_layers": 2, "num_attention_heads": 4, ' +
        '"intermediate_size": 64}',
    });
    seeds.push({
      name: "tiny",
      bytes: Deno.readFileSync(path("testdata/bert/tiny-safetensors/config.json")),
    });
    for (const s of seeds) s.info = JSON.parse(new TextDecoder().decode(s.bytes));
    return Promise.resolve(seeds);
  },
  mutations(seed) {
    return fc.oneof(
      { weight: 3, arbitrary: jsonOps(seed.info) },
      { weight: 1, arbitrary: byteOps(seed.bytes.length) },
    );
  },
  run(bytes) {
    const text = decodeInputText(bytes, this.file);
    const cfg = bertConfigFromJson(parseJsonConfig(text, this.file), this.file);
    return Promise.resolve({ verdict: configOracle(text, cfg as unknown as Record<string, unknown>) });
  },
};

// ---------------------------------------------------------------------------------------------
// Tokenizers

const SENTENCES = [
  "A man is playing a guitar.",
  "two women are slicing an onion!",
  "",
  "naïve café, 中文 test ## [MASK] [UNK]",
  "the " + "guitar ".repeat(80),
];

/** Every piece's id must be its id in `ids` (the vocabulary read independently), specials included. */
function tokenizerOracle(tok: BertTokenizer, ids: Map<string, number>): Verdict {
  for (const s of SENTENCES) {
    const pieces = tok.tokenize(s);
    const encoded = tok.encode(s);
    if (encoded.length !== pieces.length + 2) {
      return `encode gave ${encoded.length} ids for ${pieces.length} pieces`;
    }
    if (encoded[0] !== ids.get(tok.options.clsToken)) return "[CLS] id differs from the file";
    if (encoded.at(-1) !== ids.get(tok.options.sepToken)) return "[SEP] id differs from the file";
    for (let i = 0; i < pieces.length; i++) {
      const want = ids.get(pieces[i]);
      if (want === undefined) return `piece ${JSON.stringify(pieces[i])} is not in the vocabulary`;
      if (encoded[i + 1] !== want) {
        return `piece ${JSON.stringify(pieces[i])} got id ${encoded[i + 1]}, file says ${want}`;
      }
    }
    for (const id of encoded) if (!(id >= 0 && id < tok.info.vocabSize)) return `id ${id} out of range`;
    const truncated = tok.encode(s, { maxLength: 8 });
    if (truncated.length > 8) return "maxLength not honoured";
  }
  return null;
}

/** vocab.txt per the documented rules (see vocab_file.ts), read independently; null = must refuse. */
function vocabOracle(bytes: Uint8Array): string[] | null {
  let text: string;
  try {
    text = new TextDecoder("utf-8", { fatal: true }).decode(bytes); // drops one leading BOM
  } catch {
    return null;
  }
  if (text === "") return null;
  if (text.endsWith("\n")) text = text.slice(0, -1);
  const tokens = text.split("\n").map((l) => (l.endsWith("\r") ? l.slice(0, -1) : l));
  if (tokens.some((t) => t === "" || t.includes("\r"))) return null;
  if (new Set(tokens).size !== tokens.length) return null;
  for (const special of ["[PAD]", "[UNK]", "[CLS]", "[SEP]"]) if (!tokens.includes(special)) return null;
  return tokens;
}

export const vocabTarget: FuzzTarget = {
  name: "vocab.txt",
  file: "fuzz/vocab.txt",
  seeds() {
    const seeds = textSeeds({
      "unicode":
        "[PAD]\n[UNK]\n[CLS]\n[SEP]\n[MASK]\na\nman\nis\nplay\n##ing\n##s\nguitar\n.\n,\n!\n中\n文\ncafe\nna\n##ive\n" +
        "\u00e9\n##\u00e9\ntest\n#\n[\n]\n",
    });
    seeds.push({ name: "tiny", bytes: Deno.readFileSync(path("testdata/bert/tiny-safetensors/vocab.txt")) });
    return Promise.resolve(seeds);
  },
  separator: 0x20,
  mutations: textMutations,
  run(bytes) {
    const tok = BertTokenizer.fromVocabText(bytes, { file: this.file });
    const tokens = vocabOracle(bytes);
    if (tokens === null) return Promise.resolve({ verdict: "loaded a vocab.txt the rules forbid" });
    if (tok.info.vocabSize !== tokens.length) {
      return Promise.resolve({ verdict: `vocabSize ${tok.info.vocabSize}, file has ${tokens.length} lines` });
    }
    return Promise.resolve({
      verdict: tokenizerOracle(tok, new Map(tokens.map((t, i) => [t, i]))),
      deferred: rowsHash(tokens.map((t) => [t])),
    });
  },
  deferredOracle: "vocab",
};

let tokDir: string | undefined;

export const tokenizerJsonTarget: FuzzTarget = {
  name: "tokenizer.json",
  file: "fuzz/tokenizer.json",
  async seeds() {
    tokDir ??= await Deno.makeTempDir({ prefix: "fuzz_tokenizer_" });
    this.file = `${tokDir}/tokenizer.json`;
    const src = BertTokenizer.fromVocabText(
      Deno.readFileSync(path("testdata/bert/tiny-safetensors/vocab.txt")),
    );
    const seedDir = await Deno.makeTempDir({ prefix: "fuzz_tokenizer_seed_" });
    await src.saveTo(seedDir);
    const bytes = await Deno.readFile(`${seedDir}/tokenizer.json`);
    await Deno.remove(seedDir, { recursive: true });
    return [{ name: "tiny tokenizer.json", bytes, info: JSON.parse(new TextDecoder().decode(bytes)) }];
  },
  mutations(seed) {
    return fc.oneof(
      { weight: 3, arbitrary: jsonOps(seed.info) },
      { weight: 1, arbitrary: byteOps(seed.bytes.length) },
    );
  },
  async run(bytes) {
    await writeFileAtomic(this.file, bytes);
    const tok = await BertTokenizer.fromFolder(tokDir!);
    let json: Record<string, unknown>;
    try {
      json = JSON.parse(new TextDecoder("utf-8", { fatal: true }).decode(bytes));
    } catch {
      return { verdict: "loaded a tokenizer.json that is not UTF-8 JSON" };
    }
    const ids = new Map<string, number>(
      Object.entries((json.model as { vocab: Record<string, number> }).vocab),
    );
    const lowercase = (json.normalizer as { lowercase?: unknown } | null)?.lowercase !== false;
    for (const t of (json.added_tokens ?? []) as { content: string; id: number; normalized?: boolean }[]) {
      ids.set(t.content, t.id);
      // A `normalized` added token matches the normalized text, and its piece is normalized too.
      if (t.normalized && lowercase) ids.set(t.content.toLowerCase(), t.id);
    }
    return { verdict: tokenizerOracle(tok, ids) };
  },
  async cleanup() {
    if (tokDir !== undefined) await Deno.remove(tokDir, { recursive: true });
    tokDir = undefined;
  },
};

// ---------------------------------------------------------------------------------------------
// Evaluation data

// deno-lint-ignore no-control-regex -- Python's str.isspace() set
const PY_WS = /[\t\n\v\f\r\x1c-\x1f \x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]/;

/** Aligned columns, finite scores; `normalized` sentences are single-spaced words. */
function pairsOracle(p: PairList, normalized: boolean): Verdict {
  if (p.s1.length !== p.gold.length || p.s2.length !== p.gold.length) return "columns not aligned";
  for (let i = 0; i < p.gold.length; i++) {
    if (!Number.isFinite(p.gold[i])) return `score ${p.gold[i]} is not finite`;
    for (const s of [p.s1[i], p.s2[i]]) {
      if (/[\t\n\r]/.test(s) && (normalized || /[\t\n]/.test(s))) {
        return `sentence ${JSON.stringify(s)} holds a separator`;
      }
      if (normalized && s.split(" ").some((w) => w === "" ? s !== "" : PY_WS.test(w))) {
        return `sentence ${JSON.stringify(s)} is not whitespace-normalised`;
      }
    }
  }
  return null;
}

function pairsHash(p: PairList): string {
  return rowsHash(p.gold.map((g, i) => [p.s1[i], p.s2[i], float64Hex(g)]));
}

function pairResult(p: PairList, normalized: boolean, files?: Record<string, Uint8Array>): RunResult {
  return { verdict: pairsOracle(p, normalized), deferred: pairsHash(p), files };
}

const STS_INPUT = "A man is playing a guitar .\tA man plays the guitar .\n" +
  "Two  women\u00a0are slicing an onion.\tA woman is cutting an onion .\n" +
  '"quoted" text , here\tsome text\n' +
  "unscored pair\tstill parsed\n" +
  "caf\u00e9 na\u00efve r\u00e9sum\u00e9\tthe end\n";
const STS_GOLD = "4.8\n3.0\n0.25\n\n5\n";

export const stsTarget: FuzzTarget = {
  name: "STS12-16 input/gold",
  /** Both files' names start with this; each message names the one at fault. */
  file: "fuzz/STS.",
  seeds() {
    const seeds: Seed[] = [
      {
        name: "input",
        bytes: enc.encode(STS_INPUT),
        info: { other: enc.encode(STS_GOLD), mutated: "input" },
      },
      { name: "gold", bytes: enc.encode(STS_GOLD), info: { other: enc.encode(STS_INPUT), mutated: "gold" } },
    ];
    const input = headOf("senteval/STS/STS12-en-test/STS.input.MSRpar.txt", 40);
    const gold = headOf("senteval/STS/STS12-en-test/STS.gs.MSRpar.txt", 40);
    if (input && gold) {
      seeds.push({ name: "MSRpar input", bytes: input, info: { other: gold, mutated: "input" } });
      seeds.push({ name: "MSRpar gold", bytes: gold, info: { other: input, mutated: "gold" } });
    }
    return Promise.resolve(seeds);
  },
  mutations: textMutations,
  run(bytes, seed) {
    // Both files are named in messages; the harness checks for the common prefix.
    const inputBytes = seed.info.mutated === "input" ? bytes : seed.info.other;
    const goldBytes = seed.info.mutated === "gold" ? bytes : seed.info.other;
    const inputFile = "fuzz/STS.input.x.txt", goldFile = "fuzz/STS.gs.x.txt";
    const p = parseStsSubset(decodeDataText(inputBytes, inputFile), decodeDataText(goldBytes, goldFile), {
      name: "x",
      inputFile,
      goldFile,
    });
    return Promise.resolve(pairResult(p, true, { input: inputBytes, gold: goldBytes }));
  },
  deferredOracle: "sts",
};

const STSB =
  "main-captions\tMSRvid\t2012test\t0001\t5.000\ta man is playing a flute .\ta man is playing a flute .\n" +
  "main-news\theadlines\t2013\t0042\t3.800\tsyria peace talks\tpeace talks in syria\textra\tsource\n" +
  'main-forum\tdeft-forum\t2014\t0007\t0.0\t"quoted" words , here\tthe caf\u00e9\n';
const SICK = "pair_ID\tsentence_A\tsentence_B\trelatedness_score\tentailment_judgment\n" +
  "1\tA group of kids is playing in a yard\tA group of boys in a yard is playing\t4.5\tNEUTRAL\n" +
  "2\tNobody is riding the bicycle on one wheel\tA person in a black jacket is doing tricks\t2.9\tCONTRADICTION\n" +
  "3\tThe young boys are playing outdoors\tThe kids are playing outdoors near a man\t3.6\tENTAILMENT\n";
const ZH = "\u4eca\u5929\u5929\u6c14\u600e\u4e48\u6837\t\u4eca\u5929\u5929\u6c14\u597d\u5417\t1\n" +
  "\u6211 \u7231\u4f60\t\u4f60\u7231\u6211\u5417\t0\n" +
  "abc\u00a0def\tghi\t3.5\n";

export const stsbTarget: FuzzTarget = {
  name: "STSBenchmark sts-*.csv",
  file: "fuzz/sts-dev.csv",
  seeds: () =>
    Promise.resolve(
      textSeeds({ synthetic: STSB }, { "sts-dev head": "senteval/STS/STSBenchmark/sts-dev.csv" }),
    ),
  mutations: textMutations,
  run(bytes) {
    return Promise.resolve(pairResult(parseStsBenchmark(decodeDataText(bytes, this.file), this.file), true));
  },
  deferredOracle: "stsb",
};

export const sickTarget: FuzzTarget = {
  name: "SICK_*.txt",
  file: "fuzz/SICK_trial.txt",
  seeds: () =>
    Promise.resolve(textSeeds({ synthetic: SICK }, { "SICK_trial head": "senteval/SICK/SICK_trial.txt" })),
  mutations: textMutations,
  run(bytes) {
    return Promise.resolve(pairResult(parseSick(decodeDataText(bytes, this.file), this.file), true));
  },
  deferredOracle: "sick",
};

export const chineseTarget: FuzzTarget = {
  name: "LCQMC/PAWSX/STSB-zh .data",
  file: "fuzz/LCQMC.test.data",
  seeds: () =>
    Promise.resolve(textSeeds({ synthetic: ZH }, {
      "lcqmc head": "zh/lcqmc/LCQMC.test.data",
      "pawsx head": "zh/pawsx/PAWSX.test.data",
    })),
  mutations: textMutations,
  run(bytes) {
    return Promise.resolve(pairResult(parseChinese(decodeDataText(bytes, this.file), this.file), false));
  },
  deferredOracle: "zh",
};

// ---------------------------------------------------------------------------------------------
// Training files

function trainTarget(
  name: string,
  file: string,
  format: TrainFileFormat,
  seeds: Record<string, string>,
  real = {},
): FuzzTarget {
  return {
    name,
    file,
    seeds: () => Promise.resolve(textSeeds(seeds, real)),
    separator: format === "csv" ? 0x2c : 0x09,
    mutations: textMutations,
    run(bytes) {
      const ex = parseTrainBytes(bytes, this.file, format);
      let verdict: Verdict = null;
      if (ex.rows.some((r) => r.length !== ex.columns)) verdict = "a row has the wrong number of columns";
      if (ex.rows.length === 0) verdict = "loaded zero examples";
      if (format === "text" && ex.rows.some((r) => /[\r\n]/.test(r[0]))) {
        verdict = "a line holds a line break";
      }
      return Promise.resolve({ verdict, deferred: rowsHash([ex.columnNames, ...ex.rows]) });
    },
    deferredOracle: `train_${format}`,
  };
}

export const trainTxtTarget = trainTarget(
  "train .txt",
  "fuzz/wiki1m.txt",
  "text",
  { synthetic: "YMCA in South Australia\nthe caf\u00e9 \u2028 is open\n\nlast line without newline" },
  { "wiki1m head": "wiki/wiki1m_for_simcse.head.txt" },
);

export const trainCsvTarget = trainTarget("train .csv", "fuzz/nli.csv", "csv", {
  nli:
    'sent0,sent1,hard_neg\n"A man, playing",A person plays,Nobody plays\n"He said ""hi""",greeting,"multi\nline"\n',
  unsup: "text\nfirst sentence\n\nsecond, quoted\n",
});

export const trainTsvTarget = trainTarget("train .tsv", "fuzz/pairs.tsv", "tsv", {
  pairs: 'sent0\tsent1\nA man\tA person\n"quoted\ttab"\tx\n',
});

export const trainCnTarget = trainTarget("train .data (Chinese)", "fuzz/train.data", "senteval_cn", {
  zh: ZH,
});
