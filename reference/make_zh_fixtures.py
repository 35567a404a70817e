"""Tiny random Chinese BERT + its LCQMC / PAWS-X test Spearman computed independently (hand-written
PyTorch BertModel, Python port of HF's BertTokenizer, scipy.stats.spearmanr), for
cli/eval_zh_test.ts. The vocabulary is the 400 most frequent characters of the LCQMC and PAWS-X
valid splits plus BERT's special tokens and a few Latin/digit pieces, so the checkpoint stays small.
Run: /usr/bin/python3 reference/make_zh_fixtures.py [DATA_DIR]  (default ../shared/data)."""
import collections
import json
import os
import sys

import numpy as np
import torch
from scipy.stats import spearmanr

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from bert_reference import BertConfig, BertModel, write_safetensors  # noqa: E402
from wordpiece_reference import BertTokenizerReference  # noqa: E402

DATA = sys.argv[1] if len(sys.argv) > 1 else os.path.join(HERE, "..", "..", "shared", "data")
OUT = os.path.join(HERE, "..", "testdata", "zh-tiny")


def read_pairs(path):
    with open(path, encoding="utf-8") as f:
        text = f.read()
    if text.startswith("\ufeff"):
        text = text[1:]
    rows = [line.split("\t") for line in text.split("\n") if line != ""]
    return [r[0] for r in rows], [r[1] for r in rows], [float(r[2]) for r in rows]


def main():
    os.makedirs(OUT, exist_ok=True)
    counts = collections.Counter()
    for task, stem in [("lcqmc", "LCQMC"), ("pawsx", "PAWSX")]:
        s1, s2, _ = read_pairs(os.path.join(DATA, "zh", task, f"{stem}.valid.data"))
        for s in s1 + s2:
            counts.update(ch for ch in s if "\u4e00" <= ch <= "\u9fff")
    chars = [c for c, _ in counts.most_common(400)]
    vocab = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"] + list("0123456789abcdefghijklmnopqrstuvwxyz") + chars
    with open(os.path.join(OUT, "vocab.txt"), "w", encoding="utf-8") as f:
        f.write("\n".join(vocab) + "\n")
    with open(os.path.join(OUT, "tokenizer_config.json"), "w") as f:
        json.dump({"do_lower_case": True}, f)
    cfg = BertConfig(vocab_size=len(vocab), hidden_size=16, num_hidden_layers=2, num_attention_heads=2,
                     intermediate_size=32, max_position_embeddings=160, pad_token_id=0)
    g = torch.Generator().manual_seed(7)
    model = BertModel(cfg, add_pooling_layer=True)
    with torch.no_grad():
        for name, p in model.named_parameters():
            if name.endswith("LayerNorm.weight"):
                p.copy_(1.0 + 0.1 * torch.randn(p.shape, generator=g))
            else:
                p.copy_(0.2 * torch.randn(p.shape, generator=g))
    model.eval()
    write_safetensors(os.path.join(OUT, "model.safetensors"), {k: v.detach() for k, v in model.state_dict().items()})
    with open(os.path.join(OUT, "config.json"), "w") as f:
        json.dump(cfg.to_hf_dict(), f, indent=2)
    tok = BertTokenizerReference({t: i for i, t in enumerate(vocab)})
    expected = {}
    for task, stem, key in [("lcqmc", "LCQMC", "LCQMC"), ("pawsx", "PAWSX", "PAWSX")]:
        s1, s2, gold = read_pairs(os.path.join(DATA, "zh", task, f"{stem}.test.data"))
        for pooler in ["avg", "cls_before_pooler"]:
            def embed(sents):
                out = []
                for i in range(0, len(sents), 128):
                    ids = [tok.encode(s) for s in sents[i:i + 128]]
                    L = max(len(x) for x in ids)
                    inp = torch.tensor([x + [0] * (L - len(x)) for x in ids])
                    mask = torch.tensor([[1] * len(x) + [0] * (L - len(x)) for x in ids])
                    with torch.no_grad():
                        h = model(inp, mask)["last_hidden_state"]
                    if pooler == "avg":
                        v = (h * mask[:, :, None]).sum(1) / mask.sum(1, keepdim=True)
                    else:
                        v = h[:, 0]
                    out.append(v.double().numpy())
                return np.concatenate(out)
            a, b = embed(s1), embed(s2)
            cos = (a * b).sum(1) / np.maximum(np.linalg.norm(a, axis=1) * np.linalg.norm(b, axis=1), 1e-12)
            expected.setdefault(pooler, {})[key] = round(float(spearmanr(gold, cos).correlation) * 100, 2)
    with open(os.path.join(OUT, "expected.json"), "w") as f:
        json.dump({"format": "simcse-zh-fixture", "version": 1, "generator": "reference/make_zh_fixtures.py",
                   "metric": "test Spearman x 100 (cosine vs 0/1 label)", "expected": expected}, f, indent=2)
    print(expected)


if __name__ == "__main__":
    main()
