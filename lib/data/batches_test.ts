/**
 * Tests for `batches.ts`. Layouts and step counts are hand-computed; the exact permutation and
 * masks are checked against `testdata/data/rng_reference.json`, written by an independent Python
 * implementation (`reference/make_data_fixtures.py`); masking statistics are checked against the
 * BERT rates (15% selected, 80/10/10).
 *
 * @module
 */

import { deepStrictEqual as assertEquals, ok as assert, throws } from "node:assert/strict";
import {
  batchIndices,
  collate,
  type CollatedBatch,
  epochOrder,
  IGNORE_INDEX,
  maskTokens,
  sentenceIds,
  type SentenceTokenizer,
  stepPosition,
  stepsPerEpoch,
  tokenizeExamples,
  totalSteps,
} from "./batches.ts";
import type { TrainExamples } from "./train_corpus.ts";

const PAD = 0, UNK = 1, CLS = 2, SEP = 3, MASK = 4;

/**
 * A fake tokenizer: every non-space character is one token with id = code point + 10; with
 * `maxLength`, keeps the first `maxLength - 2` characters, then [SEP].
 */
const fake: SentenceTokenizer = {
  info: { padId: PAD, unkId: UNK, clsId: CLS, sepId: SEP, maskId: MASK, vocabSize: 200 },
  encode(text: string, opts: { maxLength?: number } = {}): number[] {
    let body = [...text].filter((c) => c.trim() !== "").map((c) => c.codePointAt(0)! + 10);
    if (opts.maxLength !== undefined) body = body.slice(0, opts.maxLength - 2);
    return [CLS, ...body, SEP];
  },
};
// ids of the letters used below
const a = 97 + 10, b = 98 + 10, c = 99 + 10, d = 100 + 10, e = 101 + 10, f = 102 + 10, x = 120 + 10;

const unsup: TrainExamples = {
  columns: 1,
  rows: [["ab"], ["c"], [""], ["abcdef"]],
  file: "u.txt",
  columnNames: ["text"],
};

const fixture = JSON.parse(
  await Deno.readTextFile(new URL("../../testdata/data/rng_reference.json", import.meta.url)),
);

Deno.test("`tokenizeExamples()` stores each sentence once, truncated to maxSeqLength with [SEP] last", () => {
  const tok = tokenizeExamples(unsup, fake, 5);
  assertEquals(tok.numExamples, 4);
  assertEquals(tok.columns, 1);
  assertEquals(tok.numSent, 2);
  // "ab" -> CLS a b SEP; "c" -> CLS c SEP; "" -> " " -> CLS SEP; "abcdef" -> CLS a b c SEP (5 tokens)
  assertEquals(Array.from(tok.ids), [CLS, a, b, SEP, CLS, c, SEP, CLS, SEP, CLS, a, b, c, SEP]);
  assertEquals(Array.from(tok.offsets), [0, 4, 7, 9, 14]);
  // an unsupervised sentence is both sent0 and sent1
  assertEquals(Array.from(sentenceIds(tok, 3, 0)), [CLS, a, b, c, SEP]);
  assertEquals(Array.from(sentenceIds(tok, 3, 1)), [CLS, a, b, c, SEP]);
  throws(() => sentenceIds(tok, 4, 0), RangeError);
  throws(() => sentenceIds(tok, 0, 2), RangeError);
});

Deno.test("`tokenizeExamples()` sends an empty sentence as ' ' and passes maxLength", () => {
  const seen: string[] = [];
  const lengths: (number | undefined)[] = [];
  const spy: SentenceTokenizer = {
    info: fake.info,
    encode(text, opts) {
      seen.push(text);
      lengths.push(opts?.maxLength);
      return fake.encode(text, opts);
    },
  };
  tokenizeExamples({ columns: 2, rows: [["", "x"]], file: "p.csv", columnNames: ["s0", "s1"] }, spy, 32);
  assertEquals(seen, [" ", "x"]);
  assertEquals(lengths, [32, 32]);
  throws(() => tokenizeExamples(unsup, fake, 1), RangeError);
  const bad: SentenceTokenizer = { info: fake.info, encode: () => [CLS, a, b, c, SEP] };
  throws(() => tokenizeExamples(unsup, bad, 4), /returned 5 ids/);
});

