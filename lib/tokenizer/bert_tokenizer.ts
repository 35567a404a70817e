/**
 * BERT WordPiece tokenizer for the toolkit: loads a model folder (`tokenizer.json`, or `vocab.txt`
 * plus optional `tokenizer_config.json`), encodes text to ids with `[CLS] … [SEP]`, pads batches,
 * and saves itself next to a trained model.
 *
 * Tokenization itself runs in `@huggingface/tokenizers` (BertNormalizer → BertPreTokenizer →
 * WordPiece), with two small fixes applied to the text first (see `bert_pre_normalizer.ts`), so the
 * ids equal those of Hugging Face's `BertTokenizer`/`BertTokenizerFast`
 * (`transformers/models/bert/tokenization_bert*.py`). Batches follow HF's `padding=True`: pad on
 * the right with `[PAD]` to the longest row; truncation keeps `[SEP]` last.
 *
 * @example
 * ```ts
 * import { BertTokenizer } from "./bert_tokenizer.ts";
 * const tok = BertTokenizer.fromVocabText("[PAD]\n[UNK]\n[CLS]\n[SEP]\n[MASK]\nhello\nworld\n!\n");
 * console.log(tok.encode("Hello world!")); // [2, 5, 6, 7, 3]
 * const batch = tok.encodeBatch(["hello", "hello world"]);
 * console.log(batch.seqLen, Array.from(batch.attentionMask)); // 4 [1, 1, 1, 0, 1, 1, 1, 1]
 * ```
 * @module
 */

import { Tokenizer } from "@huggingface/tokenizers";
import { InputError } from "../runtime/errors.ts";
import { writeFileAtomic } from "../runtime/atomic_write.ts";
import { preNormalize, type PreNormalizeFlags } from "./bert_pre_normalizer.ts";
import { parseVocabTxt } from "./vocab_file.ts";
import { describeIoError } from "../checkpoint/read_input.ts";
import { paddedArrays, paddedLength } from "./padding.ts";
import {
  type BertTokenizerOptions,
  DEFAULT_BERT_OPTIONS,
  optionsFromTokenizerConfig,
  parseJsonText,
  parseTokenizerJson,
  tokenizerConfigJson,
  vocabToTokenizerJson,
} from "./vocab_to_tokenizer_json.ts";

/** A padded batch, row-major `[batchSize, seqLen]` int32 arrays (the model's inputs). */
export interface EncodedBatch {
  /** Token ids, `[PAD]` after each row's `[SEP]`. */
  inputIds: Int32Array;
  /** 1 for real tokens (incl. `[CLS]`/`[SEP]`), 0 for padding. */
  attentionMask: Int32Array;
  /** All 0 (single-sentence inputs). */
  tokenTypeIds: Int32Array;
  /** Rows B. */
  batchSize: number;
  /** Columns L: the longest row's length (or the padded length asked for). */
  seqLen: number;
}

/** Special token ids and sizes. `maskId` is -1 when the vocabulary has no `[MASK]`. */
export interface TokenizerInfo {
  /** Id written into padding positions (GPT-2: its pad token, else `<|endoftext|>`). */
  padId: number;
  /** Id of `[CLS]`; -1 when the tokenizer has none (GPT-2). */
  clsId: number;
  /** Id of `[SEP]`; -1 when the tokenizer has none (GPT-2). */
  sepId: number;
  /** Id of `[MASK]`; -1 when the vocabulary has none. */
  maskId: number;
  /** Id of the unknown token. */
  unkId: number;
  /** Number of rows the embedding matrix needs: largest id + 1. */
  vocabSize: number;
  /** `model_max_length` of tokenizer_config.json (512 for BERT when absent). */
  modelMaxLength: number;
}

/** Options of {@link BertTokenizer.encode}. */
export interface EncodeOptions {
  /** Truncate to this many tokens, counting `[CLS]`/`[SEP]` when they are added. */
  maxLength?: number;
  /** Add `[CLS]` … `[SEP]` (default true). */
  addSpecialTokens?: boolean;
  /** Print one line to stderr when the text was truncated (default false). */
  warnOnTruncate?: boolean;
}

/** Options of {@link BertTokenizer.encodeBatch}. */
export interface EncodeBatchOptions {
  /** Truncate each row to this many tokens incl. `[CLS]`/`[SEP]` (`[SEP]` stays last). */
  maxLength?: number;
  /** Pad to at least this length (HF `padding="max_length"` when rows are truncated to it). */
  padTo?: number;
  /** Round the padded length up to a multiple of this (HF `pad_to_multiple_of`). */
  padToMultipleOf?: number;
  /** Print one line to stderr per call when any row was truncated (default false). */
  warnOnTruncate?: boolean;
}

