"""Write `testdata/bf16/ops.json`: reference values and gradients for the bf16 mixed-precision ops of
`lib/ops/bf16_ops.ts`, computed with PyTorch's bfloat16 (dev-only; the TS tests never import this).

Run from the repo root:  /usr/bin/python3 reference/make_bf16_fixtures.py
Deterministic (fixed seed); re-running rewrites an identical file.

Semantics (bf16(a) = a.to(torch.bfloat16), round to nearest even; products of two bf16 values are exact
in float32, so "f32 accumulation" is a float64 sum rounded to float32, any f32 summation order landing
within a few f32 ulps of it):
  bf16Linear        z = bf16(x16 @ W16 + b16); y = z, or y = bf16(act(z)) with act fused
                    backward: g = bf16(dy) (fused: g = bf16(g * act'(z))), dx = bf16(g @ W16^T),
                    dW = x16^T @ g and db = sum(g) kept in float32 (master-weight gradients)
  attention scores  q, k [B*L, H] split into heads; y = bf16(bf16(q16 @ k16^T) * scale);
                    g = bf16(bf16(dy) * scale); dq = bf16(g @ k16), dk = bf16(g^T @ q16), heads merged
  attention context probs [B, nh, L, L], v [B*L, H]; y = bf16(p16 @ v16) merged;
                    dp = bf16(g @ v16^T), dv = bf16(p16^T @ g) with g = bf16(dy) split into heads
  feed-forward      bf16Linear(act) then bf16Linear (lib/ops/half_feed_forward.ts)

Peer check against torch.autocast("cpu", dtype=torch.bfloat16), printed at the end (on larger shapes, see
peer_checks): F.linear and the attention matmuls under autocast (bf16 outputs, as here) and autocast's
grad_x agree with these semantics within one bf16 ulp; autocast's grad_W and grad_b are bf16-rounded, ours
are kept in float32 (see bf16_ops.ts).
"""

from __future__ import annotations

import json
import math
import os

import numpy as np
import torch
import torch.nn.functional as F

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OUT = os.path.join(ROOT, "testdata", "bf16", "ops.json")
rng = np.random.default_rng(20261203)


def t(a):
    return torch.from_numpy(np.asarray(a, dtype=np.float32))


def bf(a):
    """float32 tensor of the bf16-rounded values."""
    return t(a).to(torch.bfloat16).to(torch.float32)


def mm(a, b):
    """fp32 result of a float64-accumulated product (batched over leading axes)."""
    return torch.matmul(a.double(), b.double()).float()


def swap(a):
    return a.transpose(-1, -2)


def act(name, z):
    z = z.double()
    if name == "gelu":
        return 0.5 * z * (1 + torch.erf(z / math.sqrt(2)))
    if name == "gelu_new":
        return 0.5 * z * (1 + torch.tanh(math.sqrt(2 / math.pi) * (z + 0.044715 * z**3)))
    if name == "relu":
        return torch.clamp(z, min=0)
    raise ValueError(name)


def act_grad(name, z):
    z = z.double()
    if name == "gelu":
        return 0.5 * (1 + torch.erf(z / math.sqrt(2))) + z * torch.exp(-0.5 * z * z) / math.sqrt(2 * math.pi)
    if name == "gelu_new":
        c = math.sqrt(2 / math.pi)
        th = torch.tanh(c * (z + 0.044715 * z**3))
        return 0.5 * (1 + th) + 0.5 * z * (1 - th * th) * c * (1 + 3 * 0.044715 * z * z)
    if name == "relu":
        return (z > 0).double()
    raise ValueError(name)


def arr(a):
    a = np.asarray(a.detach().float().numpy() if torch.is_tensor(a) else a, dtype=np.float32)
    return {"shape": list(a.shape), "data": [float(v) for v in a.reshape(-1)]}


def rand(*shape, scale=1.0):
    return (rng.standard_normal(shape) * scale).astype(np.float32)


def ulps_apart(a, b):
    """(max distance in bf16 ulps of b's magnitude, fraction of equal entries)."""
    a, b = a.double(), b.double()
    ulp = torch.pow(2.0, torch.floor(torch.log2(b.abs().clamp(min=2.0**-126))) - 7)
    return float(((a - b).abs() / ulp).max()), float((a == b).double().mean())


def peer_checks():
    """Our semantics against torch.autocast on shapes large enough for torch's oneDNN bf16 matmul (torch
    1.13's small-matrix bf16 fallback keeps bf16 partial sums and is less accurate than either)."""
    out = []
    N, I, O = 256, 256, 128
    x, w, b, dy = rand(N, I), rand(I, O, scale=0.1), rand(O, scale=0.1), rand(N, O)
    x16, w16 = bf(x), bf(w)
    z = r16(mm(x16, w16) + bf(b).double())
    xt = t(x).requires_grad_()
    with torch.autocast("cpu", dtype=torch.bfloat16):
        ya = F.linear(xt, t(w).t(), t(b))
    ya.backward(t(dy).to(ya.dtype))
    out.append(("autocast F.linear y (bf16 output)", ulps_apart(ya.float(), z)))
    out.append(("autocast F.linear grad_x", ulps_apart(xt.grad, r16(mm(bf(dy), swap(w16))))))
    B, L, nh, dh = 2, 64, 4, 64
    H = nh * dh
    q, k, v = rand(B * L, H), rand(B * L, H), rand(B * L, H)
    probs = torch.softmax(t(rand(B, nh, L, L)), -1)
    qh, kh, vh = split(bf(q), B, L, nh), split(bf(k), B, L, nh), split(bf(v), B, L, nh)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        sa = torch.matmul(split(t(q), B, L, nh), swap(split(t(k), B, L, nh))) / math.sqrt(dh)
        ca = torch.matmul(probs, split(t(v), B, L, nh))
    out.append(("autocast scores / sqrt(dh)", ulps_apart(sa.float(), r16(r16(mm(qh, swap(kh))).double() / math.sqrt(dh)))))
    out.append(("autocast probs @ V", ulps_apart(ca.float(), r16(mm(bf(probs), vh)))))
    return out