Deno.test("`collate()` interleaves the two views per example and right-pads to the longest row", () => {
  const tok = tokenizeExamples(unsup, fake, 5);
  const batch = collate(tok, [1, 0, 2], PAD);
  assertEquals(batch.batchSize, 3);
  assertEquals(batch.numSent, 2);
  assertEquals(batch.rows, 6);
  assertEquals(batch.seqLen, 4);
  // rows: ex1 view0, ex1 view1, ex0 view0, ex0 view1, ex2 view0, ex2 view1
  assertEquals(Array.from(batch.inputIds), [
    CLS,
    c,
    SEP,
    PAD,
    CLS,
    c,
    SEP,
    PAD,
    CLS,
    a,
    b,
    SEP,
    CLS,
    a,
    b,
    SEP,
    CLS,
    SEP,
    PAD,
    PAD,
    CLS,
    SEP,
    PAD,
    PAD,
  ]);
  assertEquals(Array.from(batch.attentionMask), [
    1,
    1,
    1,
    0,
    1,
    1,
    1,
    0,
    1,
    1,
    1,
    1,
    1,
    1,
    1,
    1,
    1,
    1,
    0,
    0,
    1,
    1,
    0,
    0,
  ]);
  assertEquals(Array.from(batch.tokenTypeIds), new Array(24).fill(0));
  throws(() => collate(tok, [], PAD), RangeError);
  throws(() => collate(tok, [4], PAD), RangeError);
});

Deno.test("`collate()` with 3 columns gives sent0, sent1, hard_neg rows per example, padId honoured", () => {
  const ex: TrainExamples = {
    columns: 3,
    rows: [["a", "bc", "d"], ["ef", "", "x"]],
    file: "nli.csv",
    columnNames: ["sent0", "sent1", "hard_neg"],
  };
  const tok = tokenizeExamples(ex, fake, 32);
  assertEquals(tok.numSent, 3);
  const batch = collate(tok, new Uint32Array([1, 0]), 99);
  assertEquals([batch.rows, batch.seqLen, batch.numSent, batch.batchSize], [6, 4, 3, 2]);
  assertEquals(Array.from(batch.inputIds), [
    CLS,
    e,
    f,
    SEP,
    CLS,
    SEP,
    99,
    99,
    CLS,
    x,
    SEP,
    99,
    CLS,
    a,
    SEP,
    99,
    CLS,
    b,
    c,
    SEP,
    CLS,
    d,
    SEP,
    99,
  ]);
  assertEquals(Array.from(batch.attentionMask), [
    1,
    1,
    1,
    1,
    1,
    1,
    0,
    0,
    1,
    1,
    1,
    0,
    1,
    1,
    1,
    0,
    1,
    1,
    1,
    1,
    1,
    1,
    1,
    0,
  ]);
});

Deno.test("`epochOrder()` is a permutation, reproducible, and differs by epoch and seed", () => {
  const n = 1000;
  const o = epochOrder(n, 42, 0);
  assertEquals(Array.from(o).sort((p, q) => p - q), Array.from({ length: n }, (_, i) => i));
  assertEquals(epochOrder(n, 42, 0), o);
  const o1 = epochOrder(n, 42, 1);
  const o2 = epochOrder(n, 43, 0);
  let same1 = 0, same2 = 0, fixed = 0;
  for (let i = 0; i < n; i++) {
    if (o1[i] === o[i]) same1++;
    if (o2[i] === o[i]) same2++;
    if (o[i] === i) fixed++;
  }
  // two independent permutations agree in ~1 place; a shuffle has ~1 fixed point
  assert(same1 < 10 && same2 < 10 && fixed < 10, `${same1} ${same2} ${fixed}`);
  assertEquals(epochOrder(0, 1, 0).length, 0);
  throws(() => epochOrder(5, 42, -1), RangeError);
});

Deno.test("`epochOrder()` equals the Python re-implementation (reference/make_data_fixtures.py)", () => {
  for (const cse of fixture.epochOrder as { n: number; seed: number; epoch: number; order: number[] }[]) {
    assertEquals(Array.from(epochOrder(cse.n, cse.seed, cse.epoch)), cse.order, JSON.stringify(cse));
  }
});

Deno.test("`epochOrder()` puts each element at each position with equal frequency", () => {
  // 4 elements, 4000 epochs: each (element, position) cell expects 1000; allow ±6 sigma (sigma ≈ 27)
  const counts = new Array(16).fill(0);
  for (let ep = 0; ep < 4000; ep++) {
    const o = epochOrder(4, 7, ep);
    for (let pos = 0; pos < 4; pos++) counts[o[pos] * 4 + pos]++;
  }
  for (const cnt of counts) assert(Math.abs(cnt - 1000) < 165, String(counts));
});

