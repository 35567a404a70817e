import { deepStrictEqual, ok, rejects, strictEqual } from "node:assert/strict";
import fc from "fast-check";
import { buildIndex, type EmbedFn, SentenceIndex, similarity } from "./sentence_index.ts";
import { SentenceEncoder } from "../simcse/sentence_encoder.ts";
import { InputError } from "../runtime/errors.ts";
import { TESTDATA } from "../../testing/fixtures.ts";

/** A fake embedder: each sentence has a fixed 2-D vector (cosines computable by hand). */
const VECTORS: Record<string, number[]> = {
  north: [0, 1],
  east: [1, 0],
  northeast: [1, 1], // cos with north = 1/√2 = 0.70711
  "mostly north": [1, 3], // cos with north = 3/√10 = 0.94868
  south: [0, -1],
  "north again": [0, 5], // ties with north
  query: [0, 2],
};
const fake: EmbedFn = (s) => Promise.resolve(s.map((x) => Float32Array.from(VECTORS[x])));
const CORPUS = ["north", "east", "northeast", "mostly north", "south", "north again"];
const near = (a: number, b: number) => Math.abs(a - b) < 1e-6;

Deno.test("`search()` returns the hand-computed brute-force top-k with the official threshold/top_k semantics", async () => {
  const index = await buildIndex(CORPUS, fake);
  const hits = await index.search("query"); // defaults: topK 5, threshold 0.6
  deepStrictEqual(hits.map((h) => h.sentence), ["north", "north again", "mostly north", "northeast"]);
  deepStrictEqual(hits.map((h) => h.index), [0, 5, 3, 2]);
  for (const [h, want] of hits.map((h, i) => [h, [1, 1, 3 / Math.sqrt(10), Math.SQRT1_2][i]] as const)) {
    ok(near(h.score, want), `${h.sentence}: ${h.score} vs ${want}`);
  }
  deepStrictEqual((await index.search("query", { topK: 2 })).map((h) => h.sentence), [
    "north",
    "north again",
  ]);
  deepStrictEqual((await index.search("query", { threshold: 0.95 })).map((h) => h.sentence), [
    "north",
    "north again",
  ]);
  deepStrictEqual(
    (await index.search("query", { topK: 10, threshold: -1 })).map((h) => h.sentence),
    ["north", "north again", "mostly north", "northeast", "east", "south"],
  );
  deepStrictEqual(await index.search("query", { threshold: 1.5 }), []);
});

Deno.test("`search()` of a list of queries answers each query separately", async () => {
  const index = await buildIndex(CORPUS, fake);
  const res = await index.search(["query", "east", "south"], { topK: 2 });
  deepStrictEqual(res.map((r) => r.map((h) => h.sentence)), [
    ["north", "north again"],
    ["east", "northeast"],
    ["south"],
  ]);
  deepStrictEqual(await index.search([]), []);
});

Deno.test("`addToIndex()` appends sentences (from a list or a file) that later searches find", async () => {
  const index = await buildIndex(["east", "south"], fake);
  deepStrictEqual(await index.search("query"), []);
  await index.addToIndex(["northeast"]);
  const dir = await Deno.makeTempDir();
  await Deno.writeTextFile(`${dir}/more.txt`, "north  \nmostly north\n");
  await index.addToIndex(`${dir}/more.txt`);
  deepStrictEqual(index.size, 5);
  deepStrictEqual((await index.search("query")).map((h) => [h.sentence, h.index]), [
    ["north", 3],
    ["mostly north", 4],
    ["northeast", 2],
  ]);
  await Deno.remove(dir, { recursive: true });
});

