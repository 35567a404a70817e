#!/usr/bin/python3
"""Reference values for lib/eval/alignment_uniformity.ts, written with numpy from Wang & Isola (2020):

    align_loss(x, y, alpha=2)  = (x - y).norm(p=2, dim=1).pow(alpha).mean()
    uniform_loss(x, t=2)       = torch.pdist(x, p=2).pow(2).mul(-t).exp().mean().log()

on L2-normalised embeddings (as torch.nn.functional.normalize), and with the SimCSE paper's data
choice (Figure 2): positive pairs are STS-B pairs with gold score > 4, ℓ_uniform runs over every
distinct sentence of the split (each unordered pair once, as pdist).

Run:  /usr/bin/python3 reference/make_align_uniform_fixture.py

Writes testdata/eval/align_uniform.json: a small STS-B-format file (rows: score, s1, s2; with
repeated sentences and scores exactly 4.0 that must be left out), one unnormalised float32 vector
per distinct sentence (seeded numpy random), and the expected ℓ_align, ℓ_uniform and counts. A
second case checks the two formulas alone on random matrices (no data selection).
"""

import json
import os

import numpy as np

OUT = os.path.join(os.path.dirname(__file__), "..", "testdata", "eval", "align_uniform.json")


def normalize(x):
    n = np.linalg.norm(x, axis=1, keepdims=True)
    return x / np.maximum(n, 1e-12)


def align_loss(x, y):
    x, y = normalize(x), normalize(y)
    return float((np.linalg.norm(x - y, axis=1) ** 2).mean())


def uniform_loss(x, t=2.0):
    x = normalize(x)
    i, j = np.triu_indices(len(x), k=1)  # the pairs torch.pdist returns
    d2 = ((x[i] - x[j]) ** 2).sum(axis=1)
    return float(np.log(np.exp(-t * d2).mean()))


def main():
    rng = np.random.default_rng(20200409)
    words = ["a man", "a woman", "a dog", "a cat", "the child", "someone"]
    verbs = ["is playing a guitar .", "is slicing an onion .", "runs in the park .", "is eating ."]
    pool = [f"{w} {v}" for w in words for v in verbs]  # 24 sentences
    rows = []
    scores = [5.0, 4.75, 4.0, 4.2, 3.8, 0.5, 4.0001, 2.0, 4.6, 1.0, 4.0, 3.99, 5.0, 4.4]
    for k, s in enumerate(scores):
        a = pool[(7 * k) % len(pool)]
        b = pool[(5 * k + 3) % len(pool)]
        rows.append([s, a, b])
    rows.append([4.8, pool[0], pool[0]])  # identical sentences: distance 0, counted once for uniformity
    sentences = []
    for _, a, b in rows:
        for s in (a, b):
            if s not in sentences:
                sentences.append(s)
    dim = 12
    vecs = (rng.standard_normal((len(sentences), dim)) * rng.uniform(0.5, 3, (len(sentences), 1))).astype(
        np.float32)
    idx = {s: i for i, s in enumerate(sentences)}
    pos = [(a, b) for score, a, b in rows if score > 4]
    x = vecs[[idx[a] for a, _ in pos]].astype(np.float64)
    y = vecs[[idx[b] for _, b in pos]].astype(np.float64)
    v64 = vecs.astype(np.float64)

    m = rng.standard_normal((40, 7)).astype(np.float32)
    m2 = rng.standard_normal((40, 7)).astype(np.float32)
    fixture = {
        "format": "simcse-align-uniform-fixture",
        "version": 1,
        "generator": "reference/make_align_uniform_fixture.py (numpy %s)" % np.__version__,
        "sts": {
            "rows": [[float(s), a, b] for s, a, b in rows],
            "vectors": {s: [float(v) for v in vecs[i]] for s, i in idx.items()},
            "positives": len(pos),
            "sentences": len(sentences),
            "align": align_loss(x, y),
            "uniform": uniform_loss(v64),
        },
        "matrices": {
            "x": m.astype(np.float64).tolist(),
            "y": m2.astype(np.float64).tolist(),
            "align": align_loss(m.astype(np.float64), m2.astype(np.float64)),
            "uniform": uniform_loss(m.astype(np.float64)),
            "uniform_t1": uniform_loss(m.astype(np.float64), t=1.0),
        },
    }
    os.makedirs(os.path.dirname(OUT), exist_ok=True)
    with open(OUT, "w") as f:
        json.dump(fixture, f, indent=1)
        f.write("\n")
    print(f"wrote {OUT}: {len(pos)} positive pairs, {len(sentences)} sentences")


if __name__ == "__main__":
    main()
