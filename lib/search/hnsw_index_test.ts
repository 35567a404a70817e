import { deepStrictEqual, rejects } from "node:assert/strict";
import { HNSW_LIBRARY, HnswIndex, type HnswParams } from "./hnsw_index.ts";
import { InputError } from "../runtime/errors.ts";

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

/** A 40-vector, 3-d graph (some nodes above level 0) and the byte offsets of its parts, from USearch's layout. */
async function sampleGraph() {
  const n = 40, dim = 3;
  const idx = await HnswIndex.create(dim, { threads: 1 });
  const rows = new Float32Array(n * dim).map((_, i) => Math.sin(i + 1));
  idx.add(0, rows);
  const bytes = await idx.serialize();
  const head = 8 + n * dim * 4; // u32 rows, u32 row bytes, the rows
  const graph = head + 64; // 64-byte USearch head
  const levels = graph + 40; // five u64: size, connectivity, base connectivity, top level, entry node
  const nodes = levels + 2 * n; // one i16 level per node
  return { n, dim, bytes, head, graph, levels, nodes };
}

Deno.test("`HnswIndex.deserialize()` refuses every damaged count, size, level and link before USearch reads it", async () => {
  const g = await sampleGraph();
  const cases: [string, (v: DataView, b: Uint8Array) => void, RegExp][] = [
    ["row count", (v) => v.setUint32(0, 0xffff_ffff, true), /stores 4294967295 vectors/],
    ["row size", (v) => v.setUint32(4, 0xffff_fff0, true), /vectors have 4294967280 bytes/],
    ["magic", (_, b) => b[g.head] = 0x78, /no USearch magic/],
    ["version", (v) => v.setUint16(g.head + 7, 3, true), /USearch format 3\./],
    ["metric", (_, b) => b[g.head + 13] = 0x63, /kinds 99\/11\/14\/15/],
    ["count", (v) => v.setBigUint64(g.head + 17, 1n << 62n, true), /count of vectors is 4611686018427387904/],
    ["deleted", (v) => v.setBigUint64(g.head + 25, 5n, true), /deleted vectors is 5/],
    ["multi", (_, b) => b[g.head + 41] = 1, /multi-vector/],
    ["node count", (v) => v.setBigUint64(g.graph, 1n << 40n, true), /node count is 1099511627776/],
    ["connectivity", (v) => v.setBigUint64(g.graph + 8, 1n << 50n, true), /connectivity is/],
    ["base connectivity", (v) => v.setBigUint64(g.graph + 16, 3n, true), /base connectivity 3 is below/],
    ["top level", (v) => v.setBigUint64(g.graph + 24, 1000n, true), /top level is 1000/],
    ["entry node", (v) => v.setBigUint64(g.graph + 32, 1n << 31n, true), /entry node is 2147483648/],
    ["negative level", (v) => v.setInt16(g.levels, -1, true), /node 0 has level -1/],
    ["huge level", (v) => v.setInt16(g.levels, 30000, true), /node 0 has level 30000/],
    ["key", (v) => v.setBigUint64(g.nodes, 1n << 60n, true), /node 0 has key/],
    ["node level", (v) => v.setInt16(g.nodes + 8, 7, true), /node 0 disagrees about its level/],
    ["neighbour count", (v) => v.setUint32(g.nodes + 10, 1000, true), /lists 1000 neighbours/],
    ["neighbour slot", (v) => v.setUint32(g.nodes + 14, 1 << 31, true), /links to node 2147483648/],
  ];
  for (const [what, change, want] of cases) {
    const b = g.bytes.slice();
    change(new DataView(b.buffer), b);
    await rejects(
      HnswIndex.deserialize(b, g.dim, PARAMS, g.n, "f.simidx"),
      (e) => e instanceof InputError && e.message.startsWith("f.simidx [hnsw] @byte") && want.test(e.message),
      what,
    );
  }
  const longer = Uint8Array.from([...g.bytes, 0]);
  await rejects(HnswIndex.deserialize(longer, g.dim, PARAMS, g.n, "f.simidx"), /the nodes need \d+ bytes/);
  await rejects(HnswIndex.deserialize(g.bytes.slice(0, -1), g.dim, PARAMS, g.n, "f.simidx"), InputError);
  const ok = await HnswIndex.deserialize(g.bytes, g.dim, PARAMS, g.n, "f.simidx");
  deepStrictEqual(ok.size, g.n);
});

Deno.test("`HnswIndex.deserialize()` of 300 randomly mutated graphs either loads a searchable graph or is an InputError", async () => {
  const g = await sampleGraph();
  let seed = 12345;
  const rand = (n: number) => {
    seed = (seed * 1103515245 + 12345) >>> 0;
    return seed % n;
  };
  let loaded = 0, refused = 0;
  for (let t = 0; t < 300; t++) {
    const b = g.bytes.slice();
    // Mutate 1–4 bytes of the head, graph header, levels or nodes (the float rows hold no structure).
    for (let k = 0, m = 1 + rand(4); k < m; k++) {
      const at = t % 3 === 0 ? rand(8) : g.head + rand(b.length - g.head);
      b[at] = rand(256);
    }
    try {
      const idx = await HnswIndex.deserialize(b, g.dim, PARAMS, g.n, "f.simidx");
      for (const key of idx.search(new Float32Array([1, 0, 0]), 5)) deepStrictEqual(key < g.n, true);
      loaded++;
    } catch (e) {
      if (!(e instanceof InputError)) throw e;
      refused++;
    }
  }
  deepStrictEqual(loaded + refused, 300);
});
