/**
 * What `deno task fetch <name>` downloads, and where it goes in the data folder (the layout of
 * `data/README.md`, the same as the shared evaluation-data folder):
 *
 * - models → `models/<repo name>/` (Hugging Face checkpoint folders, without the owner, e.g.
 *   `models/unsup-simcse-bert-base-uncased`): `config.json`, one weight file
 *   (`model.safetensors`, else `pytorch_model.bin` when the repository has no safetensors) and the
 *   tokenizer files (`vocab.txt`, or `vocab.json` + `merges.txt`; `tokenizer.json`,
 *   `tokenizer_config.json` and `special_tokens_map.json` when the repository has them);
 * - `senteval` → `senteval/STS/…`, `senteval/SICK/…` from SimCSE's `senteval.tar`
 *   (`princeton-nlp/datasets-for-simcse`; only `STS/` and `SICK/` are unpacked);
 * - `wiki1m` → `wiki/wiki1m_for_simcse.txt`; `nli` → `nli/nli_for_simcse.csv` (same dataset repo);
 * - `senteval_cn` → `zh/{lcqmc,pawsx}/…` from SimCSE-jittor's `senteval_cn.zip` (Tsinghua cloud).
 *
 * Sources: docs/SIMCSE.md §g, §d.3, §e.5. Model revisions are pinned to commit hashes where one was
 * found in public snapshot paths; they could NOT be checked against the hub from this machine
 * (it is unreachable here), and the rest are `main` (marked unpinned). `--revision` overrides.
 * Names match case-insensitively, and aliases (e.g. `unsup-simcse-bert-base-uncased`, `bert-tiny`)
 * work too.
 *
 * @example
 * ```ts
 * import { findItem, fetchCommand } from "./catalog.ts";
 * console.log(findItem("bert-tiny")?.name); // "google/bert_uncased_L-2_H-128_A-2"
 * console.log(fetchCommand(["senteval"], { dataDir: "/tmp/d" })); // "deno task fetch senteval --data-dir /tmp/d"
 * ```
 * @module
 */

/**
 * STS subsets per year, as SentEval's `sts.py` names them. Kept here (not imported from
 * `lib/eval/sts_data.ts`) so this module has no imports and the eval loaders can import it for
 * their hints; `catalog_test.ts` checks that the two lists agree.
 */
const STS_FILES: Readonly<Record<string, readonly string[]>> = {
  STS12: ["MSRpar", "MSRvid", "SMTeuroparl", "surprise.OnWN", "surprise.SMTnews"],
  STS13: ["FNWN", "headlines", "OnWN"],
  STS14: ["deft-forum", "deft-news", "headlines", "images", "OnWN", "tweet-news"],
  STS15: ["answers-forums", "answers-students", "belief", "headlines", "images"],
  STS16: ["answer-answer", "headlines", "plagiarism", "postediting", "question-question"],
};

/** The default data folder: `$SIMCSE_DATA_DIR`, else `data` (as `resolveDataDir()` in the eval loaders). */
export function defaultDataDir(): string {
  try {
    return Deno.env.get("SIMCSE_DATA_DIR") || "data";
  } catch {
    return "data"; // no env permission
  }
}

export type ModelFamily = "bert" | "gpt2" | "roberta";

export interface ModelItem {
  kind: "model";
  /** Catalog name (the hub id; the folder under `models/` drops the owner, see {@link modelFolder}). */
  name: string;
  /** Hub repository (`owner/name`). */
  repo: string;
  /** Pinned commit hash, or `main` when unpinned. */
  revision: string;
  /** Whether `revision` is a commit hash (never verified from here; see the module doc). */
  pinned: boolean;
  family: ModelFamily;
  aliases: string[];
  /** Rough download size, for `--list`. */
  approxBytes: number;
  description: string;
}

/** A file in a hub repository. */
export interface HubSource {
  type: "hub";
  repo: string;
  repoType: "dataset" | "model";
  revision: string;
  path: string;
}

/** A file at a plain URL (not on the hub; `--url NAME=URL` overrides it). */
export interface UrlSource {
  type: "url";
  url: string;
  /** Local name of the download (`.downloads/<fileName>` for archives). */
  fileName: string;
}