/** Options of {@link BertTokenizer.decode}. */
export interface DecodeOptions {
  /** Drop `[CLS]`, `[SEP]`, `[PAD]`, … (default false, like HF). */
  skipSpecialTokens?: boolean;
}

/** Options of {@link BertTokenizer.fromVocabText}: tokenizer_config options plus a file name for errors. */
export type FromVocabOptions = Partial<BertTokenizerOptions> & { file?: string };

const TOKENIZER_JSON = "tokenizer.json";
const TOKENIZER_CONFIG_JSON = "tokenizer_config.json";
const VOCAB_TXT = "vocab.txt";

/** First chunk of text tried when truncating a long input, in characters per kept token. */
const CHARS_PER_TOKEN_GUESS = 8;

/** A BERT WordPiece tokenizer (see the module doc). */
export class BertTokenizer {
  /** Special token ids and sizes. */
  readonly info: TokenizerInfo;
  /** The file the vocabulary was read from (for errors). */
  readonly vocabFile: string;
  /** The token with the highest id. */
  readonly topToken: { token: string; id: number };
  /** The tokenizer_config options in effect. */
  readonly options: Readonly<BertTokenizerOptions>;

  readonly #tokenizer: Tokenizer;
  readonly #json: Record<string, unknown>;
  readonly #flags: PreNormalizeFlags;
  /** Where a long text may be cut without changing the pieces before the cut (see #pieceIds), or null. */
  readonly #cutBefore: RegExp | null;

