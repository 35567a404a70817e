import { strictEqual } from "node:assert/strict";
import { float64Hex, rowsHash, stateDictHash } from "./canonical.ts";

Deno.test("`stateDictHash()` is the SHA-256 of key, dtype, shape and bytes (Python hashlib on the same bytes)", () => {
  const sd = new Map([["w", { dtype: "F32" as const, shape: [2], data: new Float32Array([1, -2]) }]]);
  // hashlib.sha256(b"w\x00F32\x002\x00" + struct.pack("<2f", 1, -2)).hexdigest()
  strictEqual(stateDictHash(sd), "7a20c0bac56fc155b883b445525378c86846f01003e523711d2ad04fe87bd1f1");
});

Deno.test("`float64Hex()` gives the little-endian IEEE bytes (struct.pack('<d', x).hex())", () => {
  strictEqual(float64Hex(1), "000000000000f03f");
  strictEqual(float64Hex(-2.5), "00000000000004c0");
  strictEqual(float64Hex(0.1), "9a9999999999b93f");
});

Deno.test("`rowsHash()` separates fields by U+001F and ends rows with U+001E, UTF-8 (Python hashlib)", () => {
  strictEqual(rowsHash([]), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  strictEqual(rowsHash([["a", "b"]]), "04a0736a179458f98f08d3fbb86029b51a665f624bbdcb87e7d4923e9bf99fd1");
  strictEqual(
    rowsHash([["caf\u00e9"], [""]]),
    "263324283b0fc17a4ebae7cd48241d4bcc2e07466d499eab8eb6b43fe246f9d8",
  );
});