Deno.test("`similarity()` gives cosines and collapses a single-string side like the official tool", async () => {
  const index = await buildIndex(CORPUS, fake);
  ok(near(await index.similarity("north", "northeast"), Math.SQRT1_2));
  const row = await index.similarity("east", ["north", "northeast", "south"]);
  deepStrictEqual(row.length, 3);
  ok(near(row[0], 0) && near(row[1], Math.SQRT1_2) && near(row[2], 0));
  const col = await index.similarity(["north", "south"], "mostly north");
  ok(near(col[0], 3 / Math.sqrt(10)) && near(col[1], -3 / Math.sqrt(10)));
  const m = await similarity(fake, ["north", "east"], ["south", "northeast"]);
  ok(near(m[0][0], -1) && near(m[0][1], Math.SQRT1_2) && near(m[1][0], 0) && near(m[1][1], Math.SQRT1_2));
});

Deno.test("exact search equals a naive brute force (cosine, filter, stable sort, slice) on random vectors", async () => {
  await fc.assert(
    fc.asyncProperty(
      fc.array(fc.array(fc.integer({ min: -9, max: 9 }), { minLength: 5, maxLength: 5 }), {
        minLength: 1,
        maxLength: 40,
      }),
      fc.array(fc.integer({ min: -9, max: 9 }), { minLength: 5, maxLength: 5 }),
      fc.integer({ min: 0, max: 8 }),
      fc.integer({ min: -10, max: 10 }),
      async (rows, query, topK, t) => {
        const threshold = t / 10;
        const norm = (v: number[]) => Math.hypot(...v);
        const cos = rows.map((r) => {
          const d = norm(r) * norm(query);
          return d === 0 ? 0 : r.reduce((s, x, i) => s + x * query[i], 0) / d;
        });
        // Skip cases where float rounding could reorder near-ties or move a score across the threshold
        // (identical rows and zero rows score identically in any arithmetic, so they may tie).
        const same = (i: number, j: number) => rows[i].every((x, k) => x === rows[j][k]);
        const zero = (i: number) => rows[i].every((x) => x === 0);
        const close = (a: number, b: number) => Math.abs(a - b) < 1e-5;
        fc.pre(cos.every((c, i) => zero(i) || !close(c, threshold)));
        fc.pre(cos.every((c, i) => cos.every((d, j) => i === j || same(i, j) || !close(c, d))));
        const expected = cos.map((score, index) => ({ index, score }))
          .filter((h) => h.score >= threshold)
          .sort((a, b) => b.score - a.score || a.index - b.index)
          .slice(0, topK)
          .map((h) => h.index);
        const names = rows.map((_, i) => `s${i}`);
        const table = new Map<string, number[]>([...names.map((n, i) => [n, rows[i]] as const), [
          "q",
          query,
        ]]);
        const embed: EmbedFn = (s) => Promise.resolve(s.map((x) => Float32Array.from(table.get(x)!)));
        const index = await buildIndex(names, embed, { batchSize: 7 });
        const got = await index.search("q", { topK, threshold });
        deepStrictEqual(got.map((h) => h.index), expected);
      },
    ),
    { numRuns: 150 },
  );
});

