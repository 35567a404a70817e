import { deepStrictEqual, ok } from "node:assert/strict";
import { useBackend } from "../lib/kernels/backend.ts";
import { assertClose, TESTDATA } from "../testing/fixtures.ts";
import { SentenceEncoder } from "../lib/simcse/sentence_encoder.ts";

const TINY = `${TESTDATA}bert/tiny-safetensors`;

Deno.test("`eval --precision fp16` loads an encoder whose matmuls run in fp16: embeddings within fp16 error of the fp32 ones", async () => {
  await useBackend("wasm");
  const sentences = ["hello world", "a man is playing a guitar ."];
  const e32 = await SentenceEncoder.load(TINY, { pooler: "avg" });
  const e16 = await SentenceEncoder.load(TINY, { pooler: "avg", precision: "fp16" });
  const a = (await e32.embedBatch(sentences)).flatMap((r) => [...r]),
    b = (await e16.embedBatch(sentences)).flatMap((r) => [...r]);
  const diff = assertClose(b, a, 3e-2, "fp16 vs fp32 embeddings", 1);
  ok(diff > 0, "fp16 really changes the numbers");
  e32.dispose();
  e16.dispose();
});

Deno.test('`SentenceEncoder.load(dir, { precision: "fp32" })` is the default load (same embeddings, bit for bit)', async () => {
  await useBackend("wasm");
  const plain = await SentenceEncoder.load(TINY, { pooler: "avg" });
  const ours = await SentenceEncoder.load(TINY, { pooler: "avg", precision: "fp32" });
  deepStrictEqual(await ours.embedBatch(["a b c"]), await plain.embedBatch(["a b c"]));
  plain.dispose();
  ours.dispose();
});
