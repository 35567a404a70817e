import { deepStrictEqual, strictEqual } from "node:assert/strict";
import { tf } from "../../runtime/tf.ts";
import { useBackend } from "../backend.ts";
import { skipBackend } from "../../../testing/backends.ts";
import { webgpuPackF16, webgpuRoundF16, webgpuUnpackF16 } from "./fp16_round.ts";

/** The independent reference: Deno's native Float16Array (round to nearest even). */
function nativeBits(x: Float32Array): Uint16Array {
  return new Uint16Array(new Float16Array(x).buffer);
}

/**
 * Inputs covering every rounding case: edge values, all 1024 midpoints (ties) of four binades with both
 * signs and their float32 neighbours, subnormal ties, overflow ties, Inf, NaN, and random float32 bit
 * patterns over the whole exponent range.
 */
function cases(): Float32Array {
  const v: number[] = [
    0,
    -0,
    1,
    0.1,
    1 / 3,
    65504,
    65505,
    65519,
    65520,
    65536,
    1e5,
    3.4e38,
    Infinity,
    -Infinity,
  ];
  for (const e of [-24, -20, -15, -14, 0, 7, 15]) {
    for (let k = 0; k < 1024; k++) {
      const mid = 2 ** e * (1 + (k + 0.5) / 1024);
      for (const x of [mid, Math.fround(mid * (1 + 2 ** -22)), Math.fround(mid * (1 - 2 ** -22))]) {
        v.push(x, -x);
      }
    }
  }
  for (let k = 0; k < 64; k++) v.push((k + 0.5) * 2 ** -24, -(k + 0.5) * 2 ** -24);
  const out = new Float32Array(v.length + 4096);
  out.set(v);
  const bits = new Uint32Array(out.buffer, v.length * 4);
  let s = 12345;
  for (let i = 0; i < bits.length; i++) {
    s = (Math.imul(s, 1103515245) + 12345) >>> 0;
    bits[i] = (s ^ (s << 7)) >>> 0;
  }
  return out;
}

Deno.test({
  name:
    "WGSL fp16 round/pack/unpack on webgpu are bit-identical to Float16Array (ties to even, subnormals, Inf, NaN)",
  ignore: skipBackend("webgpu"),
  fn: async () => {
    await useBackend("webgpu");
    const x = cases();
    const want = nativeBits(x);
    const wantValues = new Float32Array(new Float16Array(want.buffer));
    const t = tf.tensor1d(x);
    const r = webgpuRoundF16(t), p = webgpuPackF16(t);
    const u = webgpuUnpackF16(p, [x.length]);
    const [rv, pv, uv] = await Promise.all([r.data(), p.data(), u.data()]) as [
      Float32Array,
      Int32Array,
      Float32Array,
    ];
    tf.dispose([t, r, p, u]);
    const isNan = (h: number) => (h & 0x7c00) === 0x7c00 && (h & 0x3ff) !== 0;
    const packed = new Uint16Array(pv.buffer, pv.byteOffset, x.length);
    let mismatches = 0;
    for (let i = 0; i < x.length; i++) {
      if (isNan(want[i])) {
        if (!isNan(packed[i]) || !Number.isNaN(rv[i]) || !Number.isNaN(uv[i])) mismatches++;
        continue;
      }
      if (packed[i] !== want[i] || !Object.is(rv[i], wantValues[i]) || !Object.is(uv[i], wantValues[i])) {
        if (mismatches++ < 5) {
          console.error(`x=${x[i]}: got ${packed[i].toString(16)}, want ${want[i].toString(16)}`);
        }
      }
    }
    strictEqual(mismatches, 0, `${mismatches} of ${x.length} values differ`);
  },
});

Deno.test({
  name: "WGSL fp16 pack keeps an odd-length tensor (last high half 0) and unpack restores its shape",
  ignore: skipBackend("webgpu"),
  fn: async () => {
    await useBackend("webgpu");
    const t = tf.tensor2d([[1, 2, 3], [4, 5, 0.1]]).slice([0, 0], [2, 3]);
    const odd = tf.tensor1d([1, 2, 3]);
    const p = webgpuPackF16(odd), u = webgpuUnpackF16(webgpuPackF16(t), [2, 3]);
    deepStrictEqual(Array.from(await p.data() as Int32Array), [0x40003c00, 0x4200]);
    deepStrictEqual(u.shape, [2, 3]);
    deepStrictEqual(Array.from(await u.data()), [1, 2, 3, 4, 5, 0.0999755859375]);
    tf.dispose([t, odd, p, u]);
  },
});
