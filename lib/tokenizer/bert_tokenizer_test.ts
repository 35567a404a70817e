import { deepStrictEqual as assertEquals, ok as assert, rejects, throws } from "node:assert/strict";
import { InputError } from "../runtime/errors.ts";
import { BertTokenizer } from "./bert_tokenizer.ts";
import { bertBaseUncasedVocabText } from "./npm_vocab.ts";
import { vocabToTokenizerJson } from "./vocab_to_tokenizer_json.ts";
import { parseVocabTxt } from "./vocab_file.ts";

// ---- fixtures -----------------------------------------------------------------------------------

interface Case {
  name: string;
  text: string;
  tokens: string[];
  ids: number[];
  decoded: string;
  max_length?: number;
}
interface CasesFile {
  format: string;
  version: number;
  cases: Record<string, Case[]>;
}

const FIXTURE_HINT = "re-run `/usr/bin/python3 reference/make_tokenizer_fixtures.py`";
const cases: CasesFile = JSON.parse(
  await Deno.readTextFile(new URL("../../testdata/tokenizer/cases.json", import.meta.url)),
);
if (cases.format !== "simcse-tokenizer-cases" || cases.version !== 1) {
  throw new Error(`testdata/tokenizer/cases.json: unexpected format/version; ${FIXTURE_HINT}`);
}

/** bert-base-chinese vocab: $SIMCSE_VOCAB_DIR or ../shared/vocab next to the repository. */
const CHINESE_VOCAB = Deno.env.get("SIMCSE_VOCAB_DIR")
  ? `${Deno.env.get("SIMCSE_VOCAB_DIR")}/bert-base-chinese/vocab.txt`
  : new URL("../../../shared/vocab/bert-base-chinese/vocab.txt", import.meta.url).pathname;
const hasChinese = await Deno.stat(CHINESE_VOCAB).then(() => true, () => false);

const uncasedText = await bertBaseUncasedVocabText();
const chineseText = hasChinese ? await Deno.readTextFile(CHINESE_VOCAB) : "";

let uncasedTok: BertTokenizer | undefined;
/** bert-base-uncased from vocab.txt alone (HF defaults: lower-case, strip accents). */
function uncased(): BertTokenizer {
  return uncasedTok ??= BertTokenizer.fromVocabText(uncasedText);
}

/** Folder with only a tokenizer.json (+ optional config) that we generated from the vocab. */
async function tokenizerJsonFolder(vocabText: string, options: { doLowerCase: boolean }): Promise<string> {
  const dir = await Deno.makeTempDir({ prefix: "tokjson_" });
  const json = vocabToTokenizerJson(parseVocabTxt(vocabText), options);
  await Deno.writeTextFile(`${dir}/tokenizer.json`, JSON.stringify(json));
  return dir;
}

function checkCases(tok: BertTokenizer, list: Case[], label: string): void {
  assert(list.length >= 30, `${label}: only ${list.length} cases; ${FIXTURE_HINT}`);
  for (const c of list) {
    const where = `${label} case "${c.name}"`;
    assertEquals(tok.tokenize(c.text), c.tokens, where);
    assertEquals(tok.encode(c.text, { maxLength: c.max_length }), c.ids, where);
    assertEquals(tok.decode(c.ids, { skipSpecialTokens: true }), c.decoded, where);
  }
}

// ---- ids against the frozen reference -----------------------------------------------------------

Deno.test("`BertTokenizer.encode()` gives bert-base-uncased's known ids for 'A man is playing a guitar.'", () => {
  // Hard-coded HF ids (transformers, tokenizers.js, ECOSYSTEM.md §2): [CLS] a man is playing a guitar . [SEP]
  assertEquals(uncased().encode("A man is playing a guitar."), [
    101,
    1037,
    2158,
    2003,
    2652,
    1037,
    2858,
    1012,
    102,
  ]);
  assertEquals(uncased().info, {
    padId: 0,
    clsId: 101,
    sepId: 102,
    maskId: 103,
    unkId: 100,
    vocabSize: 30522,
    modelMaxLength: 512,
  });
});

Deno.test("`BertTokenizer` from vocab.txt matches the reference on every bert-base-uncased case", () => {
  checkCases(uncased(), cases.cases["bert-base-uncased"], "bert-base-uncased/vocab.txt");
});