export interface DataItem {
  kind: "data";
  name: string;
  aliases: string[];
  description: string;
  source: HubSource | UrlSource;
  approxBytes: number;
  /** For a plain file: its data-relative destination. */
  dest?: string;
  /** For an archive: its format and which members go where (data-relative), null to skip. */
  archive?: { format: "tar" | "zip"; map(memberPath: string): string | null };
  /** Data-relative files that must all exist for the item to count as present. */
  outputs: string[];
  /** Data-relative folders this item fills (for "how do I get this file" hints). */
  covers: string[];
}

export type CatalogItem = ModelItem | DataItem;

/** The dataset repository of SimCSE's training and evaluation files. */
export const SIMCSE_DATASETS_REPO = "princeton-nlp/datasets-for-simcse";

const MB = 1e6;

function model(
  name: string,
  repo: string,
  revision: string | null,
  family: ModelFamily,
  approxBytes: number,
  description: string,
  aliases: string[] = [],
): ModelItem {
  return {
    kind: "model",
    name,
    repo,
    revision: revision ?? "main",
    pinned: revision !== null,
    family,
    aliases,
    approxBytes,
    description,
  };
}

/** Google's 24 compact BERTs (Turc et al. 2019), L layers × H hidden, A = H/64 heads. */
function compactBerts(): ModelItem[] {
  const nick: Record<string, string> = {
    "2_128": "bert-tiny",
    "4_256": "bert-mini",
    "4_512": "bert-small",
    "8_512": "bert-medium",
  };
  const out: ModelItem[] = [];
  for (const l of [2, 4, 6, 8, 10, 12]) {
    for (const h of [128, 256, 512, 768]) {
      const id = `bert_uncased_L-${l}_H-${h}_A-${h / 64}`;
      const params = 30522 * h + 514 * h + 2 * h + l * (12 * h * h + 13 * h) + h * h + h;
      const aliases = [id, ...(nick[`${l}_${h}`] ? [nick[`${l}_${h}`]] : [])];
      // Only L-2_H-128's commit was found in public snapshot paths.
      const rev = l === 2 && h === 128 ? "30b0a37ccaaa32f332884b96992754e246e48c5f" : null;
      out.push(
        model(
          `google/${id}`,
          `google/${id}`,
          rev,
          "bert",
          params * 4,
          `compact BERT, ${l} layers, hidden ${h}`,
          aliases,
        ),
      );
    }
  }
  return out;
}

function simcseModels(): ModelItem[] {
  // Commits found in public snapshot paths (unverified here); the others are unpinned.
  const pins: Record<string, string> = {
    "sup-simcse-roberta-base": "4bf73c6b5df517f74188c5e9ec159b2208c89c08",
    "sup-simcse-roberta-large": "96d164d9950b72f4ce179cb1eb3414de0910953f",
    "unsup-simcse-roberta-large": "d3f863b476c59b0673264042f159cea15842e265",
  };
  const sizes: Record<string, number> = {
    "bert-base-uncased": 438 * MB,
    "bert-large-uncased": 1340 * MB,
    "roberta-base": 499 * MB,
    "roberta-large": 1420 * MB,
  };
  const out: ModelItem[] = [];
  for (const kind of ["unsup", "sup"]) {
    for (const base of Object.keys(sizes)) {
      const id = `${kind}-simcse-${base}`;
      const family: ModelFamily = base.startsWith("roberta") ? "roberta" : "bert";
      out.push(model(
        `princeton-nlp/${id}`,
        `princeton-nlp/${id}`,
        pins[id] ?? null,
        family,
        sizes[base],
        `released ${kind === "unsup" ? "unsupervised" : "supervised"} SimCSE (${base})`,
        [id],
      ));
    }
  }
  return out;
}

function stsOutputs(): string[] {
  const out: string[] = [];
  for (const [year, subsets] of Object.entries(STS_FILES)) {
    for (const name of subsets) {
      out.push(
        `senteval/STS/${year}-en-test/STS.input.${name}.txt`,
        `senteval/STS/${year}-en-test/STS.gs.${name}.txt`,
      );
    }
  }
  for (const s of ["train", "dev", "test"]) out.push(`senteval/STS/STSBenchmark/sts-${s}.csv`);
  for (const s of ["train", "trial", "test_annotated"]) out.push(`senteval/SICK/SICK_${s}.txt`);
  return out;
}