Deno.test("the approximate (HNSW) index returns the brute-force top-k on a small corpus, then applies the threshold", async () => {
  // 400 random 16-d vectors; with a search beam larger than the corpus the graph search is exhaustive.
  let seed = 7;
  const rnd = () => ((seed = (Math.imul(seed, 1664525) + 1013904223) >>> 0) / 2 ** 32) - 0.5;
  const table = new Map<string, Float32Array>();
  const names: string[] = [];
  for (let i = 0; i < 400; i++) {
    names.push(`s${i}`);
    table.set(`s${i}`, Float32Array.from({ length: 16 }, rnd));
  }
  for (let q = 0; q < 10; q++) table.set(`q${q}`, Float32Array.from({ length: 16 }, rnd));
  const embed: EmbedFn = (s) => Promise.resolve(s.map((x) => table.get(x)!));
  const exact = await buildIndex(names, embed);
  const approx = await buildIndex(names, embed, { approximate: { expansionSearch: 512, threads: 1 } });
  ok(approx.approximate && !exact.approximate);
  for (let q = 0; q < 10; q++) {
    const e = await exact.search(`q${q}`, { topK: 10, threshold: -1 });
    const a = await approx.search(`q${q}`, { topK: 10, threshold: -1 });
    deepStrictEqual(a.map((h) => h.index), e.map((h) => h.index), `query q${q}`);
    deepStrictEqual(a.map((h) => h.score), e.map((h) => h.score));
    // Threshold after retrieval: keep only the retrieved top-k whose score passes.
    const t = e[4].score;
    deepStrictEqual(
      (await approx.search(`q${q}`, { topK: 10, threshold: t })).map((h) => h.index),
      e.slice(0, 5).map((h) => h.index),
    );
  }
  // Sentences added later are searchable in the graph too.
  table.set("new", Float32Array.from(table.get("q0")!));
  await approx.addToIndex(["new"]);
  deepStrictEqual((await approx.search("q0", { topK: 1 }))[0].sentence, "new");
});

Deno.test("an index saved and reloaded gives the same sentences, metadata and results (exact and approximate)", async () => {
  const dir = await Deno.makeTempDir();
  for (const approximate of [false, true]) {
    const index = await buildIndex(CORPUS, fake, {
      modelPath: "models/x",
      pooler: "cls_before_pooler",
      approximate,
    });
    const path = `${dir}/i${approximate}.simidx`;
    await index.save(path);
    const back = await SentenceIndex.load(path, fake);
    strictEqual(back.approximate, approximate);
    deepStrictEqual(back.sentences, CORPUS);
    deepStrictEqual(back.source, { modelPath: "models/x", pooler: "cls_before_pooler" });
    deepStrictEqual(await back.search("query", { topK: 3 }), await index.search("query", { topK: 3 }));
    deepStrictEqual((await back.search("query", { topK: 3 })).map((h) => h.sentence), [
      "north",
      "north again",
      "mostly north",
    ]);
    const forcedExact = await SentenceIndex.load(path, fake, { approximate: false });
    strictEqual(forcedExact.approximate, false);
    const forcedApprox = await SentenceIndex.load(path, fake, { approximate: true });
    strictEqual(forcedApprox.approximate, true);
    deepStrictEqual((await forcedApprox.search("east", { topK: 1 }))[0].sentence, "east");
  }
  await Deno.remove(dir, { recursive: true });
});

Deno.test("a query from a model of another embedding size is an InputError naming the index's model", async () => {
  const index = await buildIndex(CORPUS, fake, { modelPath: "models/two-d" });
  const dir = await Deno.makeTempDir();
  try {
    await index.save(`${dir}/i.simidx`);
    const other = await SentenceIndex.load(
      `${dir}/i.simidx`,
      (s) => Promise.resolve(s.map(() => new Float32Array(3))),
    );
    await rejects(other.search("query"), (e) => e instanceof InputError && /models\/two-d/.test(e.message));
    await rejects(buildIndex([], fake), InputError);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("with the tiny BERT checkpoint, every indexed sentence finds itself first with cosine 1", async () => {
  const enc = await SentenceEncoder.load(`${TESTDATA}bert/tiny-safetensors`, { pooler: "cls_before_pooler" });
  try {
    const sentences = [
      "a man is playing a guitar .",
      "a woman is slicing an onion .",
      "the cat sat .",
      "hello world",
    ];
    const index = await buildIndex(sentences, enc, { batchSize: 3 });
    strictEqual(index.dim, 32);
    const res = await index.search(sentences, { topK: 1, threshold: 0 });
    for (const [i, hits] of res.entries()) {
      strictEqual(hits[0].index, i);
      ok(near(hits[0].score, 1), `self-similarity ${hits[0].score}`);
    }
    ok(near(await index.similarity(sentences[0], sentences[0]), 1));
  } finally {
    enc.dispose();
  }
});