Deno.test("`stepsPerEpoch()`/`totalSteps()`/`batchIndices()` follow drop_last=False and HF max_steps", () => {
  assertEquals(stepsPerEpoch(1_000_000, 64), 15625); // docs/SIMCSE.md §b.1
  assertEquals(stepsPerEpoch(11914, 64), 187); // 186 full batches + one of 10
  assertEquals(stepsPerEpoch(0, 64), 0);
  assertEquals(totalSteps(1_000_000, 64, 1), 15625);
  assertEquals(totalSteps(11914, 64, 3), 561);
  assertEquals(totalSteps(11914, 64, 0.5), 94); // ceil(93.5)
  assertEquals(totalSteps(11914, 64, 1, 250), 250);
  assertEquals(totalSteps(11914, 64, 1, -1), 187); // HF default max_steps = -1: use epochs
  const order = epochOrder(11914, 42, 0);
  assertEquals(Array.from(batchIndices(order, 0, 64)), Array.from(order.subarray(0, 64)));
  const last = batchIndices(order, 186, 64);
  assertEquals(last.length, 10);
  assertEquals(Array.from(last), Array.from(order.subarray(11904)));
  throws(() => batchIndices(order, 187, 64), RangeError);
  assertEquals(stepPosition(0, 187), { epoch: 0, stepInEpoch: 0 });
  assertEquals(stepPosition(187, 187), { epoch: 1, stepInEpoch: 0 });
  assertEquals(stepPosition(400, 187), { epoch: 2, stepInEpoch: 26 });
});

Deno.test("`maskTokens()` equals the Python re-implementation (reference/make_data_fixtures.py)", () => {
  const m = fixture.mask;
  const batch: CollatedBatch = {
    inputIds: Int32Array.from(m.inputIds),
    attentionMask: Int32Array.from(m.attentionMask),
    tokenTypeIds: new Int32Array(m.inputIds.length),
    rows: m.rows,
    seqLen: m.seqLen,
    numSent: 2,
    batchSize: m.rows / 2,
  };
  for (const cse of m.cases) {
    const out = maskTokens(batch, m.info, cse.probability, cse.seed, cse.step);
    assertEquals(Array.from(out.mlmInputIds), cse.mlmInputIds, JSON.stringify([cse.seed, cse.step]));
    assertEquals(Array.from(out.mlmLabels), cse.mlmLabels);
  }
  assertEquals(Array.from(batch.inputIds), m.inputIds); // input untouched
});

Deno.test("`maskTokens()` selects ~15% of real tokens, splits 80/10/10, never special or pad", () => {
  // 2000 sentences of random lengths 1..30 over ids 10..199 (with some [UNK]); 2 views each
  const rows: string[][] = [];
  let s = 12345;
  const rnd = () => (s = (Math.imul(s, 1103515245) + 12345) >>> 0) / 4294967296;
  for (let i = 0; i < 2000; i++) {
    const len = 1 + Math.floor(rnd() * 30);
    rows.push([
      Array.from({ length: len }, () => String.fromCodePoint(33 + Math.floor(rnd() * 150))).join(""),
    ]);
  }
  const unkFake: SentenceTokenizer = {
    info: fake.info,
    encode: (t, o) => fake.encode(t, o).map((id) => (id === 33 + 10 ? UNK : id)), // "!" -> [UNK]
  };
  const tok = tokenizeExamples({ columns: 1, rows, file: "r.txt", columnNames: ["text"] }, unkFake, 32);
  const batch = collate(tok, epochOrder(2000, 1, 0), PAD);
  const { mlmInputIds, mlmLabels } = maskTokens(batch, fake.info, 0.15, 42, 7);
  let candidates = 0, selected = 0, toMask = 0, toRandom = 0, kept = 0;
  for (let p = 0; p < batch.inputIds.length; p++) {
    const id = batch.inputIds[p];
    const special = id === PAD || id === CLS || id === SEP || id === UNK || id === MASK;
    if (special || batch.attentionMask[p] === 0) {
      assertEquals(mlmLabels[p], IGNORE_INDEX);
      assertEquals(mlmInputIds[p], id);
      continue;
    }
    candidates++;
    if (mlmLabels[p] === IGNORE_INDEX) {
      assertEquals(mlmInputIds[p], id);
      continue;
    }
    assertEquals(mlmLabels[p], id);
    selected++;
    if (mlmInputIds[p] === MASK) toMask++;
    else if (mlmInputIds[p] === id) kept++; // (a random draw equal to the original counts here; 1/200)
    else {
      toRandom++;
      assert(mlmInputIds[p] >= 0 && mlmInputIds[p] < 200);
    }
  }
  assert(candidates > 50_000, String(candidates));
  const rate = selected / candidates;
  const sd = Math.sqrt(0.15 * 0.85 / candidates);
  assert(Math.abs(rate - 0.15) < 5 * sd, `selected ${rate}`);
  const sdSel = (q: number) => Math.sqrt(q * (1 - q) / selected);
  assert(Math.abs(toMask / selected - 0.8) < 5 * sdSel(0.8), `mask ${toMask / selected}`);
  assert(Math.abs(toRandom / selected - 0.1) < 5 * sdSel(0.1), `random ${toRandom / selected}`);
  assert(Math.abs(kept / selected - 0.1) < 5 * sdSel(0.1), `kept ${kept / selected}`);
  // the two views of a sentence get different masks
  let differ = 0;
  for (let r = 0; r < batch.rows; r += 2) {
    const v0 = mlmLabels.subarray(r * batch.seqLen, (r + 1) * batch.seqLen);
    const v1 = mlmLabels.subarray((r + 1) * batch.seqLen, (r + 2) * batch.seqLen);
    if (v0.some((l, i) => l !== v1[i])) differ++;
  }
  assert(differ > 1000, String(differ));
});