/** SentEval tar member → `senteval/STS/…` or `senteval/SICK/…` (tolerating a few leading folders). */
export function mapSentevalMember(path: string): string | null {
  const parts = path.split("/");
  const i = parts.findIndex((p) => p === "STS" || p === "SICK");
  if (i < 0 || i > 3 || parts.length === i + 1) return null;
  return `senteval/${parts.slice(i).join("/")}`;
}

const ZH_DIRS: Record<string, string> = {
  LCQMC: "lcqmc",
  PAWSX: "pawsx",
  "STS-B": "stsb",
  ATEC: "atec",
  BQ: "bq",
};

/** `senteval_cn.zip` member → `zh/<task>/<TASK>.<split>.data` (by file name; macOS junk skipped). */
export function mapSentevalCnMember(path: string): string | null {
  if (path.split("/").includes("__MACOSX")) return null;
  const base = path.slice(path.lastIndexOf("/") + 1);
  const m = base.match(/^(LCQMC|PAWSX|STS-B|ATEC|BQ)\.(train|valid|test)\.data$/);
  return m ? `zh/${ZH_DIRS[m[1]]}/${base}` : null;
}

function hubData(path: string): HubSource {
  return { type: "hub", repo: SIMCSE_DATASETS_REPO, repoType: "dataset", revision: "main", path };
}

function dataItems(): DataItem[] {
  const zhOut: string[] = [];
  for (const t of ["LCQMC", "PAWSX"]) {
    for (const s of ["train", "valid", "test"]) zhOut.push(`zh/${ZH_DIRS[t]}/${t}.${s}.data`);
  }
  return [
    {
      kind: "data",
      name: "senteval",
      aliases: ["sts", "senteval.tar"],
      description: "SentEval STS12-16, STS-B, SICK-R (SimCSE's senteval.tar; only STS/ and SICK/ unpacked)",
      source: hubData("senteval.tar"),
      approxBytes: 89.8 * MB,
      archive: { format: "tar", map: mapSentevalMember },
      outputs: stsOutputs(),
      covers: ["senteval/STS", "senteval/SICK"],
    },
    {
      kind: "data",
      name: "wiki1m",
      aliases: ["wiki", "wiki1m_for_simcse", "wiki1m_for_simcse.txt"],
      description: "1M English Wikipedia sentences (unsupervised SimCSE training)",
      source: hubData("wiki1m_for_simcse.txt"),
      approxBytes: 120 * MB,
      dest: "wiki/wiki1m_for_simcse.txt",
      outputs: ["wiki/wiki1m_for_simcse.txt"],
      covers: ["wiki/wiki1m_for_simcse.txt"],
    },
    {
      kind: "data",
      name: "nli",
      aliases: ["nli_for_simcse", "nli_for_simcse.csv"],
      description: "SNLI+MNLI triplets sent0,sent1,hard_neg (supervised SimCSE)",
      source: hubData("nli_for_simcse.csv"),
      approxBytes: 49 * MB,
      dest: "nli/nli_for_simcse.csv",
      outputs: ["nli/nli_for_simcse.csv"],
      covers: ["nli/nli_for_simcse.csv"],
    },
    {
      kind: "data",
      name: "senteval_cn",
      aliases: ["zh", "chinese", "senteval_cn.zip"],
      description:
        "Chinese LCQMC and PAWS-X train/valid/test (SimCSE-jittor's senteval_cn.zip, Tsinghua cloud)",
      source: {
        type: "url",
        url: "https://cloud.tsinghua.edu.cn/f/4063befbf1bd4f92a91b/?dl=1",
        fileName: "senteval_cn.zip",
      },
      approxBytes: NaN,
      archive: { format: "zip", map: mapSentevalCnMember },
      outputs: zhOut,
      covers: ["zh/lcqmc", "zh/pawsx"],
    },
  ];
}

