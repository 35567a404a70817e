import { deepStrictEqual, ok, strictEqual } from "node:assert/strict";
import { tf } from "../runtime/tf.ts";
import { useBackend } from "../kernels/backend.ts";
import {
  F16_MAX,
  F16_MIN_NORMAL,
  F16_MIN_SUBNORMAL,
  f16BitsToF32,
  f16Round,
  f32ToF16Bits,
  packF16,
  packF16Tensor,
  roundF16,
  roundF16Array,
  unpackF16,
  unpackF16Tensor,
} from "./fp16.ts";

/** The native reference: binary16 code of float32 `x` via Deno's Float16Array. */
function nativeBits(x: number): number {
  return new Uint16Array(new Float16Array([Math.fround(x)]).buffer)[0];
}

function isNanCode(h: number): boolean {
  return (h & 0x7c00) === 0x7c00 && (h & 0x3ff) !== 0;
}

const ulp1 = 2 ** -10; // binary16 spacing in [1, 2)
const EDGE: [string, number][] = [
  ["+0", 0],
  ["-0", -0],
  ["1", 1],
  ["0.1", 0.1],
  ["1/3", 1 / 3],
  ["max normal 65504", F16_MAX],
  ["-65504", -F16_MAX],
  ["65505 (rounds down to max)", 65505],
  ["65519 (just below the overflow tie)", 65519],
  ["65519.996 (largest float32 below the tie)", Math.fround(65520 - 2 ** -8)],
  ["65520 (tie: to even, i.e. overflow to +Inf)", 65520],
  ["-65520 -> -Inf", -65520],
  ["65536 overflow", 65536],
  ["1e5 overflow", 1e5],
  ["float32 max overflow", 3.4028234663852886e38],
  ["+Inf", Infinity],
  ["-Inf", -Infinity],
  ["smallest normal 2^-14", F16_MIN_NORMAL],
  ["largest subnormal 2^-14 - 2^-24", F16_MIN_NORMAL - F16_MIN_SUBNORMAL],
  ["tie between largest subnormal and smallest normal", F16_MIN_NORMAL - F16_MIN_SUBNORMAL / 2],
  ["smallest subnormal 2^-24", F16_MIN_SUBNORMAL],
  ["-2^-24", -F16_MIN_SUBNORMAL],
  ["2^-25 (tie: to even 0)", 2 ** -25],
  ["-2^-25 (tie: to -0)", -(2 ** -25)],
  ["just above 2^-25 (to 2^-24)", Math.fround(2 ** -25 * (1 + 2 ** -23))],
  ["3 * 2^-25 (tie: to even 2^-23)", 3 * 2 ** -25],
  ["5 * 2^-25 (tie: to even 2^-23)", 5 * 2 ** -25],
  ["2^-26 underflow", 2 ** -26],
  ["float32 smallest subnormal", 1.401298464324817e-45],
  ["1 + ulp/2 (tie: to even 1)", 1 + ulp1 / 2],
  ["1 + 3ulp/2 (tie: to even 1 + 2ulp)", 1 + 1.5 * ulp1],
  ["1 + ulp/2 + tiny (up)", Math.fround(1 + ulp1 / 2 + 2 ** -20)],
  ["2048 + 1 (tie at integer spacing 2: to 2048)", 2049],
  ["2048 + 3 (tie: to 2052)", 2051],
  ["mantissa carry into exponent 2047.5 + ...", Math.fround(2047.9)],
];

Deno.test("`f32ToF16Bits()` matches Float16Array bit for bit on edge values (max normal, subnormals, ties, ±Inf, overflow)", () => {
  for (const [what, x] of EDGE) strictEqual(f32ToF16Bits(x), nativeBits(x), what);
  strictEqual(f32ToF16Bits(65520), 0x7c00, "65520 is +Inf");
  strictEqual(f32ToF16Bits(F16_MAX), 0x7bff);
  strictEqual(f32ToF16Bits(F16_MIN_SUBNORMAL), 0x0001);
  strictEqual(f32ToF16Bits(-0), 0x8000);
});

Deno.test("`f32ToF16Bits()` keeps NaN a NaN (canonical quiet NaNs bit-exact with Float16Array)", () => {
  ok(isNanCode(f32ToF16Bits(NaN)));
  strictEqual(f32ToF16Bits(NaN), nativeBits(NaN));
  const f = new Float32Array(4), u = new Uint32Array(f.buffer);
  u.set([0x7fc00000, 0xffc00000, 0x7f800001, 0x7fbfffff]); // quiet ±, signalling with tiny payloads
  for (let i = 0; i < 4; i++) ok(isNanCode(f32ToF16Bits(f[i])), `NaN pattern ${u[i].toString(16)}`);
  strictEqual(packF16(f.subarray(0, 2))[1], new Uint16Array(new Float16Array(f.subarray(0, 2)).buffer)[1]);
  ok(Number.isNaN(f16Round(NaN)));
});

