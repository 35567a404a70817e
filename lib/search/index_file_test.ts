import { deepStrictEqual, ok, rejects, strictEqual, throws } from "node:assert/strict";
import {
  decodeIndexFile,
  encodeIndexFile,
  INDEX_FORMAT,
  type IndexFileContents,
  readIndexFile,
  readIndexHeader,
  writeIndexFile,
} from "./index_file.ts";
import { InputError } from "../runtime/errors.ts";

const CONTENTS: IndexFileContents = {
  meta: {
    modelPath: "results/model",
    pooler: "cls_before_pooler",
    dim: 3,
    count: 2,
    createdAt: "2026-11-27T00:00:00.000Z",
    hnsw: null,
  },
  sentences: ["a man is playing .", 'ünïcödé "quoted"\nand a newline'],
  embeddings: new Float32Array([0.6, 0.8, 0, -1, 0, 0]),
  hnsw: null,
};

Deno.test("the index file layout is magic, u64 header length, JSON header, sentences, aligned float32 matrix", () => {
  const bytes = encodeIndexFile(CONTENTS);
  strictEqual(new TextDecoder().decode(bytes.subarray(0, 8)), "SIMCSEIX");
  const view = new DataView(bytes.buffer);
  const h = Number(view.getBigUint64(8, true));
  strictEqual((16 + h) % 8, 0, "data starts 8-byte aligned");
  const header = JSON.parse(new TextDecoder().decode(bytes.subarray(16, 16 + h)));
  deepStrictEqual(
    [header.format, header.version, header.dim, header.count, header.pooler, header.modelPath, header.dtype],
    [INDEX_FORMAT, 1, 3, 2, "cls_before_pooler", "results/model", "float32"],
  );
  const start = 16 + h;
  const s = header.sections;
  deepStrictEqual(
    JSON.parse(
      new TextDecoder().decode(
        bytes.subarray(start + s.sentences.offset, start + s.sentences.offset + s.sentences.length),
      ),
    ),
    CONTENTS.sentences,
  );
  strictEqual(s.embeddings.length, 2 * 3 * 4);
  const floats = Array.from(
    { length: 6 },
    (_, i) => view.getFloat32(start + s.embeddings.offset + 4 * i, true),
  );
  deepStrictEqual(floats, [Math.fround(0.6), Math.fround(0.8), 0, -1, 0, 0]);
  strictEqual(bytes.length, start + s.embeddings.offset + 24, "nothing after the matrix");
});

Deno.test("an index file round-trips through writeIndexFile/readIndexFile, with and without an HNSW section", async () => {
  const dir = await Deno.makeTempDir();
  await writeIndexFile(`${dir}/a.simidx`, CONTENTS);
  const back = await readIndexFile(`${dir}/a.simidx`);
  deepStrictEqual(back.sentences, CONTENTS.sentences);
  deepStrictEqual(Array.from(back.embeddings), [Math.fround(0.6), Math.fround(0.8), 0, -1, 0, 0]);
  deepStrictEqual(back.meta, CONTENTS.meta);
  strictEqual(back.hnsw, null);
  const params = {
    library: "usearch@2.26.2",
    metric: "ip" as const,
    connectivity: 16,
    expansionAdd: 128,
    expansionSearch: 64,
  };
  const withGraph = {
    ...CONTENTS,
    meta: { ...CONTENTS.meta, hnsw: params },
    hnsw: new Uint8Array([1, 2, 3, 4, 5]),
  };
  const b2 = decodeIndexFile(encodeIndexFile(withGraph), "x");
  deepStrictEqual(Array.from(b2.hnsw!), [1, 2, 3, 4, 5]);
  deepStrictEqual(b2.meta.hnsw, params);
  await Deno.remove(dir, { recursive: true });
});

/** Assert `fn` throws an InputError whose message names `file` and matches `re`. */
function badFile(fn: () => unknown, file: string, re: RegExp) {
  throws(fn, (e) => {
    ok(e instanceof InputError, `expected InputError, got ${e}`);
    ok(e.message.startsWith(file), `message names the file: ${e.message}`);
    ok(re.test(e.message), `message ${JSON.stringify(e.message)} matches ${re}`);
    return true;
  });
}