/** Every item `deno task fetch` knows, models first. */
export const CATALOG: readonly CatalogItem[] = [
  model(
    "bert-base-uncased",
    "google-bert/bert-base-uncased",
    "86b5e0934494bd15c9632b12f734a8a67f723594",
    "bert",
    440 * MB,
    "BERT-base uncased (unsup SimCSE's starting point)",
    ["google-bert/bert-base-uncased"],
  ),
  model(
    "bert-large-uncased",
    "google-bert/bert-large-uncased",
    "6da4b6a26a1877e173fca3225479512db81a5e5b",
    "bert",
    1340 * MB,
    "BERT-large uncased",
    ["google-bert/bert-large-uncased"],
  ),
  model(
    "bert-base-chinese",
    "google-bert/bert-base-chinese",
    "8d2a91f91cc38c96bb8b4556ba70c392f8d5ee55",
    "bert",
    412 * MB,
    "BERT-base Chinese (SimCSE-jittor's Chinese runs)",
    ["google-bert/bert-base-chinese"],
  ),
  model(
    "gpt2",
    "openai-community/gpt2",
    "607a30d783dfa663caf39e06633721c8d4cfcd7e",
    "gpt2",
    548 * MB,
    "GPT-2 small (SimCSE-jittor's GPT-2 variant)",
    ["openai-community/gpt2"],
  ),
  model(
    "gpt2-medium",
    "openai-community/gpt2-medium",
    "6dcaa7a952f72f9298047fd5137cd6e4f05f41da",
    "gpt2",
    1520 * MB,
    "GPT-2 medium",
    ["openai-community/gpt2-medium"],
  ),
  model(
    "roberta-base",
    "FacebookAI/roberta-base",
    "bc2764f8af2e92b6eb5679868df33e224075ca68",
    "roberta",
    499 * MB,
    "RoBERTa-base (not loadable by this toolkit yet)",
    ["FacebookAI/roberta-base"],
  ),
  model(
    "roberta-large",
    "FacebookAI/roberta-large",
    "716877d372b884cad6d419d828bac6c85b3b18d9",
    "roberta",
    1420 * MB,
    "RoBERTa-large (not loadable by this toolkit yet)",
    ["FacebookAI/roberta-large"],
  ),
  ...simcseModels(),
  ...compactBerts(),
  ...dataItems(),
];

/** The catalog item called `name` (or one of its aliases), case-insensitively. */
export function findItem(name: string): CatalogItem | undefined {
  const n = name.trim().replace(/\/+$/, "").toLowerCase();
  return CATALOG.find((i) => i.name.toLowerCase() === n) ??
    CATALOG.find((i) => i.aliases.some((a) => a.toLowerCase() === n));
}

/**
 * Data-relative folder of a model: `models/<repo name without its owner>`, e.g.
 * `models/unsup-simcse-bert-base-uncased`, `models/bert_uncased_L-2_H-128_A-2` (the folders the
 * README and the experiment presets use).
 */
export function modelFolder(item: ModelItem): string {
  return `models/${item.name.slice(item.name.lastIndexOf("/") + 1)}`;
}

/** One file of a model folder: the first of `names` the repository has is downloaded. */
export interface ModelFileSpec {
  /** Candidates in order of preference (e.g. model.safetensors, then pytorch_model.bin). */
  names: string[];
  /** Optional files are skipped when the repository lacks them. */
  optional: boolean;
}

const MIB = 1024 * 1024;

/**
 * The most bytes accepted for one download whose size the server declares nowhere (see
 * `download.ts`), and what the file is, for the error: 32 MiB for a model's JSON and text files
 * (config, vocabularies, tokenizer.json: the largest hub tokenizers are a few MiB), twice the
 * catalog's approximate size (at least 64 MiB) for weights and data, 4 GiB when that is unknown.
 */
export function undeclaredSizeCap(item: CatalogItem, fileName: string): { bytes: number; what: string } {
  const ext = fileName.slice(fileName.lastIndexOf(".") + 1).toLowerCase();
  if (item.kind === "model" && (ext === "json" || ext === "txt")) {
    return { bytes: 32 * MIB, what: `a model's .${ext} file` };
  }
  const approx = item.approxBytes;
  if (!Number.isFinite(approx)) return { bytes: 4096 * MIB, what: item.name };
  return {
    bytes: Math.max(64 * MIB, Math.ceil(2 * approx)),
    what: `${item.name} (about ${Math.round(approx / 1e6)} MB)`,
  };
}

