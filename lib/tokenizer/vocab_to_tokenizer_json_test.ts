import { deepStrictEqual as assertEquals, ok as assert, throws } from "node:assert/strict";
import { Tokenizer } from "@huggingface/tokenizers";
import { InputError } from "../runtime/errors.ts";
import {
  DEFAULT_BERT_OPTIONS,
  optionsFromTokenizerConfig,
  tokenizerConfigJson,
  vocabToTokenizerJson,
} from "./vocab_to_tokenizer_json.ts";

const TINY = ["[PAD]", "[unused0]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "hello", "##s", "__proto__"];

Deno.test("`vocabToTokenizerJson()` writes HF's BERT tokenizer.json layout (hand-written expectation)", () => {
  const sp = (id: number, content: string) => ({
    id,
    content,
    single_word: false,
    lstrip: false,
    rstrip: false,
    normalized: false,
    special: true,
  });
  const expected = {
    version: "1.0",
    truncation: null,
    padding: null,
    added_tokens: [sp(0, "[PAD]"), sp(2, "[UNK]"), sp(3, "[CLS]"), sp(4, "[SEP]"), sp(5, "[MASK]")],
    normalizer: {
      type: "BertNormalizer",
      clean_text: true,
      handle_chinese_chars: true,
      strip_accents: null,
      lowercase: true,
    },
    pre_tokenizer: { type: "BertPreTokenizer" },
    post_processor: {
      type: "TemplateProcessing",
      single: [
        { SpecialToken: { id: "[CLS]", type_id: 0 } },
        { Sequence: { id: "A", type_id: 0 } },
        { SpecialToken: { id: "[SEP]", type_id: 0 } },
      ],
      pair: [
        { SpecialToken: { id: "[CLS]", type_id: 0 } },
        { Sequence: { id: "A", type_id: 0 } },
        { SpecialToken: { id: "[SEP]", type_id: 0 } },
        { Sequence: { id: "B", type_id: 1 } },
        { SpecialToken: { id: "[SEP]", type_id: 1 } },
      ],
      special_tokens: {
        "[CLS]": { id: "[CLS]", ids: [3], tokens: ["[CLS]"] },
        "[SEP]": { id: "[SEP]", ids: [4], tokens: ["[SEP]"] },
      },
    },
    decoder: { type: "WordPiece", prefix: "##", cleanup: true },
    model: {
      type: "WordPiece",
      unk_token: "[UNK]",
      continuing_subword_prefix: "##",
      max_input_chars_per_word: 100,
      vocab: JSON.parse(
        '{"[PAD]":0,"[unused0]":1,"[UNK]":2,"[CLS]":3,"[SEP]":4,"[MASK]":5,"hello":6,"##s":7,"__proto__":8}',
      ),
    },
  };
  // Compare through JSON text, as the file is what matters (and "__proto__" must survive it).
  assertEquals(JSON.parse(JSON.stringify(vocabToTokenizerJson(TINY))), expected);
});

Deno.test("`vocabToTokenizerJson()` output loads in @huggingface/tokenizers and encodes [CLS] hello ##s [SEP]", () => {
  const tok = new Tokenizer(vocabToTokenizerJson(TINY), {});
  assertEquals(tok.encode("HELLOs").ids, [3, 6, 7, 4]);
  // "_" is punctuation, so "__proto__" is the words _ _ proto _ _, none in the vocab: 5 x [UNK].
  assertEquals(tok.encode("hello __proto__ [MASK]").ids, [3, 6, 2, 2, 2, 2, 2, 5, 4]);
});

Deno.test("`vocabToTokenizerJson()` maps options onto the BertNormalizer and keeps [MASK] optional", () => {
  const json = vocabToTokenizerJson(TINY.filter((t) => t !== "[MASK]"), {
    doLowerCase: false,
    stripAccents: true,
    tokenizeChineseChars: false,
  });
  assertEquals(json.normalizer, {
    type: "BertNormalizer",
    clean_text: true,
    handle_chinese_chars: false,
    strip_accents: true,
    lowercase: false,
  });
  assertEquals(json.added_tokens.map((t) => t.content), ["[PAD]", "[UNK]", "[CLS]", "[SEP]"]);
});

Deno.test("`vocabToTokenizerJson()` names the file and every missing special token", () => {
  throws(() => vocabToTokenizerJson(["[PAD]", "[CLS]", "a"], {}, "m/vocab.txt"), (e: unknown) => {
    assert(e instanceof InputError);
    assertEquals(e.message, "m/vocab.txt: missing special tokens [UNK], [SEP]");
    return true;
  });
});

Deno.test("`optionsFromTokenizerConfig()` applies HF defaults and reads AddedToken objects", () => {
  assertEquals(optionsFromTokenizerConfig({}), DEFAULT_BERT_OPTIONS);
  const o = optionsFromTokenizerConfig({
    do_lower_case: false,
    strip_accents: true,
    tokenize_chinese_chars: false,
    model_max_length: 1000000000000000019884624838656, // transformers' int(1e30) = "unknown"
    unk_token: { __type: "AddedToken", content: "<unk>", lstrip: false },
    cls_token: "<s>",
  });
  assertEquals(o.doLowerCase, false);
  assertEquals(o.stripAccents, true);
  assertEquals(o.tokenizeChineseChars, false);
  assertEquals(o.modelMaxLength, 512);
  assertEquals(o.unkToken, "<unk>");
  assertEquals(o.clsToken, "<s>");
  assertEquals(optionsFromTokenizerConfig({ model_max_length: 128 }).modelMaxLength, 128);
});

Deno.test("`optionsFromTokenizerConfig()` rejects wrong types, naming the key", () => {
  const cases: [unknown, string][] = [
    [{ do_lower_case: "yes" }, 'c.json [do_lower_case]: expected true or false, got "yes"'],
    [{ strip_accents: 1 }, "c.json [strip_accents]: expected true, false or null, got 1"],
    [{ model_max_length: -5 }, "c.json [model_max_length]: expected a positive number, got -5"],
    [{ unk_token: 3 }, "c.json [unk_token]: expected a token string, got 3"],
    [{ do_basic_tokenize: false }, /do_basic_tokenize=false is not supported/.source],
    [[1], "c.json: expected a JSON object"],
  ];
  for (const [config, message] of cases) {
    throws(() => optionsFromTokenizerConfig(config, "c.json"), (e: unknown) => {
      assert(e instanceof InputError);
      assert(e.message === message || new RegExp(message).test(e.message), e.message);
      return true;
    });
  }
});

Deno.test("`tokenizerConfigJson()` round-trips through `optionsFromTokenizerConfig()`", () => {
  const o = { ...DEFAULT_BERT_OPTIONS, doLowerCase: false, modelMaxLength: 64 };
  const json = tokenizerConfigJson(o);
  assertEquals(json.tokenizer_class, "BertTokenizer");
  assertEquals(optionsFromTokenizerConfig(JSON.parse(JSON.stringify(json))), o);
});

Deno.test("`parseTokenizerJson()` refuses ids that are out of range, shared or malformed, naming the key", async () => {
  const { parseTokenizerJson } = await import("./vocab_to_tokenizer_json.ts");
  const good = vocabToTokenizerJson(["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "hi"]);
  // deno-lint-ignore no-explicit-any
  const edit = (f: (j: Record<string, any>) => void) => {
    // deno-lint-ignore no-explicit-any
    const j = structuredClone(good) as unknown as Record<string, any>;
    f(j);
    return JSON.stringify(j);
  };
  const refuses = (text: string, fragment: string) =>
    throws(() => parseTokenizerJson(text, "t.json"), (e: Error) => {
      assert(e instanceof InputError && e.message.includes(fragment), e.message);
      return true;
    });
  const parsed = parseTokenizerJson(JSON.stringify(good), "t.json");
  assertEquals([parsed.truncation, parsed.padding], [null, null]);
  assertEquals(parsed.model, good.model);
  refuses(
    edit((j) => j.model.vocab.hi = 2 ** 31),
    't.json [model.vocab]: token "hi" has id 2147483648, but there are only 6 tokens',
  );
  refuses(edit((j) => j.model.vocab.hi = 1e308), "[model.vocab]");
  refuses(edit((j) => j.model.vocab.hi = 2), 'tokens "[CLS]" and "hi" share id 2');
  refuses(
    edit((j) => j.model.unk_token = false),
    "t.json [model.unk_token]: unk_token false is not in the vocabulary",
  );
  refuses(edit((j) => j.added_tokens[0].id = []), "t.json [added_tokens[0]]: id [] is not in 0..5");
  refuses(edit((j) => j.added_tokens[1].id = 4), "[added_tokens[1]]: id 4 differs from the vocabulary's 1");
  refuses(
    edit((j) => j.added_tokens[1].lstrip = "yes"),
    '[added_tokens[1]]: lstrip is "yes", expected true or false',
  );
  refuses(
    edit((j) => j.post_processor.single[2] = true),
    "t.json [post_processor.single[2]]: expected {SpecialToken",
  );
  refuses(edit((j) => j.normalizer.lowercase = "no"), "[normalizer.lowercase]: expected a boolean");
  refuses(edit((j) => j.decoder = 5), "[decoder]: expected null or an object with a string type");
  refuses("{oops", "t.json: invalid JSON");
});