Deno.test("`BertTokenizer` from a generated tokenizer.json matches the reference on every bert-base-uncased case", async () => {
  const dir = await tokenizerJsonFolder(uncasedText, { doLowerCase: true });
  try {
    checkCases(
      await BertTokenizer.fromFolder(dir),
      cases.cases["bert-base-uncased"],
      "bert-base-uncased/tokenizer.json",
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test({
  name:
    "`BertTokenizer` from vocab.txt + tokenizer_config.json matches the reference on every bert-base-chinese case",
  ignore: !hasChinese,
  async fn() {
    const dir = await Deno.makeTempDir({ prefix: "zh_" });
    try {
      await Deno.writeTextFile(`${dir}/vocab.txt`, chineseText);
      await Deno.writeTextFile(`${dir}/tokenizer_config.json`, '{"do_lower_case": false}');
      const tok = await BertTokenizer.fromFolder(dir);
      assertEquals(tok.info, {
        padId: 0,
        clsId: 101,
        sepId: 102,
        maskId: 103,
        unkId: 100,
        vocabSize: 21128,
        modelMaxLength: 512,
      });
      checkCases(tok, cases.cases["bert-base-chinese"], "bert-base-chinese/vocab.txt");
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});

Deno.test({
  name:
    "`BertTokenizer` from a generated tokenizer.json matches the reference on every bert-base-chinese case",
  ignore: !hasChinese,
  async fn() {
    const dir = await tokenizerJsonFolder(chineseText, { doLowerCase: false });
    try {
      checkCases(
        await BertTokenizer.fromFolder(dir),
        cases.cases["bert-base-chinese"],
        "bert-base-chinese/tokenizer.json",
      );
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});

// ---- batches and truncation ---------------------------------------------------------------------

Deno.test("`encodeBatch()` pads right to the longest row with [PAD], masks padding, token types 0", () => {
  const b = uncased().encodeBatch(["A man is playing a guitar.", "hello", ""]);
  assertEquals([b.batchSize, b.seqLen], [3, 9]);
  // hello = 7592 (fixture "single_word"); rows: 9, 3 and 2 real tokens.
  assertEquals(Array.from(b.inputIds), [
    ...[101, 1037, 2158, 2003, 2652, 1037, 2858, 1012, 102],
    ...[101, 7592, 102, 0, 0, 0, 0, 0, 0],
    ...[101, 102, 0, 0, 0, 0, 0, 0, 0],
  ]);
  assertEquals(Array.from(b.attentionMask), [
    ...[1, 1, 1, 1, 1, 1, 1, 1, 1],
    ...[1, 1, 1, 0, 0, 0, 0, 0, 0],
    ...[1, 1, 0, 0, 0, 0, 0, 0, 0],
  ]);
  assertEquals(Array.from(b.tokenTypeIds), new Array(27).fill(0));
  assert(b.inputIds instanceof Int32Array && b.attentionMask instanceof Int32Array);
});

Deno.test("`encodeBatch()` truncates to maxLength keeping [SEP] last, then applies padTo / padToMultipleOf", () => {
  const tok = uncased();
  const t = tok.encodeBatch(["A man is playing a guitar.", "hello"], { maxLength: 5 });
  assertEquals(t.seqLen, 5);
  assertEquals(Array.from(t.inputIds), [101, 1037, 2158, 2003, 102, 101, 7592, 102, 0, 0]);
  assertEquals(tok.encodeBatch(["hello"], { padTo: 6 }).seqLen, 6);
  assertEquals(tok.encodeBatch(["hello"], { padToMultipleOf: 8 }).seqLen, 8);
  assertEquals(tok.encodeBatch(["A man is playing a guitar."], { padToMultipleOf: 8 }).seqLen, 16);
  assertEquals(tok.encodeBatch(["hello"], { padTo: 5, padToMultipleOf: 4 }).seqLen, 8);
  const empty = tok.encodeBatch([]);
  assertEquals([empty.batchSize, empty.seqLen, empty.inputIds.length], [0, 0, 0]);
  throws(() => tok.encodeBatch(["x"], { maxLength: 1 }), RangeError);
  throws(() => tok.encodeBatch(["x"], { padToMultipleOf: 0 }), RangeError);
});

Deno.test("`encode()` truncation equals the head of the full encoding, with and without special tokens", () => {
  const tok = uncased();
  const text = ("Tokenizers split words into pieces, e.g. unbelievably → un ##bel ##ie ##va ##bly. 我们 ")
    .repeat(50);
  const full = tok.encode(text);
  assert(full.length > 600);
  for (const m of [2, 3, 10, 97, 512]) {
    assertEquals(tok.encode(text, { maxLength: m }), [...full.slice(0, m - 1), 102], `maxLength ${m}`);
  }
  const pieces = tok.encode(text, { addSpecialTokens: false });
  assertEquals(pieces, full.slice(1, -1));
  assertEquals(tok.encode(text, { addSpecialTokens: false, maxLength: 7 }), pieces.slice(0, 7));
  assertEquals(tok.encode("hello", { maxLength: 100 }), [101, 7592, 102]);
});

Deno.test("`encode()` with warnOnTruncate prints one line to stderr per call, only when truncating", () => {
  const tok = uncased();
  const warnings: unknown[] = [];
  const orig = console.warn;
  console.warn = (...args: unknown[]) => void warnings.push(args.join(" "));
  try {
    tok.encode("a b c d e", { maxLength: 4 });
    tok.encode("a b c d e", { maxLength: 4, warnOnTruncate: true });
    tok.encode("a b", { maxLength: 4, warnOnTruncate: true });
    tok.encodeBatch(["a b c d e", "a b c d e f", "a"], { maxLength: 4, warnOnTruncate: true });
  } finally {
    console.warn = orig;
  }
  assertEquals(warnings, [
    "BertTokenizer: input truncated to 4 tokens",
    "BertTokenizer: 2 of 3 texts truncated to 4 tokens",
  ]);
});

Deno.test("`encode()` handles a 1 MB input: truncated in milliseconds, in full in seconds", () => {
  const tok = uncased();
  const text = "The quick brown fox jumps over the lazy dog, naïvely. ".repeat(20000); // 1.08 MB
  let t0 = performance.now();
  const head = tok.encode(text, { maxLength: 32 });
  const truncMs = performance.now() - t0;
  t0 = performance.now();
  const full = tok.encode(text);
  const fullMs = performance.now() - t0;
  assertEquals(head, [...full.slice(0, 31), 102]);
  // Per repeat (reference tokenizer): the quick brown fox jumps over the lazy dog , naive ##ly . = 13
  assertEquals(full.length, 20000 * 13 + 2);
  assert(truncMs < 200, `truncated encode took ${truncMs} ms`);
  assert(fullMs < 10000, `full encode took ${fullMs} ms`);
});

// ---- decode -------------------------------------------------------------------------------------

Deno.test("`decode()` joins ## pieces and keeps special tokens unless asked (HF default)", () => {
  const tok = uncased();
  const ids = [101, 1037, 2158, 2003, 2652, 1037, 2858, 1012, 102];
  assertEquals(tok.decode(ids), "[CLS] a man is playing a guitar. [SEP]");
  assertEquals(tok.decode(ids, { skipSpecialTokens: true }), "a man is playing a guitar.");
  assertEquals(tok.decode([]), "");
  assertEquals(tok.decode([101, 102, 0], { skipSpecialTokens: true }), "");
  throws(() => tok.decode([30522]), RangeError);
  throws(() => tok.decode([1.5]), RangeError);
});

// ---- folders, saving and bad files --------------------------------------------------------------

Deno.test("`saveTo()` → `fromFolder()` round trip gives identical ids and the standard HF file names", async () => {
  const dir = await Deno.makeTempDir({ prefix: "tok_save_" });
  try {
    const tok = BertTokenizer.fromVocabText(uncasedText, { modelMaxLength: 128 });
    await tok.saveTo(`${dir}/model`);
    const names = [...Deno.readDirSync(`${dir}/model`)].map((e) => e.name).sort();
    assertEquals(names, ["tokenizer.json", "tokenizer_config.json", "vocab.txt"]);
    assertEquals(await Deno.readTextFile(`${dir}/model/vocab.txt`), uncasedText);
    const config = JSON.parse(await Deno.readTextFile(`${dir}/model/tokenizer_config.json`));
    assertEquals([config.do_lower_case, config.model_max_length, config.tokenizer_class], [
      true,
      128,
      "BertTokenizer",
    ]);
    const back = await BertTokenizer.fromFolder(`${dir}/model`);
    assertEquals(back.info, tok.info);
    for (const c of cases.cases["bert-base-uncased"]) {
      assertEquals(
        back.encode(c.text, { maxLength: c.max_length }),
        tok.encode(c.text, { maxLength: c.max_length }),
      );
    }
    // A folder with only vocab.txt (Google's compact BERTs) loads too.
    await Deno.remove(`${dir}/model/tokenizer.json`);
    await Deno.remove(`${dir}/model/tokenizer_config.json`);
    const vocabOnly = await BertTokenizer.fromFolder(`${dir}/model/`);
    assertEquals(vocabOnly.encode("A man is playing a guitar."), [
      101,
      1037,
      2158,
      2003,
      2652,
      1037,
      2858,
      1012,
      102,
    ]);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("`fromFolder()` gives clean InputErrors for missing and malformed tokenizer files", async () => {
  const dir = await Deno.makeTempDir({ prefix: "tok_bad_" });
  const expectError = async (pattern: RegExp) => {
    await rejects(BertTokenizer.fromFolder(dir), (e: unknown) => {
      assert(e instanceof InputError, `expected InputError, got ${e}`);
      assert(pattern.test(e.message), e.message);
      return true;
    });
  };
  try {
    await expectError(new RegExp(`^${dir}: no tokenizer\\.json and no vocab\\.txt in this folder$`));
    await Deno.writeTextFile(`${dir}/vocab.txt`, "[PAD]\n[UNK]\n[CLS]\nhello\n");
    await expectError(new RegExp(`^${dir}/vocab\\.txt: missing special token \\[SEP\\]$`));
    await Deno.writeTextFile(`${dir}/vocab.txt`, "[PAD]\n[UNK]\n[CLS]\n[SEP]\n[UNK]\n");
    await expectError(new RegExp(`^${dir}/vocab\\.txt:5: duplicate token "\\[UNK\\]" \\(first on line 2\\)`));
    await Deno.writeTextFile(`${dir}/vocab.txt`, "[PAD]\n[UNK]\n[CLS]\n[SEP]\n");
    await Deno.writeTextFile(`${dir}/tokenizer_config.json`, '{"do_lower_case": "no"}');
    await expectError(
      new RegExp(`^${dir}/tokenizer_config\\.json \\[do_lower_case\\]: expected true or false`),
    );
    await Deno.writeTextFile(`${dir}/tokenizer_config.json`, "{oops");
    await expectError(new RegExp(`^${dir}/tokenizer_config\\.json: invalid JSON`));
    await Deno.remove(`${dir}/tokenizer_config.json`);
    await Deno.writeTextFile(
      `${dir}/tokenizer.json`,
      '{"model": {"type": "BPE", "vocab": {}, "merges": []}}',
    );
    await expectError(new RegExp(`^${dir}/tokenizer\\.json \\[model\\.type\\]: model\\.type is "BPE"`));
    await Deno.writeTextFile(
      `${dir}/tokenizer.json`,
      '{"model": {"type": "WordPiece", "vocab": {"a": "x"}}}',
    );
    await expectError(/\[model\.vocab\]: token "a" has id "x"$/);
    const noSep = vocabToTokenizerJson(["[PAD]", "[UNK]", "[CLS]", "[SEP]"]);
    delete (noSep.model.vocab as Record<string, number>)["[SEP]"];
    noSep.added_tokens = noSep.added_tokens.filter((t) => t.content !== "[SEP]");
    await Deno.writeTextFile(`${dir}/tokenizer.json`, JSON.stringify(noSep));
    await expectError(new RegExp(`^${dir}/tokenizer\\.json: missing special token \\[SEP\\]$`));
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("`fromVocabText()` honours doLowerCase=false and stripAccents from the options", () => {
  const vocab = "[PAD]\n[UNK]\n[CLS]\n[SEP]\ncafe\ncafé\nCafe\n";
  assertEquals(BertTokenizer.fromVocabText(vocab).encode("Café"), [2, 4, 3]);
  assertEquals(BertTokenizer.fromVocabText(vocab, { doLowerCase: false }).encode("Café cafe"), [2, 1, 4, 3]);
  assertEquals(
    BertTokenizer.fromVocabText(vocab, { doLowerCase: false, stripAccents: true }).encode("Café"),
    [2, 6, 3],
  );
  assertEquals(BertTokenizer.fromVocabText(vocab, { stripAccents: false }).encode("Café"), [2, 5, 3]);
  assertEquals(BertTokenizer.fromVocabText(vocab).info.maskId, -1);
});