def linear_case(activation):
    N, I, O = 9, 24, 7
    x, w, b, dy = rand(N, I), rand(I, O, scale=0.3), rand(O, scale=0.1), rand(N, O, scale=0.5)
    x16, w16, b16 = bf(x), bf(w), bf(b)
    z = (mm(x16, w16) + b16.double()).float().to(torch.bfloat16).float()
    g = bf(dy)
    if activation == "none":
        y = z
    else:
        y = act(activation, z).float().to(torch.bfloat16).float()
        g = (g.double() * act_grad(activation, z)).float().to(torch.bfloat16).float()
    dx = mm(g, swap(w16)).to(torch.bfloat16).float()
    return {
        "activation": activation,
        "x": arr(x), "w": arr(w), "b": arr(b), "dy": arr(dy),
        "y": arr(y),
        "dx": arr(dx),
        "dw": arr(mm(swap(x16), g)),
        "db": arr(g.double().sum(0)),
    }


def feed_forward_case(activation):
    """bf16Linear(act) then bf16Linear, composed: what `halfFeedForward` must give (its pieces of rows
    change no value). N is odd, so a test's small pieces leave a shorter last one."""
    N, H, I = 11, 12, 32
    x, dy = rand(N, H), rand(N, H, scale=0.5)
    w1, b1 = rand(H, I, scale=0.3), rand(I, scale=0.1)
    w2, b2 = rand(I, H, scale=0.2), rand(H, scale=0.1)
    x16, w1_16, w2_16 = bf(x), bf(w1), bf(w2)
    z = (mm(x16, w1_16) + bf(b1).double()).float().to(torch.bfloat16).float()
    y1 = act(activation, z).float().to(torch.bfloat16).float()
    y = (mm(y1, w2_16) + bf(b2).double()).float().to(torch.bfloat16).float()
    g2 = bf(dy)
    dh = r16(mm(g2, swap(w2_16)))
    g1 = r16(dh.double() * act_grad(activation, z))
    return {
        "activation": activation,
        "x": arr(x), "w1": arr(w1), "b1": arr(b1), "w2": arr(w2), "b2": arr(b2), "dy": arr(dy),
        "y": arr(y),
        "dx": arr(r16(mm(g1, swap(w1_16)))),
        "dw1": arr(mm(swap(x16), g1)),
        "db1": arr(g1.double().sum(0)),
        "dw2": arr(mm(swap(y1), g2)),
        "db2": arr(g2.double().sum(0)),
    }


def split(x, B, L, nh):
    H = x.shape[1]
    return x.reshape(B, L, nh, H // nh).permute(0, 2, 1, 3)


def merge(x):
    B, nh, L, dh = x.shape
    return x.permute(0, 2, 1, 3).reshape(B * L, nh * dh)


def r16(a):
    return a.float().to(torch.bfloat16).float()


def attention_case():
    B, L, nh, dh = 2, 5, 3, 8
    H = nh * dh
    scale = 1 / math.sqrt(dh)  # not a power of two: the second rounding matters
    q, k, v = rand(B * L, H), rand(B * L, H), rand(B * L, H)
    dys, dyc = rand(B, nh, L, L), rand(B * L, H)
    logits = rand(B, nh, L, L)
    probs = (np.exp(logits) / np.exp(logits).sum(-1, keepdims=True)).astype(np.float32)
    qh, kh, vh = split(bf(q), B, L, nh), split(bf(k), B, L, nh), split(bf(v), B, L, nh)
    scores = r16(r16(mm(qh, swap(kh))).double() * scale)
    gs = r16(bf(dys).double() * scale)
    p16 = bf(probs)
    gc = split(bf(dyc), B, L, nh)
    context = merge(r16(mm(p16, vh)))
    return {
        "batch": B, "seqLen": L, "heads": nh, "scale": scale,
        "q": arr(q), "k": arr(k), "v": arr(v), "probs": arr(probs),
        "dyScores": arr(dys), "dyContext": arr(dyc),
        "scores": arr(scores),
        "dq": arr(r16(merge(mm(gs, kh)))),
        "dk": arr(r16(merge(mm(swap(gs), qh)))),
        "context": arr(context),
        "dprobs": arr(r16(mm(gc, swap(vh)))),
        "dv": arr(r16(merge(mm(swap(p16), gc)))),
    }


def main():
    out = {
        "format": "simcse-bf16-fixture",
        "version": 1,
        "generator": "reference/make_bf16_fixtures.py",
        "torch": torch.__version__,
        "linear": [linear_case(a) for a in ("none", "gelu", "gelu_new", "relu")],
        "attention": attention_case(),
        "feedForward": [feed_forward_case(a) for a in ("gelu", "gelu_new", "relu")],
    }
    os.makedirs(os.path.dirname(OUT), exist_ok=True)
    with open(OUT, "w") as f:
        json.dump(out, f)
        f.write("\n")
    print(f"wrote {OUT} ({os.path.getsize(OUT)} bytes)")
    for name, (u, eq) in peer_checks():
        print(f"  peer check: {name}: {100 * eq:.2f}% equal, max {u:.2f} bf16 ulps from these semantics")
        assert u <= 1.0, name


if __name__ == "__main__":
    main()
