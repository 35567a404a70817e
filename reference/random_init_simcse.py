"""Independent check for the reproduction's CPU preset: unsupervised SimCSE from a RANDOMLY initialised
BERT (no pretrained weights can be downloaded on the project's machines), in PyTorch.

Question: can SimCSE training raise STS-B dev above the untrained random model's score at all, or is
the untrained score (lexical overlap carried by random embeddings) a ceiling? Our TypeScript runs
(`deno task reproduce` → preset cpu-random-init) fall below it; this script asks the same of PyTorch,
with the hand-written reference BERT (`bert_reference.py`), BERT init N(0, 0.02), torch dropout, AdamW,
linear decay, clipping at 1.0, batch 64 sentences × 2 views × 32 tokens on the wiki1m sample.

Usage (dev only, ~2 min per setting on 2 cores):
  /usr/bin/python3 reference/random_init_simcse.py --data-dir ../shared/data \\
      --vocab data/models/bert-base-uncased-vocab/vocab.txt --pooler cls --lr 1e-4 --mlp --steps 374
Prints the untrained dev Spearman and the dev curve every 50 steps, then one RESULT line.
"""

from __future__ import annotations

import argparse
import os
import sys
import time

import torch
import torch.nn.functional as F
from scipy.stats import spearmanr

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from bert_reference import (BasicWordPieceTokenizer, BertConfig, BertModel, Dropout, MLPLayer,  # noqa: E402
                            contrastive_loss, pad_batch)


def bert_init(m: torch.nn.Module) -> None:
    for mod in m.modules():
        if isinstance(mod, (torch.nn.Linear, torch.nn.Embedding)):
            torch.nn.init.normal_(mod.weight, 0, 0.02)
            if getattr(mod, "bias", None) is not None:
                torch.nn.init.zeros_(mod.bias)
        if isinstance(mod, torch.nn.LayerNorm):
            torch.nn.init.ones_(mod.weight)
            torch.nn.init.zeros_(mod.bias)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--data-dir", required=True)
    ap.add_argument("--vocab", required=True)
    ap.add_argument("--pooler", choices=["cls", "avg"], default="cls")
    ap.add_argument("--mlp", action="store_true", help="MLP head in training (cls)")
    ap.add_argument("--lr", type=float, default=5e-4)
    ap.add_argument("--temp", type=float, default=0.05)
    ap.add_argument("--steps", type=int, default=374)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    torch.manual_seed(args.seed)
    torch.set_num_threads(1)
    vocab = [line.rstrip("\n") for line in open(args.vocab, encoding="utf-8")]
    tok = BasicWordPieceTokenizer(vocab)

    def enc(s: str, max_len: int = 32):
        ids = tok.encode(s)[1]
        return ids[: max_len - 1] + [ids[-1]] if len(ids) > max_len else ids

    wiki = [line.strip() for line in open(f"{args.data_dir}/wiki/wiki1m_for_simcse.head.txt", encoding="utf-8")]
    wiki_ids = [enc(s) for s in wiki if s]
    rows = [line.rstrip("\n").split("\t") for line in
            open(f"{args.data_dir}/senteval/STS/STSBenchmark/sts-dev.csv", encoding="utf-8")]
    dev_a, dev_b = [enc(r[5]) for r in rows], [enc(r[6]) for r in rows]
    gold = [float(r[4]) for r in rows]

    cfg = BertConfig(vocab_size=len(vocab), hidden_size=128, num_hidden_layers=2, num_attention_heads=2,
                     intermediate_size=512, max_position_embeddings=512)
    model = BertModel(cfg, add_pooling_layer=False)
    bert_init(model)
    mlp = MLPLayer(cfg)
    bert_init(mlp)

    def pooled(ids_list, training: bool):
        ids, mask = pad_batch(ids_list)[:2]
        out = model(ids, mask, drop=Dropout("bernoulli" if training else "off"))
        h = out["last_hidden_state"]
        if args.pooler == "cls":
            return h[:, 0]
        m = mask.unsqueeze(-1).float()
        return (h * m).sum(1) / m.sum(1)

    def dev() -> float:
        model.eval()
        with torch.no_grad():
            a = torch.cat([pooled(dev_a[i:i + 256], False) for i in range(0, len(dev_a), 256)])
            b = torch.cat([pooled(dev_b[i:i + 256], False) for i in range(0, len(dev_b), 256)])
        model.train()
        return 100 * spearmanr(F.cosine_similarity(a, b).numpy(), gold).correlation

    untrained = dev()
    print(f"untrained dev {args.pooler} {untrained:.2f}", flush=True)
    params = list(model.parameters()) + (list(mlp.parameters()) if args.mlp else [])
    opt = torch.optim.AdamW(params, lr=args.lr, weight_decay=0.0)
    best, t0 = -100.0, time.time()
    for step in range(args.steps):
        for g in opt.param_groups:
            g["lr"] = args.lr * (1 - step / args.steps)
        batch = [wiki_ids[(step * 64 + i) % len(wiki_ids)] for i in range(64)]
        z = pooled([x for x in batch for _ in range(2)], True)
        if args.mlp:
            z = mlp(z)
        loss = contrastive_loss(z, 2, args.temp)[0]
        opt.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(params, 1.0)
        opt.step()
        if (step + 1) % 50 == 0:
            d = dev()
            best = max(best, d)
            print(f"step {step + 1} loss {loss.item():.3f} dev {d:.2f} ({time.time() - t0:.0f}s)", flush=True)
    print(f"RESULT pooler={args.pooler} mlp={args.mlp} lr={args.lr} temp={args.temp} steps={args.steps} "
          f"untrained={untrained:.2f} best={best:.2f}")


if __name__ == "__main__":
    main()
