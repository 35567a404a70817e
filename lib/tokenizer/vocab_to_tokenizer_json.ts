/**
 * Build a Hugging Face `tokenizer.json` object for a BERT WordPiece tokenizer from the tokens of a
 * `vocab.txt` and the options of `tokenizer_config.json`, the way `transformers`' `BertConverter`
 * does (Google's compact BERTs and bert-base-chinese ship only vocab.txt):
 *
 * - normalizer `BertNormalizer` (clean_text, handle_chinese_chars, strip_accents, lowercase);
 * - pre-tokenizer `BertPreTokenizer`;
 * - model `WordPiece` (`[UNK]`, `##` prefix, max_input_chars_per_word 100);
 * - post-processor `TemplateProcessing` `[CLS] $A [SEP]` / `[CLS] $A [SEP] $B:1 [SEP]:1`;
 * - decoder `WordPiece` (`##`, cleanup);
 * - `added_tokens`: the special tokens, `special: true, normalized: false`.
 *
 * The result loads in `@huggingface/tokenizers` and in Python `tokenizers`/`transformers`.
 *
 * @example
 * ```ts
 * import { vocabToTokenizerJson } from "./vocab_to_tokenizer_json.ts";
 * const json = vocabToTokenizerJson(["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "hi"]);
 * console.log(json.model.vocab["hi"]); // 5
 * ```
 * @module
 */

import { InputError } from "../errors.ts";

/** Options of a BERT tokenizer, as in `tokenizer_config.json` (camelCase here). */
export interface BertTokenizerOptions {
  /** Lower-case the text. HF default: true. */
  doLowerCase: boolean;
  /** Strip accents (NFD, drop Mn). null (HF default) = do it exactly when lower-casing. */
  stripAccents: boolean | null;
  /** Put spaces around CJK ideographs so each is its own word. HF default: true. */
  tokenizeChineseChars: boolean;
  /** Longest input the model takes, in tokens, incl. [CLS]/[SEP]. BERT: 512. */
  modelMaxLength: number;
  /** Special token strings. Defaults: `[UNK]`, `[CLS]`, `[SEP]`, `[PAD]`, `[MASK]`. */
  unkToken: string;
  clsToken: string;
  sepToken: string;
  padToken: string;
  maskToken: string;
}

/** HF defaults for BERT (`BertTokenizer.__init__` and `max_model_input_sizes` = 512). */
export const DEFAULT_BERT_OPTIONS: Readonly<BertTokenizerOptions> = Object.freeze({
  doLowerCase: true,
  stripAccents: null,
  tokenizeChineseChars: true,
  modelMaxLength: 512,
  unkToken: "[UNK]",
  clsToken: "[CLS]",
  sepToken: "[SEP]",
  padToken: "[PAD]",
  maskToken: "[MASK]",
});

/** WordPiece's limit: a longer word becomes one `[UNK]` (HF `max_input_chars_per_word`). */
export const MAX_INPUT_CHARS_PER_WORD = 100;

/** One entry of `added_tokens` in tokenizer.json. */
export interface HfAddedToken {
  id: number;
  content: string;
  single_word: boolean;
  lstrip: boolean;
  rstrip: boolean;
  normalized: boolean;
  special: boolean;
}

type TemplateItem =
  | { SpecialToken: { id: string; type_id: number } }
  | { Sequence: { id: "A" | "B"; type_id: number } };

/** The subset of the tokenizer.json schema that a BERT WordPiece tokenizer uses. */
export interface BertTokenizerJson {
  version: "1.0";
  truncation: null;
  padding: null;
  added_tokens: HfAddedToken[];
  normalizer: {
    type: "BertNormalizer";
    clean_text: boolean;
    handle_chinese_chars: boolean;
    strip_accents: boolean | null;
    lowercase: boolean;
  };
  pre_tokenizer: { type: "BertPreTokenizer" };
  post_processor: {
    type: "TemplateProcessing";
    single: TemplateItem[];
    pair: TemplateItem[];
    special_tokens: Record<string, { id: string; ids: number[]; tokens: string[] }>;
  };
  decoder: { type: "WordPiece"; prefix: string; cleanup: boolean };
  model: {
    type: "WordPiece";
    unk_token: string;
    continuing_subword_prefix: string;
    max_input_chars_per_word: number;
    vocab: Record<string, number>;
  };
}

/**
 * Build tokenizer.json from vocab tokens (id = index). Throws {@link InputError} naming `file`
 * when `[UNK]`, `[CLS]`, `[SEP]` or `[PAD]` is missing. `[MASK]` is optional.
 */