/** Rewrite the header JSON of an encoded file (keeping its length by space padding). */
function withHeader(bytes: Uint8Array, edit: (h: Record<string, unknown>) => void): Uint8Array {
  const view = new DataView(bytes.buffer);
  const h = Number(view.getBigUint64(8, true));
  const header = JSON.parse(new TextDecoder().decode(bytes.subarray(16, 16 + h)));
  edit(header);
  const text = new TextEncoder().encode(JSON.stringify(header));
  if (text.length > h) throw new Error("edited header is longer than the original");
  const out = bytes.slice();
  out.fill(0x20, 16, 16 + h);
  out.set(text, 16);
  return out;
}

Deno.test("a truncated, foreign or damaged index file is an InputError naming the file", () => {
  const good = encodeIndexFile({ ...CONTENTS, meta: { ...CONTENTS.meta, createdAt: "x".repeat(40) } });
  const f = "idx.simidx";
  badFile(() => decodeIndexFile(good.subarray(0, good.length - 1), f), f, /truncated.*embeddings/);
  badFile(() => decodeIndexFile(good.subarray(0, 40), f), f, /truncated: the header needs/);
  badFile(() => decodeIndexFile(good.subarray(0, 5), f), f, /shorter than the 16-byte preamble/);
  badFile(
    () => decodeIndexFile(new TextEncoder().encode("PK\x03\x04 this is a zip file, not an index"), f),
    f,
    /not a sentence index/,
  );
  const extra = new Uint8Array(good.length + 3);
  extra.set(good);
  badFile(() => decodeIndexFile(extra, f), f, /3 unexpected bytes/);
  const badJson = good.slice();
  badJson[16] = 0x41; // 'A' instead of '{'
  badFile(() => decodeIndexFile(badJson, f), f, /header is not valid JSON/);
  badFile(
    () => decodeIndexFile(withHeader(good, (h) => (h.version = 2)), f),
    f,
    /\[version\].*not supported/,
  );
  badFile(() => decodeIndexFile(withHeader(good, (h) => (h.format = "other")), f), f, /\[format\]/);
  badFile(() => decodeIndexFile(withHeader(good, (h) => (h.dim = 0)), f), f, /\[dim\]/);
  badFile(
    () => decodeIndexFile(withHeader(good, (h) => (h.dim = 2)), f),
    f,
    /embeddings section has 24 bytes/,
  );
  badFile(
    () => decodeIndexFile(withHeader(good, (h) => (h.count = 3)), f),
    f,
    /embeddings section|truncated/,
  );
  badFile(
    () =>
      decodeIndexFile(
        withHeader(good, (h) => {
          h.count = 3;
          h.dim = 2; // 3 × 2 = 6 floats: the matrix fits, the sentence count does not
        }),
        f,
      ),
    f,
    /holds 2 sentences, the header says 3/,
  );
  const nan = good.slice();
  const h = Number(new DataView(nan.buffer).getBigUint64(8, true));
  const header = JSON.parse(new TextDecoder().decode(nan.subarray(16, 16 + h)));
  new DataView(nan.buffer).setFloat32(16 + h + header.sections.embeddings.offset + 8, NaN, true);
  badFile(() => decodeIndexFile(nan, f), f, /embedding value 2 \(sentence 0\) is not finite/);
});

Deno.test("`readIndexFile()` of a missing file is an InputError naming it", async () => {
  await rejects(
    readIndexFile("/no/such/index.simidx"),
    (e) => e instanceof InputError && /\/no\/such\/index\.simidx/.test(e.message),
  );
});

Deno.test("`readIndexHeader()` reads the metadata without the matrix, and names the file when the header is damaged", async () => {
  const dir = await Deno.makeTempDir();
  const bytes = encodeIndexFile(CONTENTS);
  await Deno.writeFile(`${dir}/a.simidx`, bytes);
  deepStrictEqual(await readIndexHeader(`${dir}/a.simidx`), CONTENTS.meta);
  await Deno.writeFile(`${dir}/cut.simidx`, bytes.subarray(0, 30));
  await rejects(
    readIndexHeader(`${dir}/cut.simidx`),
    (e) => e instanceof InputError && /cut\.simidx.*truncated/.test(e.message),
  );
  await Deno.writeFile(`${dir}/tiny.simidx`, bytes.subarray(0, 4));
  await rejects(
    readIndexHeader(`${dir}/tiny.simidx`),
    (e) => e instanceof InputError && /tiny\.simidx.*preamble/.test(e.message),
  );
  await rejects(
    readIndexHeader(`${dir}/none.simidx`),
    (e) => e instanceof InputError && /none\.simidx: file not found/.test(e.message),
  );
  await Deno.remove(dir, { recursive: true });
});
