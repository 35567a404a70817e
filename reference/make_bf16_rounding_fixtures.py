"""Write `testdata/bf16/rounding.json` and `testdata/bf16/random_bits.bin`: float32 -> bfloat16 rounding as
PyTorch does it (`tensor.to(torch.bfloat16)`, round to nearest, ties to even), for `lib/ops/bf16_test.ts`
(dev-only; the TS tests never import this).

Run from the repo root:  /usr/bin/python3 reference/make_bf16_rounding_fixtures.py
Deterministic; re-running rewrites identical files.

- rounding.json: named edge cases (ties, max, overflow, subnormals, +-0, +-Inf, NaN): the float32 input bits
  and torch's bfloat16 bits.
- random_bits.bin: the bfloat16 bits (uint16, little-endian) torch gives for 100,000 float32 bit patterns
  drawn with the 32-bit LCG  x <- (1664525 x + 1013904223) mod 2^32  from x = 20261203 (the first pattern is
  the first LCG output). The TS test regenerates the inputs with the same LCG. NaN patterns among them are
  compared as "NaN" only: torch's scalar path writes 0x7fc0 and its vectorised path 0xffff, so the exact NaN
  code is not a fixed reference.
"""

from __future__ import annotations

import json
import os
import struct

import numpy as np
import torch

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OUT = os.path.join(ROOT, "testdata", "bf16")
N_RANDOM = 100_000


def bf16_bits(bits_u32: np.ndarray) -> np.ndarray:
    f = torch.from_numpy(bits_u32.astype(np.uint32).view(np.float32).copy())
    return f.to(torch.bfloat16).view(torch.int16).numpy().view(np.uint16)


def f32_bits(x: float) -> int:
    return struct.unpack("<I", struct.pack("<f", x))[0]


def lcg(n: int, seed: int = 20261203) -> np.ndarray:
    out = np.empty(n, dtype=np.uint32)
    x = seed
    for i in range(n):
        x = (1664525 * x + 1013904223) % 2**32
        out[i] = x
    return out


EDGE_BITS = [
    ("+0", 0x00000000),
    ("-0", 0x80000000),
    ("1", 0x3F800000),
    ("-1", 0xBF800000),
    ("0.1", f32_bits(0.1)),
    ("1/3", f32_bits(1 / 3)),
    ("1 + 2^-8 (tie: to even 1)", 0x3F808000),
    ("1 + 3*2^-8 (tie: to even 1 + 2^-6)", 0x3F818000),
    ("1 + 2^-8 + 2^-23 (above the tie: up)", 0x3F808001),
    ("1 + 2^-8 - 2^-23 (below the tie: down)", 0x3F807FFF),
    ("-(1 + 3*2^-8) (negative tie: to even)", 0xBF818000),
    ("max bf16 0x7f7f", 0x7F7F0000),
    ("just below the overflow tie", 0x7F7F7FFF),
    ("overflow tie 0x7f7f8000 (to even: +Inf)", 0x7F7F8000),
    ("float32 max (to +Inf)", 0x7F7FFFFF),
    ("-float32 max (to -Inf)", 0xFF7FFFFF),
    ("+Inf", 0x7F800000),
    ("-Inf", 0xFF800000),
    ("smallest normal 2^-126", 0x00800000),
    ("largest float32 subnormal (to 2^-126)", 0x007FFFFF),
    ("float32 subnormal tie to even (down)", 0x00008000),
    ("float32 subnormal tie to even (up)", 0x00018000),
    ("smallest float32 subnormal (to +0)", 0x00000001),
    ("-smallest float32 subnormal (to -0)", 0x80000001),
    ("smallest bf16 subnormal 2^-133", 0x00010000),
    ("mantissa carry into the exponent", 0x3FFFFFFF),
    ("65504, the fp16 max (to 65536)", f32_bits(65504.0)),
    ("3.14159", f32_bits(3.14159)),
    ("1e-30", f32_bits(1e-30)),
    ("-123456.789", f32_bits(-123456.789)),
]
NAN_BITS = [
    ("quiet NaN", 0x7FC00000),
    ("negative quiet NaN", 0xFFC00000),
    ("signalling NaN, payload only in the low bits", 0x7F800001),
    ("signalling NaN 0x7fbfffff", 0x7FBFFFFF),
    ("NaN whose rounding would carry", 0x7FFFFFFF),
]


def main():
    os.makedirs(OUT, exist_ok=True)
    edge_in = np.array([b for _, b in EDGE_BITS], dtype=np.uint32)
    edge_out = bf16_bits(edge_in)
    nan_out = bf16_bits(np.array([b for _, b in NAN_BITS], dtype=np.uint32))
    for code in nan_out:  # every NaN must stay a NaN
        assert (code & 0x7F80) == 0x7F80 and (code & 0x7F) != 0, hex(code)
    doc = {
        "format": "simcse-bf16-rounding-fixture",
        "version": 1,
        "generator": "reference/make_bf16_rounding_fixtures.py",
        "torch": torch.__version__,
        "edges": [{"name": n, "f32": int(i), "bf16": int(o)} for (n, _), i, o in zip(EDGE_BITS, edge_in, edge_out)],
        "nans": [{"name": n, "f32": int(b)} for n, b in NAN_BITS],
        "random": {"n": N_RANDOM, "seed": 20261203, "lcg": "x <- (1664525 x + 1013904223) mod 2^32",
                   "file": "random_bits.bin"},
    }
    with open(os.path.join(OUT, "rounding.json"), "w") as f:
        json.dump(doc, f, indent=1)
        f.write("\n")
    rnd = lcg(N_RANDOM)
    out = bf16_bits(rnd)
    out.astype("<u2").tofile(os.path.join(OUT, "random_bits.bin"))
    nan = ((rnd & 0x7F800000) == 0x7F800000) & ((rnd & 0x7FFFFF) != 0)
    print(f"wrote {OUT}/rounding.json and random_bits.bin ({N_RANDOM} patterns, {int(nan.sum())} NaN)")


if __name__ == "__main__":
    main()