Deno.test("`f32ToF16Bits()` matches Float16Array on 200k random float32 bit patterns and on every tie of [1, 2)", () => {
  // A fixed-seed LCG over all bit patterns (every exponent, NaNs included).
  let s = 12345;
  const f = new Float32Array(1), u = new Uint32Array(f.buffer);
  for (let i = 0; i < 200_000; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    // Every other sample gets a float32 exponent in 100..145, the range binary16 covers (plus margins).
    u[0] = i % 2 === 0 ? s : ((s & 0x807fffff) | ((100 + ((s >>> 7) % 46)) << 23)) >>> 0;
    const mine = f32ToF16Bits(f[0]), native = nativeBits(f[0]);
    if (Number.isNaN(f[0])) ok(isNanCode(mine));
    else if (mine !== native) throw new Error(`bits ${u[0].toString(16)}: ${mine} != ${native}`);
  }
  for (let m = 0; m < 1024; m++) {
    const tie = 1 + (m + 0.5) * ulp1;
    strictEqual(f32ToF16Bits(tie), nativeBits(tie), `tie ${tie}`);
  }
});

Deno.test("`roundF16Array()` (float32 Veltkamp split) equals Float16Array on random patterns, on every tie of four binades and at subnormal ties", () => {
  const n = 200_000, src = new Float32Array(n), u = new Uint32Array(src.buffer);
  let s = 987654321;
  for (let i = 0; i < n; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    u[i] = i % 2 === 0 ? s : ((s & 0x807fffff) | ((98 + ((s >>> 7) % 48)) << 23)) >>> 0;
  }
  const same = (a: number, b: number) => Object.is(a, b) || (Number.isNaN(a) && Number.isNaN(b));
  const check = (xs: Float32Array, what: string) => {
    const got = roundF16Array(xs), want = Float32Array.from(new Float16Array(xs));
    for (let i = 0; i < xs.length; i++) {
      if (!same(got[i], want[i])) throw new Error(`${what}: ${xs[i]} -> ${got[i]}, want ${want[i]}`);
    }
  };
  check(src, "random");
  for (const e of [-14, 0, 7, 15]) { // binades [2^e, 2^(e+1)): all 1024 midpoints, both signs
    const ties = new Float32Array(2048);
    for (let m = 0; m < 1024; m++) ties[2 * m] = -(ties[2 * m + 1] = (1 + (m + 0.5) * ulp1) * 2 ** e);
    check(ties, `ties of binade 2^${e}`);
  }
  const subTies = new Float32Array(2048);
  for (let m = 0; m < 1024; m++) subTies[2 * m] = -(subTies[2 * m + 1] = (m + 0.5) * F16_MIN_SUBNORMAL);
  check(subTies, "subnormal ties");
  check(new Float32Array(EDGE.map(([, x]) => x)), "edge values");
});

Deno.test("`f16BitsToF32()` decodes all 65536 codes as Float16Array does", () => {
  const codes = new Uint16Array(65536).map((_, i) => i);
  const native = new Float16Array(codes.buffer);
  for (let h = 0; h < 65536; h++) {
    const want = native[h], got = f16BitsToF32(h);
    if (Number.isNaN(want)) ok(Number.isNaN(got), `code ${h}`);
    else if (!Object.is(got, want)) throw new Error(`code ${h}: ${got} != ${want}`);
  }
  strictEqual(f16BitsToF32(0x0001), 2 ** -24);
  strictEqual(f16BitsToF32(0x7bff), 65504);
});

Deno.test("`packF16()`, `unpackF16()` and `roundF16Array()` agree with Float16Array on arrays", () => {
  const src = new Float32Array(1000).map((_, i) => Math.sin(i * 12.9898) * 10 ** ((i % 13) - 7));
  src.set(EDGE.map(([, x]) => x).slice(0, 30), 0);
  const native = new Float16Array(src);
  deepStrictEqual(packF16(src), new Uint16Array(native.buffer));
  deepStrictEqual(unpackF16(packF16(src)), Float32Array.from(native));
  deepStrictEqual(roundF16Array(src), Float32Array.from(native));
});

Deno.test("`packF16Tensor()` keeps an odd-length tensor at 16 bits per value and `unpackF16Tensor()` restores it", async () => {
  await useBackend("cpu");
  const values = [0.1, -2.5, 65519, 70000, 3e-8, -0, 1 / 3];
  const t = tf.tensor2d(values.slice(0, 6), [2, 3]);
  const odd = tf.tensor1d(values);
  const before = tf.memory().numBytes;
  const p = packF16Tensor(odd);
  strictEqual(p.dtype, "int32");
  strictEqual(p.size, 4);
  strictEqual(tf.memory().numBytes - before, 16, "7 halves take 4 int32 words");
  const back = unpackF16Tensor(p, [7]);
  deepStrictEqual(Array.from(back.dataSync()), Array.from(Float32Array.from(new Float16Array(values))));
  const r = roundF16(t);
  deepStrictEqual(r.shape, [2, 3]);
  deepStrictEqual(
    Array.from(r.dataSync()),
    Array.from(Float32Array.from(new Float16Array(values.slice(0, 6)))),
  );
  tf.dispose([t, odd, p, back, r]);
});