Deno.test("`maskTokens()` is deterministic in (seed, step) and changes with either", () => {
  const tok = tokenizeExamples(
    { columns: 1, rows: [["abcdefabcdefabcdefabcdef"]], file: "t", columnNames: ["text"] },
    fake,
    32,
  );
  const batch = collate(tok, [0], PAD);
  const m1 = maskTokens(batch, fake.info, 0.5, 42, 3);
  assertEquals(maskTokens(batch, fake.info, 0.5, 42, 3), m1);
  assert(JSON.stringify(maskTokens(batch, fake.info, 0.5, 42, 4)) !== JSON.stringify(m1));
  assert(JSON.stringify(maskTokens(batch, fake.info, 0.5, 43, 3)) !== JSON.stringify(m1));
  const none = maskTokens(batch, fake.info, 0, 42, 3);
  assert(none.mlmLabels.every((l) => l === IGNORE_INDEX));
  assertEquals(none.mlmInputIds, batch.inputIds);
  throws(() => maskTokens(batch, { ...fake.info, maskId: -1 }, 0.15, 42, 3), RangeError);
});

Deno.test("`tokenizeExamples()` handles 200k sentences quickly in flat storage", () => {
  const rows = Array.from({ length: 200_000 }, (_, i) => [`s${i % 997} abc`]);
  const t0 = performance.now();
  const tok = tokenizeExamples({ columns: 1, rows, file: "big.txt", columnNames: ["text"] }, fake, 32, {
    progress: false,
  });
  const ms = performance.now() - t0;
  assertEquals(tok.offsets.length, 200_001);
  assertEquals(tok.offsets[1], "s0abc".length + 2);
  assert(tok.ids.length === tok.offsets[200_000]);
  assert(ms < 5000, `${ms} ms`);
});

Deno.test("`tokenizeExamples()` with the project's BertTokenizer (bert-base-chinese vocab)", async () => {
  const vocabDir = new URL("../../../shared/vocab/bert-base-chinese/", import.meta.url).pathname;
  const modUrl = new URL("../tokenizer/bert_tokenizer.ts", import.meta.url);
  try {
    await Deno.stat(modUrl);
    await Deno.stat(`${vocabDir}vocab.txt`);
  } catch {
    console.log(`skipped: needs lib/tokenizer/bert_tokenizer.ts and ${vocabDir}vocab.txt`);
    return;
  }
  const { BertTokenizer } = await import(modUrl.href);
  const bert: SentenceTokenizer = await BertTokenizer.fromFolder(vocabDir);
  // ids are 0-based line numbers of vocab.txt: 我 2769 爱 4263 北 1266 京 776 天 1921 安 2128 门 7305
  const ex: TrainExamples = {
    columns: 1,
    rows: [["我爱北京天安门"], [""], ["天".repeat(40)]],
    file: "zh.txt",
    columnNames: ["text"],
  };
  const tok = tokenizeExamples(ex, bert, 32);
  assertEquals(Array.from(sentenceIds(tok, 0, 0)), [101, 2769, 4263, 1266, 776, 1921, 2128, 7305, 102]);
  assertEquals(Array.from(sentenceIds(tok, 1, 1)), [101, 102]);
  assertEquals(Array.from(sentenceIds(tok, 2, 0)), [101, ...new Array(30).fill(1921), 102]); // 32 incl. specials
  const batch = collate(tok, [1, 0], bert.info.padId);
  assertEquals(batch.seqLen, 9);
  assertEquals(Array.from(batch.inputIds.subarray(0, 9)), [101, 102, 0, 0, 0, 0, 0, 0, 0]);
  assertEquals(Array.from(batch.inputIds.subarray(27, 36)), [
    101,
    2769,
    4263,
    1266,
    776,
    1921,
    2128,
    7305,
    102,
  ]);
  const m = maskTokens(batch, bert.info, 1.0, 42, 0); // p=1: every non-special token is selected
  assertEquals(Array.from(m.mlmLabels.subarray(18, 27)), [
    -100,
    2769,
    4263,
    1266,
    776,
    1921,
    2128,
    7305,
    -100,
  ]);
});
