import { deepStrictEqual, rejects } from "node:assert/strict";
import { HNSW_LIBRARY, HnswIndex, type HnswParams } from "./hnsw_index.ts";
import { InputError } from "../errors.ts";

const PARAMS: HnswParams = {
  library: HNSW_LIBRARY,
  metric: "ip",
  connectivity: 16,
  expansionAdd: 128,
  expansionSearch: 64,
};

Deno.test("`HnswIndex` finds the highest inner products (hand-checked on 4 unit vectors) and round-trips its bytes", async () => {
  const idx = await HnswIndex.create(2, { threads: 1 });
  // angles 0°, 90°, 45°, 180°: against (1, 0) the inner products are 1, 0, 0.707, -1
  const r = Math.SQRT1_2;
  idx.add(0, new Float32Array([1, 0, 0, 1]));
  idx.add(2, new Float32Array([r, r, -1, 0]));
  deepStrictEqual(idx.size, 4);
  deepStrictEqual(idx.search(new Float32Array([1, 0]), 3), [0, 2, 1]);
  deepStrictEqual(idx.search(new Float32Array([0, 1]), 1), [1]);
  deepStrictEqual(idx.search(new Float32Array([1, 0]), 10).length, 4, "k larger than the index");
  const back = await HnswIndex.deserialize(await idx.serialize(), 2, PARAMS, 4, "f");
  deepStrictEqual(back.search(new Float32Array([-1, 0]), 1), [3]);
  const diag = back.search(new Float32Array([r, r]), 3);
  deepStrictEqual(diag[0], 2);
  deepStrictEqual(new Set(diag.slice(1)), new Set([0, 1]), "0° and 90° tie at 0.707");
});

Deno.test("`HnswIndex.deserialize()` of garbage, truncated or mismatched bytes is an InputError naming the file", async () => {
  const idx = await HnswIndex.create(3, { threads: 1 });
  idx.add(0, new Float32Array([1, 0, 0, 0, 1, 0]));
  const bytes = await idx.serialize();
  const isBad = (e: unknown) => e instanceof InputError && e.message.startsWith("f.simidx [hnsw]");
  await rejects(HnswIndex.deserialize(new Uint8Array([1, 2, 3]), 3, PARAMS, 2, "f.simidx"), isBad);
  await rejects(HnswIndex.deserialize(bytes.slice(0, bytes.length - 10), 3, PARAMS, 2, "f.simidx"), isBad);
  await rejects(HnswIndex.deserialize(bytes, 4, PARAMS, 2, "f.simidx"), isBad);
  await rejects(HnswIndex.deserialize(bytes, 3, PARAMS, 5, "f.simidx"), isBad);
  await rejects(HnswIndex.create(3, { connectivity: 0 }), InputError);
});
