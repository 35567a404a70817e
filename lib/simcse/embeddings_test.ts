import { deepStrictEqual, throws } from "node:assert/strict";
import { Embeddings } from "./embeddings.ts";
import { useBackend } from "../kernels/backend.ts";
import { SentenceEncoder } from "./sentence_encoder.ts";
import { TESTDATA } from "../../testing/fixtures.ts";

Deno.test("`Embeddings` is one row-major matrix: shape, row views and toArray()", () => {
  const e = new Embeddings(new Float32Array([1, 2, 3, 4, 5, 6]), [3, 2]);
  deepStrictEqual(e.rows, 3);
  deepStrictEqual(Array.from(e.row(2)), [5, 6]);
  deepStrictEqual(e.toArray(), [[1, 2], [3, 4], [5, 6]]);
  throws(() => new Embeddings(new Float32Array(5), [3, 2]), RangeError);
  throws(() => e.row(3), RangeError);
  deepStrictEqual(Embeddings.fromRows([]).shape, [0, 0]);
});

Deno.test("`SentenceEncoder.encode()` takes a string or a list and returns the rows of encodeRows() as one matrix", async () => {
  await useBackend("wasm");
  const enc = await SentenceEncoder.load(`${TESTDATA}bert/tiny-safetensors`, { pooler: "avg" });
  const sentences = ["a man is playing a guitar .", "hello", "the cat sat on the mat ."];
  const rows = await enc.encodeRows(sentences);
  const m = await enc.encode(sentences);
  deepStrictEqual(m.shape, [3, rows[0].length]);
  sentences.forEach((_, i) => deepStrictEqual(m.row(i), rows[i]));
  const one = await enc.encode("hello"); // a batch of its own (no padding): compare with the same batch
  deepStrictEqual(one.shape, [1, rows[1].length]);
  deepStrictEqual(one.row(0), (await enc.encodeRows(["hello"]))[0]);
  enc.dispose();
});
