import { deepStrictEqual as assertEquals, ok as assert } from "node:assert/strict";
import { zipSync } from "fflate";
import { expectInputError } from "./test_fixtures.ts";
import { crc32, extractZipEntry, readZipDirectory } from "./zip_reader.ts";

const F = "test.zip";
const enc = (s: string) => new TextEncoder().encode(s);
const text = (b: Uint8Array) => new TextDecoder().decode(b);

function zipOf(level: 0 | 6): Uint8Array {
  return zipSync({ "a/data.pkl": enc("hello ".repeat(50)), "a/data/0": new Uint8Array([1, 2, 3, 4]) }, {
    level,
  });
}

/** Offset of the central-directory record for `name`. */
function central(zip: Uint8Array, name: string): number {
  const dv = new DataView(zip.buffer);
  for (let p = 0; p + 46 < zip.length; p++) {
    if (dv.getUint32(p, true) === 0x02014b50 && text(zip.subarray(p + 46, p + 46 + name.length)) === name) {
      return p;
    }
  }
  throw new Error(`no central record for ${name}`);
}

function readAll(zip: Uint8Array): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [name, e] of readZipDirectory(zip, F)) out[name] = [...extractZipEntry(zip, e, F)].join(",");
  return out;
}

Deno.test("`crc32()` gives the standard check value 0xcbf43926 for '123456789'", () => {
  assertEquals(crc32(enc("123456789")), 0xcbf43926);
  assertEquals(crc32(new Uint8Array(0)), 0);
});

Deno.test("`readZipDirectory()` + `extractZipEntry()` read stored and deflated archives written by fflate", () => {
  const want = { "a/data.pkl": [...enc("hello ".repeat(50))].join(","), "a/data/0": "1,2,3,4" };
  assertEquals(readAll(zipOf(0)), want);
  assertEquals(readAll(zipOf(6)), want);
  const dir = readZipDirectory(zipOf(6), F);
  assertEquals(dir.get("a/data.pkl")!.method, 8);
  assertEquals(dir.get("a/data.pkl")!.size, 300);
});

Deno.test("`readZipDirectory()` refuses a zip64 record with no zip64 extra (fflate.unzipSync hangs on it)", () => {
  const zip = zipOf(0);
  const cd = central(zip, "a/data.pkl");
  const dv = new DataView(zip.buffer);
  const eocd = zip.length - 22;
  const cdOffset = dv.getUint32(eocd + 16, true), cdSize = dv.getUint32(eocd + 12, true);
  dv.setUint32(cd + 20, 0xffffffff, true);
  const z64 = new DataView(new ArrayBuffer(56 + 20));
  z64.setUint32(0, 0x06064b50, true);
  z64.setBigUint64(4, 44n, true);
  z64.setBigUint64(24, 2n, true);
  z64.setBigUint64(32, 2n, true);
  z64.setBigUint64(40, BigInt(cdSize), true);
  z64.setBigUint64(48, BigInt(cdOffset), true);
  z64.setUint32(56, 0x07064b50, true);
  z64.setBigUint64(64, BigInt(eocd), true);
  const tail = zip.slice(eocd);
  new DataView(tail.buffer).setUint32(16, 0xffffffff, true);
  const forged = new Uint8Array([...zip.subarray(0, eocd), ...new Uint8Array(z64.buffer), ...tail]);
  expectInputError(() => readZipDirectory(forged, F), F, "no zip64 extra field");
});

Deno.test("`readZipDirectory()` refuses damaged or unsupported archives with an InputError", () => {
  const patch = (level: 0 | 6, f: (dv: DataView, zip: Uint8Array) => void) => {
    const zip = zipOf(level);
    f(new DataView(zip.buffer), zip);
    return zip;
  };
  const eocdOf = (zip: Uint8Array) => zip.length - 22;
  const cases: [Uint8Array, string][] = [
    [enc("just some text, not a zip at all"), "no end-of-central-directory"],
    [zipOf(0).subarray(0, 100), "no end-of-central-directory"],
    [patch(0, (dv, z) => dv.setUint32(eocdOf(z) + 16, 1e6, true)), "overruns"],
    [patch(0, (dv, z) => dv.setUint16(eocdOf(z) + 10, 400, true)), "cannot fit"],
    [patch(0, (dv, z) => dv.setUint16(eocdOf(z) + 6, 1, true)), "multi-disk"],
    [
      patch(0, (dv, z) => dv.setUint32(central(z, "a/data/0"), 0, true)),
      "central-directory record signature",
    ],
    [patch(0, (dv, z) => dv.setUint16(central(z, "a/data/0") + 8, 1, true)), "encrypted"],
    [patch(0, (dv, z) => dv.setUint16(central(z, "a/data/0") + 10, 12, true)), "compression method 12"],
    [patch(0, (dv, z) => dv.setUint32(central(z, "a/data/0") + 24, 5, true)), "declares 5 bytes but holds 4"],
    [
      patch(6, (dv, z) => dv.setUint32(central(z, "a/data.pkl") + 24, 2 ** 31, true)),
      "more than DEFLATE can produce",
    ],
    [patch(0, (dv, z) => dv.setUint32(central(z, "a/data/0") + 42, 1e6, true)), "outside the data area"],
    [patch(0, (dv, z) => dv.setUint32(central(z, "a/data/0") + 42, 1, true)), "bad local header signature"],
    [patch(0, (dv, z) => dv.setUint32(central(z, "a/data/0") + 20, 4000, true)), "holds 4000"],
  ];
  const twins = zipSync({ "a/x1": enc("1"), "a/x2": enc("2") }, { level: 0 });
  twins.set(enc("a/x1"), central(twins, "a/x2") + 46);
  cases.push([twins, "duplicate entry name"]);
  for (const [zip, fragment] of cases) expectInputError(() => readZipDirectory(zip, F), F, fragment);
});

Deno.test("`extractZipEntry()` checks CRC-32 and the declared size of deflated data", () => {
  const stored = zipOf(0);
  const e = readZipDirectory(stored, F).get("a/data/0")!;
  stored[e.dataOffset] ^= 1;
  expectInputError(() => extractZipEntry(stored, e, F), F, "CRC-32 mismatch");
  const deflated = zipOf(6);
  const big = readZipDirectory(deflated, F).get("a/data.pkl")!;
  expectInputError(
    () => extractZipEntry(deflated, { ...big, size: 100 }, F),
    F,
    "inflates beyond its declared 100 bytes",
  );
  expectInputError(
    () => extractZipEntry(deflated, { ...big, size: 400 }, F),
    F,
    "inflates to 300 bytes, but 400",
  );
  const cut = { ...big, compressedSize: big.compressedSize - 3 };
  const msg = expectInputError(() => extractZipEntry(deflated, cut, F), F);
  assert(/DEFLATE|inflates/.test(msg), msg);
});
