import { deepStrictEqual as assertEquals, ok as assert } from "node:assert/strict";
import { DTYPES, firstNonFinite, numelOf, toFloat32, typedFromBytes } from "./state_dict.ts";

Deno.test("`toFloat32()` widens BF16 bits (u16 << 16) to the hand-computed values", () => {
  // 0x3f80 = 1, 0xc000 = -2, 0x3e20 = 0.15625, 0x7f80 = +inf, 0x8000 = -0, 0x0001 = 2^-133
  const bits = new Uint16Array([0x3f80, 0xc000, 0x3e20, 0x7f80, 0x8000, 0x0001]);
  const f = toFloat32({ dtype: "BF16", shape: [6], data: bits });
  assertEquals([...f], [1, -2, 0.15625, Infinity, -0, 2 ** -133]);
});

Deno.test("`toFloat32()` converts F16 natively (0x2e66 = 0.0999755859375, 0x7bff = 65504)", () => {
  const raw = new Uint16Array([0x3c00, 0xc100, 0x2e66, 0x7bff, 0x0001]);
  const f = toFloat32({ dtype: "F16", shape: [5], data: new Float16Array(raw.buffer) });
  assertEquals([...f], [1, -2.5, 0.0999755859375, 65504, 2 ** -24]);
});

Deno.test("`toFloat32()` returns F32 data itself and converts integers by value", () => {
  const data = new Float32Array([1.5, -2]);
  assert(toFloat32({ dtype: "F32", shape: [2], data }) === data);
  assertEquals([...toFloat32({ dtype: "I64", shape: [3], data: new BigInt64Array([-3n, 2n ** 40n, 0n]) })], [
    -3,
    2 ** 40,
    0,
  ]);
  assertEquals([...toFloat32({ dtype: "I8", shape: [2], data: new Int8Array([-128, 127]) })], [-128, 127]);
  assertEquals([...toFloat32({ dtype: "BOOL", shape: [2], data: new Uint8Array([1, 0]) })], [1, 0]);
  assertEquals([...toFloat32({ dtype: "F64", shape: [1], data: new Float64Array([0.1]) })], [
    Math.fround(0.1),
  ]);
});

Deno.test("`numelOf()` is 1 for a scalar and 0 when any dimension is 0", () => {
  assertEquals(numelOf([]), 1);
  assertEquals(numelOf([2, 3, 4]), 24);
  assertEquals(numelOf([2 ** 52, 2 ** 52, 0]), 0);
});

Deno.test("`typedFromBytes()` views aligned bytes and copies unaligned ones", () => {
  const buf = new Uint8Array(13);
  new DataView(buf.buffer).setFloat32(4, 2.5, true);
  new DataView(buf.buffer).setFloat32(9, -1, true);
  const aligned = typedFromBytes("F32", buf.subarray(4, 8), 1);
  assert(aligned.buffer === buf.buffer);
  assertEquals([...aligned], [2.5]);
  const unaligned = typedFromBytes("F32", buf.subarray(9, 13), 1);
  assert(unaligned.buffer !== buf.buffer);
  assertEquals([...unaligned], [-1]);
  assertEquals(DTYPES.BF16.itemsize, 2);
});

Deno.test("`firstNonFinite()` finds the first NaN or ±Infinity and passes every finite float32, subnormals included", () => {
  assertEquals(firstNonFinite(new Float32Array([0, -0, 1.4e-45, -3.4028234663852886e38, 1])), -1);
  assertEquals(firstNonFinite(new Float32Array([1, 2, NaN, Infinity])), 2);
  assertEquals(firstNonFinite(new Float32Array([1, -Infinity])), 1);
  assertEquals(firstNonFinite(new Float32Array([Infinity])), 0);
  assertEquals(firstNonFinite(new Float32Array(0)), -1);
});
