import { deepStrictEqual, ok } from "node:assert/strict";
import { useBackend } from "../lib/backend.ts";
import { assertClose, TESTDATA } from "../lib/testing/fixtures.ts";
import { loadSentenceEncoder } from "./eval.ts";

const TINY = `${TESTDATA}bert/tiny-safetensors`;

Deno.test("`eval --fp16` loads an encoder whose matmuls run in fp16: embeddings within fp16 error of the fp32 ones", async () => {
  await useBackend("wasm");
  const sentences = ["hello world", "a man is playing a guitar ."];
  const e32 = await loadSentenceEncoder(TINY, "avg", false);
  const e16 = await loadSentenceEncoder(TINY, "avg", true);
  const a = (await e32.embedBatch(sentences)).flatMap((r) => [...r]),
    b = (await e16.embedBatch(sentences)).flatMap((r) => [...r]);
  const diff = assertClose(b, a, 3e-2, "fp16 vs fp32 embeddings", 1);
  ok(diff > 0, "fp16 really changes the numbers");
  e32.dispose();
  e16.dispose();
});

Deno.test("`loadSentenceEncoder(dir, pooler, false)` is plain `SentenceEncoder.load` (same embeddings, bit for bit)", async () => {
  await useBackend("wasm");
  const { SentenceEncoder } = await import("../lib/sentence_encoder.ts");
  const plain = await SentenceEncoder.load(TINY, { pooler: "avg" });
  const ours = await loadSentenceEncoder(TINY, "avg", false);
  deepStrictEqual(await ours.embedBatch(["a b c"]), await plain.embedBatch(["a b c"]));
  plain.dispose();
  ours.dispose();
});