/** The files of a model folder, in download order (small files first, weights last). */
export function modelFiles(family: ModelFamily): ModelFileSpec[] {
  const tok = family === "bert"
    ? [{ names: ["vocab.txt"], optional: false }]
    : [{ names: ["vocab.json"], optional: false }, { names: ["merges.txt"], optional: false }];
  return [
    { names: ["config.json"], optional: false },
    ...tok,
    { names: ["tokenizer.json"], optional: true },
    { names: ["tokenizer_config.json"], optional: true },
    { names: ["special_tokens_map.json"], optional: true },
    { names: ["model.safetensors", "pytorch_model.bin"], optional: false },
  ];
}

/** Normalise a path for comparisons: no `./`, no trailing or doubled slashes (`.` for empty). */
export function normDir(dir: string): string {
  const abs = dir.startsWith("/");
  const parts = dir.split("/").filter((p) => p !== "" && p !== ".");
  return (abs ? "/" : "") + parts.join("/") || (abs ? "/" : ".");
}

/** Quote for a POSIX shell when needed. */
function shellQuote(s: string): string {
  return /^[A-Za-z0-9_@%+=:,./-]+$/.test(s) ? s : `'${s.replace(/'/g, `'\\''`)}'`;
}

/** Options that change the exact command line. */
export interface CommandOptions {
  /** The data folder; left out of the command when it is the default (`$SIMCSE_DATA_DIR` or `data`). */
  dataDir?: string;
  revision?: string;
  baseUrl?: string;
  /** The default data folder (default: {@link defaultDataDir}), for tests. */
  defaultDataDir?: string;
}

/** The exact `deno task fetch …` line that gets `names`. */
export function fetchCommand(names: string[], opts: CommandOptions = {}): string {
  const parts = ["deno task fetch", ...names.map(shellQuote)];
  const def = normDir(opts.defaultDataDir ?? defaultDataDir());
  if (opts.dataDir !== undefined && normDir(opts.dataDir) !== def) {
    parts.push("--data-dir", shellQuote(opts.dataDir));
  }
  if (opts.revision) parts.push("--revision", shellQuote(opts.revision));
  if (opts.baseUrl) parts.push("--base-url", shellQuote(opts.baseUrl));
  return parts.join(" ");
}

/** What fetches a given path: the item, the data folder it sits in, and the command. */
export interface FetchHint {
  item: CatalogItem;
  dataDir: string;
  command: string;
  /** For models: the folder the command fills (may differ from the path when an alias matched). */
  folder?: string;
}

/**
 * Which catalog item provides `path` (a model folder or a data file, absolute or relative), and
 * the exact command; null when no item does (place the file by hand). Model folders are matched
 * as `<dataDir>/models/<repo name>` (or `<name or alias>`); data files by their data-relative path.
 */
export function fetchHintForPath(path: string, opts: { defaultDataDir?: string } = {}): FetchHint | null {
  const norm = normDir(path);
  const abs = norm.startsWith("/");
  const comps = norm.split("/").filter((c) => c !== "");
  for (let i = 0; i < comps.length; i++) {
    const rel = comps.slice(i).join("/");
    const dataDir = i === 0 ? "." : (abs ? "/" : "") + comps.slice(0, i).join("/");
    const relLower = rel.toLowerCase();
    for (const item of CATALOG) {
      if (item.kind === "model") {
        for (
          const folderName of [
            modelFolder(item),
            ...[item.name, ...item.aliases].map((n) => `models/${n}`),
          ]
        ) {
          const folder = folderName.toLowerCase();
          if (relLower === folder || relLower.startsWith(`${folder}/`)) {
            const command = fetchCommand([item.name], { dataDir, defaultDataDir: opts.defaultDataDir });
            return { item, dataDir, command, folder: normDir(`${dataDir}/${modelFolder(item)}`) };
          }
        }
      } else if (
        item.outputs.includes(rel) || item.covers.some((c) => rel === c || rel.startsWith(`${c}/`))
      ) {
        return {
          item,
          dataDir,
          command: fetchCommand([item.name], { dataDir, defaultDataDir: opts.defaultDataDir }),
        };
      }
    }
  }
  return null;
}