  private constructor(json: Record<string, unknown>, options: BertTokenizerOptions, file: string) {
    let tokenizer: Tokenizer;
    try {
      tokenizer = new Tokenizer(json, { clean_up_tokenization_spaces: true });
    } catch (e) {
      throw new InputError(`cannot build the tokenizer: ${(e as Error).message}`, { file });
    }
    const id = (token: string, required: boolean): number => {
      const v = tokenizer.token_to_id(token);
      if (v === undefined && required) throw new InputError(`missing special token ${token}`, { file });
      return v ?? -1;
    };
    const normalizer = json.normalizer as Record<string, unknown> | null | undefined;
    const isBert = normalizer?.type === "BertNormalizer";
    this.#flags = {
      cleanText: isBert && normalizer?.clean_text !== false,
      handleChineseChars: isBert && normalizer?.handle_chinese_chars !== false,
    };
    // BERT never joins characters across whitespace (nor across a CJK ideograph, when those are
    // split off), so tokenizing a prefix that ends before one gives the first pieces of the text.
    // Not valid when an added token could span the cut, or for a non-BERT pipeline.
    const added = (json.added_tokens ?? []) as { content: string }[];
    const bertPipeline = isBert &&
      (json.pre_tokenizer as { type?: string } | null)?.type === "BertPreTokenizer";
    this.#cutBefore =
      bertPipeline && added.every((t) => !/[\s\u3400-\u4DBF\u4E00-\u9FFF\uF900-\uFAFF]/.test(t.content))
        ? (this.#flags.handleChineseChars
          ? /[ \t\n\r\u3400-\u4DBF\u4E00-\u9FFF\uF900-\uFAFF]/g
          : /[ \t\n\r]/g)
        : null;
    let maxId = -1, maxToken = "";
    for (const [t, v] of tokenizer.get_vocab(true)) if (v > maxId) [maxId, maxToken] = [v, t];
    this.vocabFile = file;
    this.topToken = { token: maxToken, id: maxId };
    this.#tokenizer = tokenizer;
    this.#json = json;
    this.options = Object.freeze({ ...options });
    this.info = Object.freeze({
      padId: id(options.padToken, true),
      clsId: id(options.clsToken, true),
      sepId: id(options.sepToken, true),
      maskId: id(options.maskToken, false),
      unkId: id(options.unkToken, true),
      vocabSize: maxId + 1,
      modelMaxLength: options.modelMaxLength,
    });
  }

  /**
   * Build from the text of a vocab.txt (one token per line, id = line index) and tokenizer_config
   * options (HF defaults: lower-case, strip accents with lower-casing, split CJK, 512).
   */
  static fromVocabText(vocabText: string | Uint8Array, options: FromVocabOptions = {}): BertTokenizer {
    const { file = VOCAB_TXT, ...rest } = options;
    const o: BertTokenizerOptions = { ...DEFAULT_BERT_OPTIONS, ...rest };
    const json = vocabToTokenizerJson(parseVocabTxt(vocabText, file), o, file);
    return new BertTokenizer(json as unknown as Record<string, unknown>, o, file);
  }

  /**
   * Load a model folder: `tokenizer.json` if present (options from its normalizer, special token
   * names and `model_max_length` from `tokenizer_config.json` if present), else `vocab.txt` plus
   * optional `tokenizer_config.json`. Bad or missing files are {@link InputError}s.
   */
  static async fromFolder(dir: string): Promise<BertTokenizer> {
    const d = dir.replace(/\/+$/, "") || "/";
    const path = (name: string) => `${d}/${name}`;
    const configText = await readIfExists(path(TOKENIZER_CONFIG_JSON));
    const config = configText === null ? {} : parseJsonText(configText, path(TOKENIZER_CONFIG_JSON));
    const fileOptions = optionsFromTokenizerConfig(config, path(TOKENIZER_CONFIG_JSON));

    const tokJsonText = await readIfExists(path(TOKENIZER_JSON));
    if (tokJsonText !== null) {
      const file = path(TOKENIZER_JSON);
      const json = parseTokenizerJson(tokJsonText, file);
      const n = json.normalizer as Record<string, unknown> | null;
      const options: BertTokenizerOptions = { ...fileOptions };
      if (n?.type === "BertNormalizer") {
        options.doLowerCase = n.lowercase !== false;
        options.stripAccents = typeof n.strip_accents === "boolean" ? n.strip_accents : null;
        options.tokenizeChineseChars = n.handle_chinese_chars !== false;
      }
      return new BertTokenizer(json, options, file);
    }
    const vocabBytes = await readBytesIfExists(path(VOCAB_TXT));
    if (vocabBytes === null) {
      throw new InputError(`no ${TOKENIZER_JSON} and no ${VOCAB_TXT} in this folder`, { file: d });
    }
    return BertTokenizer.fromVocabText(vocabBytes, { ...fileOptions, file: path(VOCAB_TXT) });
  }

  /** Word pieces of `text`, without `[CLS]`/`[SEP]` (e.g. `["play", "##ing"]`). */
  tokenize(text: string): string[] {
    return this.#tokenizer.tokenize(preNormalize(text, this.#flags), { add_special_tokens: false });
  }

  /** Token ids of one text: `[CLS] pieces [SEP]`, truncated to `maxLength` when given. */
  encode(text: string, opts: EncodeOptions = {}): number[] {
    const special = opts.addSpecialTokens ?? true;
    const budget = pieceBudget(opts.maxLength, special);
    const { ids, truncated } = this.#pieceIds(text, budget);
    if (truncated && opts.warnOnTruncate) {
      console.warn(`BertTokenizer: input truncated to ${opts.maxLength} tokens`);
    }
    return special ? [this.info.clsId, ...ids, this.info.sepId] : ids;
  }

  /**
   * Encode a batch and pad it on the right to the longest row (HF `padding=True`), or to
   * `padTo`, rounded up to `padToMultipleOf`. Rows longer than `maxLength` are truncated first.
   */
  encodeBatch(texts: readonly string[], opts: EncodeBatchOptions = {}): EncodedBatch {
    const rows = texts.map((t) => {
      const { ids, truncated } = this.#pieceIds(t, pieceBudget(opts.maxLength, true));
      return { ids, truncated };
    });
    const nTruncated = rows.filter((r) => r.truncated).length;
    if (nTruncated > 0 && opts.warnOnTruncate) {
      console.warn(
        `BertTokenizer: ${nTruncated} of ${texts.length} texts truncated to ${opts.maxLength} tokens`,
      );
    }
    let longest = 0;
    for (const r of rows) longest = Math.max(longest, r.ids.length + 2);
    const seqLen = paddedLength(longest, opts);
    const batchSize = texts.length;
    const { inputIds, attentionMask, tokenTypeIds } = paddedArrays(batchSize, seqLen, this.info.padId);
    rows.forEach(({ ids }, b) => {
      const o = b * seqLen;
      inputIds[o] = this.info.clsId;
      inputIds.set(ids, o + 1);
      inputIds[o + ids.length + 1] = this.info.sepId;
      attentionMask.fill(1, o, o + ids.length + 2);
    });
    return { inputIds, attentionMask, tokenTypeIds, batchSize, seqLen };
  }

  /** Text of `ids` (HF `decode`: `##` pieces joined, spaces before punctuation cleaned up). */
  decode(ids: readonly number[], opts: DecodeOptions = {}): string {
    for (let i = 0; i < ids.length; i++) {
      const v = ids[i];
      if (!Number.isInteger(v) || v < 0 || v >= this.info.vocabSize) {
        throw new RangeError(`decode: ids[${i}] = ${v} is not a token id (0..${this.info.vocabSize - 1})`);
      }
    }
    if (ids.length === 0) return "";
    const skip = opts.skipSpecialTokens ?? false;
    if (skip && ids.every((v) => this.#isSpecialId(v))) return "";
    return this.#tokenizer.decode([...ids], { skip_special_tokens: skip });
  }

  /** Write tokenizer.json, tokenizer_config.json and (ids permitting) vocab.txt into `dir`, atomically. */
  async saveTo(dir: string): Promise<void> {
    const d = dir.replace(/\/+$/, "") || "/";
    await Deno.mkdir(d, { recursive: true });
    await writeFileAtomic(`${d}/${TOKENIZER_JSON}`, JSON.stringify(this.#json, null, 2) + "\n");
    await writeFileAtomic(
      `${d}/${TOKENIZER_CONFIG_JSON}`,
      JSON.stringify(tokenizerConfigJson(this.options), null, 2) + "\n",
    );
    const vocab = this.#vocabLines();
    if (vocab !== null) await writeFileAtomic(`${d}/${VOCAB_TXT}`, vocab.map((t) => t + "\n").join(""));
  }

  /**
   * Ids of the word pieces of `text` (no specials), at most `budget` of them. For a budget, only a
   * prefix of the text, cut before an ASCII whitespace or CJK ideograph, is tokenized (grown until
   * it yields more than `budget` pieces or is the whole text): the first pieces of such a prefix
   * are the first pieces of the text, and a 1 MB input costs no more than the part that is kept.
   */
  #pieceIds(text: string, budget: number | undefined): { ids: number[]; truncated: boolean } {
    const run = (s: string) =>
      this.#tokenizer.encode(preNormalize(s, this.#flags), { add_special_tokens: false }).ids;
    if (budget === undefined) return { ids: run(text), truncated: false };
    let chunk = Math.max(256, (budget + 1) * CHARS_PER_TOKEN_GUESS);
    while (true) {
      const cut = this.#cutBefore ? cutPosition(text, chunk, this.#cutBefore) : text.length;
      const ids = run(cut === text.length ? text : text.slice(0, cut));
      if (ids.length > budget) return { ids: ids.slice(0, budget), truncated: true };
      if (cut === text.length) return { ids, truncated: false };
      chunk *= 4;
    }
  }

  #isSpecialId(id: number): boolean {
    const i = this.info;
    return id === i.padId || id === i.clsId || id === i.sepId || id === i.maskId || id === i.unkId;
  }

  /** vocab.txt lines (id order), or null when ids have gaps or a token holds a line break. */
  #vocabLines(): string[] | null {
    const lines = new Array<string>(this.info.vocabSize);
    for (const [token, id] of this.#tokenizer.get_vocab(true)) {
      if (/[\r\n]/.test(token) || lines[id] !== undefined) return null;
      lines[id] = token;
    }
    for (let i = 0; i < lines.length; i++) if (lines[i] === undefined) return null;
    return lines;
  }
}

/** Index of the first match of `re` (a /g regex) at or after `from`, or text.length. */
function cutPosition(text: string, from: number, re: RegExp): number {
  if (from >= text.length) return text.length;
  re.lastIndex = from;
  const m = re.exec(text);
  return m ? m.index : text.length;
}

function pieceBudget(maxLength: number | undefined, special: boolean): number | undefined {
  if (maxLength === undefined) return undefined;
  const min = special ? 2 : 0;
  if (!Number.isInteger(maxLength) || maxLength < min) {
    throw new RangeError(`maxLength must be an integer >= ${min}, got ${maxLength}`);
  }
  return maxLength - min;
}

async function readIfExists(path: string): Promise<string | null> {
  const bytes = await readBytesIfExists(path);
  if (bytes === null) return null;
  try {
    return new TextDecoder("utf-8", { fatal: true }).decode(bytes);
  } catch {
    throw new InputError("invalid UTF-8", { file: path });
  }
}

async function readBytesIfExists(path: string): Promise<Uint8Array | null> {
  try {
    return await Deno.readFile(path);
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) return null;
    throw new InputError(describeIoError(e), { file: path });
  }
}
