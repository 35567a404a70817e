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

import { inputError } from "../runtime/printable.ts";

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
    throw inputError(`missing special token${missing.length > 1 ? "s" : ""} ${missing.join(", ")}`, {
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
    throw inputError("expected a JSON object", { file });
  }
  const c = config as Record<string, unknown>;
  const bool = (key: string, dflt: boolean): boolean => {
    const v = c[key];
    if (v === undefined || v === null) return dflt;
    if (typeof v !== "boolean") {
      throw inputError(`expected true or false, got ${JSON.stringify(v)}`, { file, key });
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
    throw inputError(`expected a token string, got ${JSON.stringify(v)}`, { file, key });
  };
  if (c.do_basic_tokenize === false) {
    throw inputError("do_basic_tokenize=false is not supported (BERT always runs the basic tokenizer)", {
      file,
      key: "do_basic_tokenize",
    });
  }
  let stripAccents: boolean | null = null;
  if (c.strip_accents !== undefined && c.strip_accents !== null) {
    if (typeof c.strip_accents !== "boolean") {
      throw inputError(`expected true, false or null, got ${JSON.stringify(c.strip_accents)}`, {
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
      throw inputError(`expected a positive number, got ${JSON.stringify(mml)}`, {
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

/** Parse JSON text; a syntax error is an {@link InputError} naming `file` (no line: V8 gives a position). */
export function parseJsonText(text: string, file: string): unknown {
  try {
    return JSON.parse(text);
  } catch (e) {
    throw inputError(`invalid JSON: ${(e as Error).message}`, { file });
  }
}

/**
 * Parse and validate the text of a BERT `tokenizer.json` before `@huggingface/tokenizers` sees it,
 * so that a broken or hostile file is one {@link InputError} naming the file and key, never a
 * TypeError at encode time, a huge allocation or a silently wrong id:
 *
 * - `model` is WordPiece with a `vocab` of integer ids: no two tokens share an id, and every id
 *   (of the vocabulary and of `added_tokens`) is below the number of tokens (ids are dense, as
 *   in every released vocabulary; an id of 2^31 would make the library allocate without end);
 *   `unk_token` is a string in the vocabulary; an added token that is also in the vocabulary has
 *   the same id there;
 * - `added_tokens` entries have a string `content`, an integer `id` and boolean flags;
 * - the BERT pipeline parts, when present, have the fields of their type (`BertNormalizer`,
 *   `BertPreTokenizer`, `TemplateProcessing` / `BertProcessing` with well-formed items, `WordPiece`
 *   decoder); other types are left to the library, which refuses unknown ones.
 *
 * `truncation` and `padding` are set to null (this toolkit truncates and pads itself), and absent
 * pipeline parts to null (the library needs the keys). Returns the object to build from.
 */
export function parseTokenizerJson(text: string, file: string): Record<string, unknown> {
  const json = parseJsonText(text, file);
  const where = (key: string) => ({ file, key });
  if (!isObject(json)) throw inputError("expected a JSON object", { file });
  const model = json.model;
  if (!isObject(model)) throw inputError("expected an object", where("model"));
  if (model.type !== "WordPiece") {
    throw inputError(`model.type is ${JSON.stringify(model.type)}, expected "WordPiece" (a BERT tokenizer)`, {
      file,
      key: "model.type",
    });
  }
  const vocab = model.vocab;
  if (!isObject(vocab)) throw inputError("expected an object of token ids", where("model.vocab"));
  const added = json.added_tokens ?? [];
  if (!Array.isArray(added)) throw inputError("expected an array", where("added_tokens"));
  const entries = Object.entries(vocab);
  const contents = new Set(entries.map(([t]) => t));
  added.forEach((t, i) => {
    const key = `added_tokens[${i}]`;
    if (!isObject(t) || typeof t.content !== "string") {
      throw inputError("expected {content, id, ...}", where(key));
    }
    for (const flag of ["single_word", "lstrip", "rstrip", "normalized", "special"]) {
      if (t[flag] !== undefined && typeof t[flag] !== "boolean") {
        throw inputError(`${flag} is ${JSON.stringify(t[flag])}, expected true or false`, where(key));
      }
    }
    contents.add(t.content);
  });
  const limit = contents.size;
  const isId = (v: unknown): v is number =>
    typeof v === "number" && Number.isInteger(v) && v >= 0 && v < limit;
  const byId = new Map<number, string>();
  for (const [token, id] of entries) {
    if (typeof id !== "number" || !Number.isInteger(id) || id < 0) {
      throw inputError(`token ${JSON.stringify(token)} has id ${JSON.stringify(id)}`, where("model.vocab"));
    }
    if (!isId(id)) {
      throw inputError(
        `token ${JSON.stringify(token)} has id ${id}, but there are only ${limit} tokens (ids 0..${
          limit - 1
        })`,
        where("model.vocab"),
      );
    }
    const other = byId.get(id);
    if (other !== undefined) {
      throw inputError(
        `tokens ${JSON.stringify(other)} and ${JSON.stringify(token)} share id ${id}`,
        where("model.vocab"),
      );
    }
    byId.set(id, token);
  }
  added.forEach((t: Record<string, unknown>, i: number) => {
    const key = `added_tokens[${i}]`;
    if (!isId(t.id)) throw inputError(`id ${JSON.stringify(t.id)} is not in 0..${limit - 1}`, where(key));
    const own = (vocab as Record<string, unknown>)[t.content as string];
    if (Object.hasOwn(vocab, t.content as string) && own !== t.id) {
      throw inputError(
        `id ${t.id} differs from the vocabulary's ${own} for ${JSON.stringify(t.content)}`,
        where(key),
      );
    }
  });
  if (typeof model.unk_token !== "string" || !Object.hasOwn(vocab, model.unk_token)) {
    throw inputError(
      `unk_token ${JSON.stringify(model.unk_token)} is not in the vocabulary`,
      where("model.unk_token"),
    );
  }
  optional(model, "continuing_subword_prefix", "string", file, "model.");
  const mic = model.max_input_chars_per_word;
  if (mic !== undefined && !(typeof mic === "number" && Number.isInteger(mic) && mic > 0)) {
    throw inputError(
      `expected a positive integer, got ${JSON.stringify(mic)}`,
      where("model.max_input_chars_per_word"),
    );
  }
  checkPart(json.normalizer, "normalizer", file, {
    BertNormalizer: { clean_text: "boolean", handle_chinese_chars: "boolean", lowercase: "boolean" },
  });
  const n = json.normalizer;
  if (
    isObject(n) && n.type === "BertNormalizer" && n.strip_accents != null &&
    typeof n.strip_accents !== "boolean"
  ) {
    throw inputError("expected true, false or null", where("normalizer.strip_accents"));
  }
  checkPart(json.pre_tokenizer, "pre_tokenizer", file, { BertPreTokenizer: {} });
  checkPart(json.decoder, "decoder", file, { WordPiece: { prefix: "string", cleanup: "boolean" } });
  checkPostProcessor(json.post_processor, file, isId);
  return {
    ...json,
    added_tokens: added,
    truncation: null,
    padding: null,
    normalizer: json.normalizer ?? null,
    pre_tokenizer: json.pre_tokenizer ?? null,
    post_processor: json.post_processor ?? null,
    decoder: json.decoder ?? null,
  };
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

function optional(
  o: Record<string, unknown>,
  field: string,
  type: string,
  file: string,
  prefix: string,
): void {
  if (o[field] !== undefined && typeof o[field] !== type) {
    throw inputError(`expected a ${type}, got ${JSON.stringify(o[field])}`, { file, key: prefix + field });
  }
}

/** A pipeline part: null/absent, or an object with a string `type` whose known fields have their types. */
function checkPart(
  part: unknown,
  name: string,
  file: string,
  known: Record<string, Record<string, string>>,
): void {
  if (part === undefined || part === null) return;
  if (!isObject(part) || typeof part.type !== "string") {
    throw inputError("expected null or an object with a string type", { file, key: name });
  }
  checkTypeNames(part, name, file, 0);
  const fields = Object.hasOwn(known, part.type) ? known[part.type] : {};
  for (const [field, type] of Object.entries(fields)) optional(part, field, type, file, `${name}.`);
}

/** Every `type` inside a pipeline part (Sequence parts nest) must be a plain name like `BertNormalizer`. */
function checkTypeNames(v: unknown, key: string, file: string, depth: number): void {
  if (depth > 20 || typeof v !== "object" || v === null) return;
  if (Array.isArray(v)) {
    v.forEach((x, i) => checkTypeNames(x, `${key}[${i}]`, file, depth + 1));
    return;
  }
  for (const [k, x] of Object.entries(v)) {
    if (k === "type" && typeof x === "string" && !/^[A-Za-z][A-Za-z0-9_]{0,63}$/.test(x)) {
      throw inputError(`unknown type ${JSON.stringify(x)}`, { file, key: `${key}.type` });
    }
    checkTypeNames(x, `${key}.${k}`, file, depth + 1);
  }
}

function checkPostProcessor(pp: unknown, file: string, isId: (v: unknown) => boolean): void {
  checkPart(pp, "post_processor", file, {});
  if (!isObject(pp)) return;
  const bad = (key: string, detail: string): never => {
    throw inputError(detail, { file, key: `post_processor.${key}` });
  };
  if (pp.type === "BertProcessing" || pp.type === "RobertaProcessing") {
    for (const key of ["sep", "cls"]) {
      const v = pp[key];
      if (!Array.isArray(v) || v.length !== 2 || typeof v[0] !== "string" || !isId(v[1])) {
        bad(key, "expected [token, id] with an id in range");
      }
    }
  }
  if (pp.type !== "TemplateProcessing") return;
  const specials = pp.special_tokens ?? {};
  if (!isObject(specials)) bad("special_tokens", "expected an object");
  for (const [name, s] of Object.entries(specials as Record<string, unknown>)) {
    if (
      !isObject(s) || typeof s.id !== "string" || !Array.isArray(s.ids) || !Array.isArray(s.tokens) ||
      s.ids.length !== s.tokens.length || !s.ids.every(isCount) || !s.tokens.every((t) =>
        typeof t === "string"
      )
    ) {
      bad(`special_tokens.${name}`, "expected {id, ids, tokens} with non-negative integer ids");
    }
  }
  for (const key of ["single", "pair"]) {
    const items = pp[key];
    if (!Array.isArray(items)) bad(key, "expected an array of template items");
    (items as unknown[]).forEach((item, i) => {
      const ok = isObject(item) && Object.keys(item).length === 1 && (
        (isObject(item.SpecialToken) && typeof item.SpecialToken.id === "string" &&
          Object.hasOwn(specials as object, item.SpecialToken.id) && isTypeId(item.SpecialToken.type_id)) ||
        (isObject(item.Sequence) && (item.Sequence.id === "A" || item.Sequence.id === "B") &&
          isTypeId(item.Sequence.type_id))
      );
      if (!ok) {
        bad(`${key}[${i}]`, "expected {SpecialToken: {id, type_id}} or {Sequence: {id: A|B, type_id}}");
      }
    });
  }
}

/** The template's ids are not used for encoding here ([CLS]/[SEP] are added from the vocabulary). */
function isCount(v: unknown): boolean {
  return typeof v === "number" && Number.isSafeInteger(v) && v >= 0;
}

function isTypeId(v: unknown): boolean {
  return typeof v === "number" && Number.isInteger(v) && v >= 0 && v < 256;
}
