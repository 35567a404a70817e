"""Write `testdata/fp16/ops.json`: reference values for the fp16 mixed-precision ops (dev-only; the TS
tests never import this).

Run from the repo root:  /usr/bin/python3 reference/make_fp16_fixtures.py
Deterministic (fixed seed); re-running rewrites an identical file.

The semantics written out by hand in numpy (numpy's float16 cast is IEEE round-to-nearest-even):
  f16(a)            = a -> float32 -> float16 -> float32
  products          = f16 operands multiplied and summed in float64, then rounded to float32
                      (the "fp32 accumulation"; any fp32 summation order lands within a few fp32 ulps)
  fp16Linear        z = f16(x16 @ W16 + b16), y = z, or y = f16(act(z)) with act fused
                    backward: g = f16(dy) (fused: g = f16(g * act'(z))), dx = f16(g @ W16^T),
                    dW = x16^T @ g and db = sum(g) kept in float32
  fp16MatMul        y = f16(op(a16) @ op(b16)); da, db as the matmul rule on f16(dy), each rounded to f16
  attention scores  q, k [B*L, H] split into heads; y = f16(f16(q16 @ k16^T) * scale);
                    g = f16(f16(dy) * scale); dq = f16(g @ k16), dk = f16(g^T @ q16), heads merged back
  attention context probs [B, nh, L, L], v [B*L, H]; y = f16(p16 @ v16) merged;
                    dp = f16(g @ v16^T), dv = f16(p16^T @ g) with g = f16(dy) split into heads
"""

from __future__ import annotations

import json
import math
import os

import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OUT = os.path.join(ROOT, "testdata", "fp16", "ops.json")
rng = np.random.default_rng(20240611)


def f16(a):
    return np.asarray(a, dtype=np.float32).astype(np.float16).astype(np.float32)


def mm(a, b):
    """fp32 result of a float64-accumulated product (batched over leading axes)."""
    return np.matmul(a.astype(np.float64), b.astype(np.float64)).astype(np.float32)


def swap(a):
    return np.swapaxes(a, -1, -2)


_erf = np.vectorize(math.erf)


def act(name, z):
    z = z.astype(np.float64)
    if name == "gelu":
        return 0.5 * z * (1 + _erf(z / math.sqrt(2)))
    if name == "gelu_new":
        return 0.5 * z * (1 + np.tanh(math.sqrt(2 / math.pi) * (z + 0.044715 * z**3)))
    if name == "relu":
        return np.maximum(z, 0)
    raise ValueError(name)


def act_grad(name, z):
    z = z.astype(np.float64)
    if name == "gelu":
        return 0.5 * (1 + _erf(z / math.sqrt(2))) + z * np.exp(-0.5 * z * z) / math.sqrt(2 * math.pi)
    if name == "gelu_new":
        c = math.sqrt(2 / math.pi)
        t = np.tanh(c * (z + 0.044715 * z**3))
        return 0.5 * (1 + t) + 0.5 * z * (1 - t * t) * c * (1 + 3 * 0.044715 * z * z)
    if name == "relu":
        return (z > 0).astype(np.float64)
    raise ValueError(name)


def arr(a):
    a = np.asarray(a, dtype=np.float32)
    return {"shape": list(a.shape), "data": [float(v) for v in a.reshape(-1)]}


def rand(*shape, scale=1.0):
    return (rng.standard_normal(shape) * scale).astype(np.float32)


def linear_case(activation):
    N, I, O = 7, 12, 5
    x, w, b, dy = rand(N, I), rand(I, O, scale=0.3), rand(O, scale=0.1), rand(N, O, scale=0.5)
    x16, w16, b16 = f16(x), f16(w), f16(b)
    z = f16(mm(x16, w16) + b16)
    g = f16(dy)
    if activation == "none":
        y = z
    else:
        y = f16(act(activation, z))
        g = f16(g.astype(np.float64) * act_grad(activation, z))
    return {
        "activation": activation,
        "x": arr(x), "w": arr(w), "b": arr(b), "dy": arr(dy),
        "y": arr(y),
        "dx": arr(f16(mm(g, swap(w16)))),
        "dw": arr(mm(swap(x16), g)),
        "db": arr(g.astype(np.float64).sum(0)),
    }


def matmul_case(ta, tb):
    Bt, M, K, N = 2, 3, 4, 5
    a = rand(Bt, K, M) if ta else rand(Bt, M, K)
    b = rand(Bt, N, K) if tb else rand(Bt, K, N)
    dy = rand(Bt, M, N)
    a16, b16, g = f16(a), f16(b), f16(dy)
    opa, opb = (swap(a16) if ta else a16), (swap(b16) if tb else b16)
    da, dbb = mm(g, swap(opb)), mm(swap(opa), g)
    return {
        "transposeA": ta, "transposeB": tb,
        "a": arr(a), "b": arr(b), "dy": arr(dy),
        "y": arr(f16(mm(opa, opb))),
        "da": arr(f16(swap(da) if ta else da)),
        "db": arr(f16(swap(dbb) if tb else dbb)),
    }


def split(x, B, L, nh):
    H = x.shape[1]
    return x.reshape(B, L, nh, H // nh).transpose(0, 2, 1, 3)


def merge(x):
    B, nh, L, dh = x.shape
    return x.transpose(0, 2, 1, 3).reshape(B * L, nh * dh)


def attention_case():
    B, L, nh, dh = 2, 3, 2, 3
    H = nh * dh
    scale = 1 / math.sqrt(dh)  # not a power of two: the second rounding matters
    q, k, v = rand(B * L, H), rand(B * L, H), rand(B * L, H)
    dys, dyc = rand(B, nh, L, L), rand(B * L, H)
    logits = rand(B, nh, L, L)
    probs = (np.exp(logits) / np.exp(logits).sum(-1, keepdims=True)).astype(np.float32)
    qh, kh, vh = split(f16(q), B, L, nh), split(f16(k), B, L, nh), split(f16(v), B, L, nh)
    scores = f16(f16(mm(qh, swap(kh))).astype(np.float64) * scale)
    gs = f16(f16(dys).astype(np.float64) * scale)
    p16 = f16(probs)
    gc = split(f16(dyc), B, L, nh)
    return {
        "batch": B, "seqLen": L, "heads": nh, "scale": scale,
        "q": arr(q), "k": arr(k), "v": arr(v), "probs": arr(probs),
        "dyScores": arr(dys), "dyContext": arr(dyc),
        "scores": arr(scores),
        "dq": arr(f16(merge(mm(gs, kh)))),
        "dk": arr(f16(merge(mm(swap(gs), qh)))),
        "context": arr(merge(f16(mm(p16, vh)))),
        "dprobs": arr(f16(mm(gc, swap(vh)))),
        "dv": arr(f16(merge(mm(swap(p16), gc)))),
    }


def main():
    out = {
        "format": "simcse-fp16-fixture",
        "version": 1,
        "generator": "reference/make_fp16_fixtures.py",
        "linear": [linear_case(a) for a in ("none", "gelu", "gelu_new", "relu")],
        "matmul": [matmul_case(ta, tb) for ta in (False, True) for tb in (False, True)],
        "attention": attention_case(),
    }
    os.makedirs(os.path.dirname(OUT), exist_ok=True)
    with open(OUT, "w") as f:
        json.dump(out, f)
        f.write("\n")
    print(f"wrote {OUT} ({os.path.getsize(OUT)} bytes)")


if __name__ == "__main__":
    main()