export function vocabToTokenizerJson(
  tokens: readonly string[],
  options: Partial<BertTokenizerOptions> = {},
  file = "vocab.txt",
): BertTokenizerJson {
  const o = { ...DEFAULT_BERT_OPTIONS, ...options };
  const ids = new Map<string, number>();
  tokens.forEach((t, i) => ids.set(t, i));
  const required = [o.padToken, o.unkToken, o.clsToken, o.sepToken];
  const missing = required.filter((t) => !ids.has(t));
  if (missing.length > 0) {
    throw new InputError(`missing special token${missing.length > 1 ? "s" : ""} ${missing.join(", ")}`, {
      file,
    });
  }
  const specials = [...new Set([...required, o.maskToken])].filter((t) => ids.has(t));
  const added_tokens = specials
    .map((content): HfAddedToken => ({
      id: ids.get(content)!,
      content,
      single_word: false,
      lstrip: false,
      rstrip: false,
      normalized: false,
      special: true,
    }))
    .sort((a, b) => a.id - b.id);
  const cls = o.clsToken;
  const sep = o.sepToken;
  return {
    version: "1.0",
    truncation: null,
    padding: null,
    added_tokens,
    normalizer: {
      type: "BertNormalizer",
      clean_text: true,
      handle_chinese_chars: o.tokenizeChineseChars,
      strip_accents: o.stripAccents,
      lowercase: o.doLowerCase,
    },
    pre_tokenizer: { type: "BertPreTokenizer" },
    post_processor: {
      type: "TemplateProcessing",
      single: [
        { SpecialToken: { id: cls, type_id: 0 } },
        { Sequence: { id: "A", type_id: 0 } },
        { SpecialToken: { id: sep, type_id: 0 } },
      ],
      pair: [
        { SpecialToken: { id: cls, type_id: 0 } },
        { Sequence: { id: "A", type_id: 0 } },
        { SpecialToken: { id: sep, type_id: 0 } },
        { Sequence: { id: "B", type_id: 1 } },
        { SpecialToken: { id: sep, type_id: 1 } },
      ],
      special_tokens: {
        [cls]: { id: cls, ids: [ids.get(cls)!], tokens: [cls] },
        [sep]: { id: sep, ids: [ids.get(sep)!], tokens: [sep] },
      },
    },
    decoder: { type: "WordPiece", prefix: "##", cleanup: true },
    model: {
      type: "WordPiece",
      unk_token: o.unkToken,
      continuing_subword_prefix: "##",
      max_input_chars_per_word: MAX_INPUT_CHARS_PER_WORD,
      // fromEntries defines own properties, so even a token named "__proto__" is kept.
      vocab: Object.fromEntries(tokens.map((t, i) => [t, i])),
    },
  };
}

/**
 * Read the options of a parsed `tokenizer_config.json` (snake_case keys, HF defaults for absent
 * ones). Wrong types are {@link InputError}s naming the file and key.
 */
export function optionsFromTokenizerConfig(
  config: unknown,
  file = "tokenizer_config.json",
): BertTokenizerOptions {
  if (config === null || typeof config !== "object" || Array.isArray(config)) {
    throw new InputError("expected a JSON object", { file });
  }
  const c = config as Record<string, unknown>;
  const bool = (key: string, dflt: boolean): boolean => {
    const v = c[key];
    if (v === undefined || v === null) return dflt;
    if (typeof v !== "boolean") {
      throw new InputError(`expected true or false, got ${JSON.stringify(v)}`, { file, key });
    }
    return v;
  };
  const token = (key: string, dflt: string): string => {
    const v = c[key];
    if (v === undefined || v === null) return dflt;
    if (typeof v === "string") return v;
    // transformers may serialise special tokens as AddedToken objects: {"content": "[UNK]", ...}
    if (typeof v === "object" && typeof (v as { content?: unknown }).content === "string") {
      return (v as { content: string }).content;
    }
    throw new InputError(`expected a token string, got ${JSON.stringify(v)}`, { file, key });
  };
  if (c.do_basic_tokenize === false) {
    throw new InputError("do_basic_tokenize=false is not supported (BERT always runs the basic tokenizer)", {
      file,
      key: "do_basic_tokenize",
    });
  }
  let stripAccents: boolean | null = null;
  if (c.strip_accents !== undefined && c.strip_accents !== null) {
    if (typeof c.strip_accents !== "boolean") {
      throw new InputError(`expected true, false or null, got ${JSON.stringify(c.strip_accents)}`, {
        file,
        key: "strip_accents",
      });
    }
    stripAccents = c.strip_accents;
  }
  let modelMaxLength = DEFAULT_BERT_OPTIONS.modelMaxLength;
  const mml = c.model_max_length;
  if (mml !== undefined && mml !== null) {
    if (typeof mml !== "number" || !(mml >= 1)) {
      throw new InputError(`expected a positive number, got ${JSON.stringify(mml)}`, {
        file,
        key: "model_max_length",
      });
    }
    // transformers writes int(1e30) when the length is unknown; keep BERT's 512 then.
    modelMaxLength = mml >= 1e9 ? DEFAULT_BERT_OPTIONS.modelMaxLength : Math.floor(mml);
  }
  return {
    doLowerCase: bool("do_lower_case", DEFAULT_BERT_OPTIONS.doLowerCase),
    stripAccents,
    tokenizeChineseChars: bool("tokenize_chinese_chars", DEFAULT_BERT_OPTIONS.tokenizeChineseChars),
    modelMaxLength,
    unkToken: token("unk_token", DEFAULT_BERT_OPTIONS.unkToken),
    clsToken: token("cls_token", DEFAULT_BERT_OPTIONS.clsToken),
    sepToken: token("sep_token", DEFAULT_BERT_OPTIONS.sepToken),
    padToken: token("pad_token", DEFAULT_BERT_OPTIONS.padToken),
    maskToken: token("mask_token", DEFAULT_BERT_OPTIONS.maskToken),
  };
}

/** The `tokenizer_config.json` object for these options (what `transformers` writes for BERT). */
export function tokenizerConfigJson(options: Partial<BertTokenizerOptions> = {}): Record<string, unknown> {
  const o = { ...DEFAULT_BERT_OPTIONS, ...options };
  return {
    tokenizer_class: "BertTokenizer",
    do_lower_case: o.doLowerCase,
    strip_accents: o.stripAccents,
    tokenize_chinese_chars: o.tokenizeChineseChars,
    model_max_length: o.modelMaxLength,
    unk_token: o.unkToken,
    cls_token: o.clsToken,
    sep_token: o.sepToken,
    pad_token: o.padToken,
    mask_token: o.maskToken,
    clean_up_tokenization_spaces: true,
  };
}
