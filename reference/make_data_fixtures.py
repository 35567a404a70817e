#!/usr/bin/python3
"""Write testdata/data/rng_reference.json: an independent Python re-implementation of the data
pipeline's seeded randomness (lib/data/seeded_rng.ts, lib/data/batches.ts) from its written spec.

  fmix32          MurmurHash3 32-bit finalizer
  mix_seed        h = 0; for w in words: h = fmix32(((h ^ w) + 0x9E3779B9) mod 2^32)
  mulberry32      state += 0x6D2B79F5; t = (state ^ state>>15) * (state | 1);
                  t ^= t + (t ^ t>>7) * (t | 61); out = t ^ t>>14   (all mod 2^32)
  next_below(k)   rejection: draw x until x < 2^32 - 2^32 % k, return x % k
  epoch_order     Fisher-Yates from i = n-1 down to 1, j = next_below(i+1), seeded with
                  mix_seed(["ordr", seed lo, seed hi, epoch lo, epoch hi])
  mask_tokens     row-major over non-special positions: u < p selects; then u < 0.8 -> [MASK],
                  else u < 0.5 -> next_below(vocab), else unchanged; seed mix_seed(["mask", ...])

Run: /usr/bin/python3 reference/make_data_fixtures.py   (no third-party packages needed)
"""

import json
import os

M32 = 0xFFFFFFFF


def fmix32(h):
    h &= M32
    h ^= h >> 16
    h = (h * 0x85EBCA6B) & M32
    h ^= h >> 13
    h = (h * 0xC2B2AE35) & M32
    h ^= h >> 16
    return h


def mix_seed(words):
    h = 0
    for w in words:
        h = fmix32(((h ^ (w & M32)) + 0x9E3779B9) & M32)
    return h


def words64(x):
    return [x & M32, (x >> 32) & M32]


class Mulberry32:
    def __init__(self, seed):
        self.state = seed & M32

    def next_uint32(self):
        self.state = (self.state + 0x6D2B79F5) & M32
        t = self.state
        t = ((t ^ (t >> 15)) * (t | 1)) & M32
        t = (t ^ ((t + (((t ^ (t >> 7)) * (t | 61)) & M32)) & M32)) & M32
        return (t ^ (t >> 14)) & M32

    def next_float(self):
        return self.next_uint32() / 4294967296.0

    def next_below(self, bound):
        limit = 4294967296 - (4294967296 % bound)
        while True:
            x = self.next_uint32()
            if x < limit:
                return x % bound


ORDR = 0x6F726472
MASK = 0x6D61736B


def epoch_order(n, seed, epoch):
    rng = Mulberry32(mix_seed([ORDR] + words64(seed) + words64(epoch)))
    order = list(range(n))
    for i in range(n - 1, 0, -1):
        j = rng.next_below(i + 1)
        order[i], order[j] = order[j], order[i]
    return order


def mask_tokens(input_ids, attention_mask, info, p, seed, step):
    rng = Mulberry32(mix_seed([MASK] + words64(seed) + words64(step)))
    special = {info["padId"], info["clsId"], info["sepId"], info["maskId"]}
    if "unkId" in info:
        special.add(info["unkId"])
    out = list(input_ids)
    labels = [-100] * len(input_ids)
    for pos, tid in enumerate(input_ids):
        if attention_mask[pos] == 0 or tid in special:
            continue
        if not rng.next_float() < p:
            continue
        labels[pos] = tid
        if rng.next_float() < 0.8:
            out[pos] = info["maskId"]
        elif rng.next_float() < 0.5:
            out[pos] = rng.next_below(info["vocabSize"])
    return out, labels


def main():
    root = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..")
    out_dir = os.path.join(root, "testdata", "data")
    os.makedirs(out_dir, exist_ok=True)

    mix_cases = [[], [0], [42, 0], [ORDR, 42, 0, 3, 0], [0xFFFFFFFF, 1, 2]]
    rng_cases = []
    for seed in [0, 1, 42, 0xDEADBEEF]:
        r = Mulberry32(seed)
        rng_cases.append({"seed": seed, "uint32": [r.next_uint32() for _ in range(6)]})
    below_cases = []
    for seed, bound in [(7, 10), (7, 3), (123, 1), (9, 2**31 + 5), (5, 2**32)]:
        r = Mulberry32(seed)
        below_cases.append({"seed": seed, "bound": bound, "values": [r.next_below(bound) for _ in range(8)]})

    order_cases = []
    for n, seed, epoch in [(10, 42, 0), (10, 42, 1), (10, 43, 0), (1, 42, 0), (0, 42, 0), (37, -1, 2),
                           (16, 2**40 + 3, 2**33)]:
        order_cases.append({"n": n, "seed": seed, "epoch": epoch, "order": epoch_order(n, seed, epoch)})

    # A hand-made collated batch: 4 rows x 7, [CLS]=101 [SEP]=102 [PAD]=0 [MASK]=103 [UNK]=100.
    info = {"padId": 0, "clsId": 101, "sepId": 102, "maskId": 103, "unkId": 100, "vocabSize": 30522}
    ids = [
        101, 2023, 2003, 1037, 3231, 102, 0,
        101, 2023, 2003, 1037, 3231, 102, 0,
        101, 100, 7592, 2088, 999, 2178, 102,
        101, 100, 7592, 2088, 999, 2178, 102,
    ]
    att = [0 if t == 0 else 1 for t in ids]
    mask_cases = []
    for p, seed, step in [(0.5, 42, 0), (0.5, 42, 1), (0.9, 7, 123456789012), (0.15, 42, 5)]:
        m_ids, m_labels = mask_tokens(ids, att, info, p, seed, step)
        mask_cases.append({"probability": p, "seed": seed, "step": step, "mlmInputIds": m_ids,
                           "mlmLabels": m_labels})

    doc = {
        "generator": "reference/make_data_fixtures.py",
        "mixSeed": [{"words": w, "value": mix_seed(w)} for w in mix_cases],
        "mulberry32": rng_cases,
        "nextBelow": below_cases,
        "epochOrder": order_cases,
        "mask": {"info": info, "rows": 4, "seqLen": 7, "inputIds": ids, "attentionMask": att,
                 "cases": mask_cases},
    }
    path = os.path.join(out_dir, "rng_reference.json")
    with open(path, "w") as f:
        json.dump(doc, f, indent=1)
        f.write("\n")
    print("wrote", path)


if __name__ == "__main__":
    main()
