import { deepStrictEqual, ok, strictEqual } from "node:assert/strict";
import { tf } from "../runtime/tf.ts";
import { useBackend } from "../kernels/backend.ts";
import { readFixture, TESTDATA } from "../../testing/fixtures.ts";
import {
  BF16_MAX,
  BF16_MIN_NORMAL,
  BF16_MIN_SUBNORMAL,
  bf16BitsToF32,
  bf16Round,
  f32ToBf16Bits,
  isBf16Valued,
  packBf16,
  packBf16Tensor,
  roundBf16,
  roundBf16Array,
  unpackBf16,
  unpackBf16Tensor,
} from "./bf16.ts";

/** `testdata/bf16/rounding.json`, written by reference/make_bf16_rounding_fixtures.py from torch. */
interface RoundingFixture {
  edges: { name: string; f32: number; bf16: number }[];
  nans: { name: string; f32: number }[];
  random: { n: number; seed: number };
}
const fx = readFixture<RoundingFixture>("bf16/rounding.json", "simcse-bf16-rounding-fixture", 1);
const torchRandom = new Uint16Array(Deno.readFileSync(`${TESTDATA}bf16/random_bits.bin`).buffer);

const asF32 = (bits: number) => new Float32Array(new Uint32Array([bits]).buffer)[0];
const isNanCode = (h: number) => (h & 0x7f80) === 0x7f80 && (h & 0x7f) !== 0;
const isQuietNanCode = (h: number) => isNanCode(h) && (h & 0x40) !== 0;
const hex = (v: number) => `0x${v.toString(16)}`;

/** The fixture's inputs: the LCG x <- (1664525 x + 1013904223) mod 2^32 from the seed. */
function lcgPatterns(n: number, seed: number): Uint32Array {
  const out = new Uint32Array(n);
  let x = seed;
  for (let i = 0; i < n; i++) out[i] = x = (Math.imul(x, 1664525) + 1013904223) >>> 0;
  return out;
}

Deno.test("`f32ToBf16Bits()` is bit-exact with torch bfloat16 on edge values (ties, max, overflow, subnormals, ±0, ±Inf)", () => {
  ok(fx.edges.length >= 25);
  for (const e of fx.edges) strictEqual(hex(f32ToBf16Bits(asF32(e.f32))), hex(e.bf16), e.name);
});

Deno.test("`f32ToBf16Bits()` keeps every NaN a quiet NaN with its sign", () => {
  // The arrays keep the exact bit patterns (a JS number may already have quieted a signalling NaN).
  const src = new Float32Array(new Uint32Array(fx.nans.map((e) => e.f32)).buffer);
  const packed = packBf16(src), rounded = new Uint32Array(roundBf16Array(src).buffer);
  fx.nans.forEach((e, i) => {
    for (const h of [packed[i], rounded[i] >>> 16, f32ToBf16Bits(src[i])]) {
      ok(isQuietNanCode(h), `${e.name}: ${hex(h)}`);
      strictEqual(h >>> 15, e.f32 >>> 31, `${e.name}: sign`);
    }
  });
  ok(Number.isNaN(bf16Round(NaN)));
});

Deno.test("`f32ToBf16Bits()`, `packBf16()` and `roundBf16Array()` are bit-exact with torch bfloat16 on 100k random float32 bit patterns", () => {
  const pats = lcgPatterns(fx.random.n, fx.random.seed);
  strictEqual(torchRandom.length, pats.length);
  const src = new Float32Array(pats.buffer);
  const packed = packBf16(src), rounded = new Uint32Array(roundBf16Array(src).buffer);
  let nans = 0;
  for (let i = 0; i < pats.length; i++) {
    const want = torchRandom[i], mine = f32ToBf16Bits(src[i]);
    if (isNanCode(want)) { // torch's NaN code depends on its code path; only NaN-ness is a reference
      nans++;
      ok(isQuietNanCode(mine) && isQuietNanCode(packed[i]) && Number.isNaN(asF32(rounded[i])), hex(pats[i]));
      continue;
    }
    if (mine !== want || packed[i] !== want || rounded[i] !== want * 65536) {
      throw new Error(`${hex(pats[i])}: scalar ${hex(mine)}, packed ${hex(packed[i])}, torch ${hex(want)}`);
    }
  }
  ok(nans > 100 && nans < 1000, `${nans} NaN patterns`);
});

Deno.test("`bf16BitsToF32()` decodes codes as the top half of a float32 (max, subnormals, Inf)", () => {
  strictEqual(bf16BitsToF32(0x7f7f), BF16_MAX);
  strictEqual(bf16BitsToF32(0x0080), BF16_MIN_NORMAL);
  strictEqual(bf16BitsToF32(0x0001), BF16_MIN_SUBNORMAL);
  strictEqual(bf16BitsToF32(0xff80), -Infinity);
  ok(Object.is(bf16BitsToF32(0x8000), -0));
  strictEqual(bf16BitsToF32(0x3f80), 1);
  for (let h = 0; h < 65536; h++) {
    const v = bf16BitsToF32(h);
    if (isNanCode(h)) ok(Number.isNaN(v), hex(h));
    else if (f32ToBf16Bits(v) !== h) throw new Error(`${hex(h)} does not round-trip`);
  }
});

Deno.test("`unpackBf16()` inverts `packBf16()` and equals `roundBf16Array()` on arrays", () => {
  const src = new Float32Array(1001).map((_, i) => Math.sin(i * 12.9898) * 10 ** ((i % 61) - 30));
  src.set(fx.edges.map((e) => asF32(e.f32)), 0);
  deepStrictEqual(unpackBf16(packBf16(src)), roundBf16Array(src));
  const inPlace = src.slice();
  roundBf16Array(inPlace, inPlace);
  deepStrictEqual(inPlace, roundBf16Array(src));
});

Deno.test("`packBf16Tensor()` keeps an odd-length tensor at 16 bits per value and `unpackBf16Tensor()` restores it", async () => {
  await useBackend("cpu");
  const values = [0.1, -2.5, 3.4e38, 1e-40, -0, 1 / 3, 1 + 2 ** -8];
  const odd = tf.tensor1d(values);
  const before = tf.memory().numBytes;
  const p = packBf16Tensor(odd);
  strictEqual(p.dtype, "int32");
  strictEqual(p.size, 4);
  strictEqual(tf.memory().numBytes - before, 16, "7 values take 4 int32 words");
  const back = unpackBf16Tensor(p, [7]);
  ok(isBf16Valued(back));
  const want = values.map((v) => bf16BitsToF32(f32ToBf16Bits(v)));
  deepStrictEqual(Array.from(back.dataSync()), want);
  strictEqual(want[2], Infinity, "3.4e38 overflows");
  strictEqual(want[6], 1, "the tie goes to even");
  const r = roundBf16(odd);
  ok(isBf16Valued(r));
  deepStrictEqual(Array.from(r.dataSync()), want);
  tf.dispose([odd, p, back, r]);
});
