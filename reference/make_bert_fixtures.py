"""Write the BERT + SimCSE fixtures under `testdata/bert/` (dev-only; TS tests never import this).

Run from the repo root:  /usr/bin/python3 reference/make_bert_fixtures.py
Deterministic (fixed seeds, deterministic "hash dropout"); re-running rewrites identical files.

Outputs (see reference/README.md for the JSON layouts):
  testdata/bert/tiny-safetensors/            BertModel keys, F32, model.safetensors (+ position_ids I64)
  testdata/bert/tiny-torchbin-pretraining/   BertForPreTraining keys (bert. prefix, LayerNorm.gamma/beta,
                                             cls.* heads), torch.save zip pytorch_model.bin
  testdata/bert/tiny-fp16-torchbin/          BertModel keys stored as float16, pytorch_model.bin
  testdata/bert/forward.json                 eval-mode forward, poolers, cosine matrix
  testdata/bert/train_step.json              unsup SimCSE loss, grads, clip, one HF AdamW step
  testdata/bert/train_step_sup.json          supervised (hard negative, w = 0.5) loss and grads
  testdata/bert/train_step_mlm.json          unsup + 0.1 x MLM auxiliary loss and grads
The script ends with self-checks (finite differences, torch.nn.TransformerEncoderLayer cross-check,
padding invariance, checkpoint round-trips) and prints their max errors.
"""

from __future__ import annotations

import collections
import copy
import json
import os
import sys

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from bert_reference import (  # noqa: E402
    HASH_DOC,
    BasicWordPieceTokenizer,
    BertConfig,
    BertLMPredictionHead,
    BertModel,
    Dropout,
    MLPLayer,
    contrastive_loss,
    cos_sim_matrix,
    hash_keep_mask,
    hf_adamw_step,
    pad_batch,
    pool,
    read_safetensors,
    write_safetensors,
)

FORMAT = "simcse-bert-fixture"
VERSION = 1
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OUT = os.path.join(ROOT, "testdata", "bert")
GENERATOR = "reference/make_bert_fixtures.py"

SEED_WEIGHTS = 1234
SEED_MLP = 42
BODY_STD = 0.2  # not 0.02: with 0.02 the tiny model's attention is uniform (max prob 0.102 vs 0.1)
TEMP = 0.05
HARD_NEGATIVE_WEIGHT = 0.5
MLM_WEIGHT = 0.1
LR = 1e-3
WEIGHT_DECAY = 0.01

SENTENCES = [
    "A man is playing a guitar.",
    "A woman is slicing an onion.",
    "Two dogs play in the snow.",
    "Hello",
    "The cat sat.",
    "  Café owners don't\tlike rain,  zebras & xylophones! ",
]

VOCAB = (
    ["[PAD]", "[unused0]", "[unused1]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
    + [".", ",", "!", "?", "'", "-", ":", ";", "(", ")"]
    + ["a", "an", "the", "man", "woman", "is", "are", "was", "play", "guitar", "slicing", "onion",
       "two", "dog", "in", "on", "snow", "hello", "cat", "sat", "cafe", "owner", "don", "t", "like",
       "rain", "and", "of", "to", "with", "for", "he", "she", "it", "they", "run", "walk", "eat",
       "food", "water", "tree", "house", "car", "red", "blue", "green", "big", "small", "one",
       "three", "people", "child", "ball", "street", "park", "music", "piano", "horse", "bike", "sun"]
    + ["##ing", "##s", "##ed", "##er", "##ly", "##es", "##y"]
)
VOCAB += [f"[unused{i}]" for i in range(2, 2 + 100 - len(VOCAB))]
assert len(VOCAB) == 100 and len(set(VOCAB)) == 100

CFG = BertConfig(vocab_size=len(VOCAB))

UNSUP_SENTENCES = [0, 1, 2, 5]  # batch of 4 -> 8 interleaved rows
SUP_TRIPLES = [(0, 2, 1), (4, 3, 5), (1, 0, 4)]  # (anchor, positive, hard negative) indices


# ----------------------------------------------------------------------------------------------
# JSON helpers


def f32(x: float) -> float:
    """Shortest repr that round-trips the float32 value (parse, then Math.fround, to recover it)."""
    return float(repr(np.float32(x)))


def tj(t: torch.Tensor) -> dict:
    t = t.detach()
    if t.dtype in (torch.int64, torch.int32, torch.bool):
        return {"shape": list(t.shape), "data": [int(v) for v in t.reshape(-1).tolist()]}
    arr = t.to(torch.float32).reshape(-1).numpy()
    return {"shape": list(t.shape), "data": [float(repr(v)) for v in arr]}


def write_json(name: str, obj: dict) -> int:
    path = os.path.join(OUT, name)
    with open(path, "w") as f:
        json.dump(obj, f, separators=(",", ":"))
        f.write("\n")
    return os.path.getsize(path)


def header(kind: str) -> dict:
    return {"format": FORMAT, "version": VERSION, "kind": kind, "generator": GENERATOR,
            "config": CFG.to_hf_dict()}


# ----------------------------------------------------------------------------------------------
# Weights and checkpoints


def make_model() -> tuple[BertModel, dict]:
    """Random BertModel (with pooler) + the BertForPreTraining heads, fixed seed."""
    g = torch.Generator().manual_seed(SEED_WEIGHTS)
    model = BertModel(CFG, add_pooling_layer=True)
    with torch.no_grad():
        for name, p in model.named_parameters():
            if name.endswith("LayerNorm.weight"):
                p.copy_(1.0 + 0.1 * torch.randn(p.shape, generator=g))
            elif name.endswith("bias"):
                p.copy_(0.05 * torch.randn(p.shape, generator=g))
            else:
                p.copy_(BODY_STD * torch.randn(p.shape, generator=g))
        h, v = CFG.hidden_size, CFG.vocab_size
        heads = {
            "cls.predictions.bias": 0.05 * torch.randn(v, generator=g),
            "cls.predictions.transform.dense.weight": BODY_STD * torch.randn(h, h, generator=g),
            "cls.predictions.transform.dense.bias": 0.05 * torch.randn(h, generator=g),
            "cls.predictions.transform.LayerNorm.weight": 1.0 + 0.1 * torch.randn(h, generator=g),
            "cls.predictions.transform.LayerNorm.bias": 0.05 * torch.randn(h, generator=g),
            "cls.seq_relationship.weight": BODY_STD * torch.randn(2, h, generator=g),
            "cls.seq_relationship.bias": 0.05 * torch.randn(2, generator=g),
        }
    return model.eval(), heads


def legacy_name(k: str) -> str:
    return k.replace("LayerNorm.weight", "LayerNorm.gamma").replace("LayerNorm.bias", "LayerNorm.beta")


def write_checkpoints(model: BertModel, heads: dict) -> dict:
    sd = {k: v.detach().clone() for k, v in model.state_dict().items()}
    sizes = {}

    def folder(name: str, architectures: list) -> str:
        d = os.path.join(OUT, name)
        os.makedirs(d, exist_ok=True)
        cfg = CFG.to_hf_dict()
        cfg["architectures"] = architectures
        with open(os.path.join(d, "config.json"), "w") as f:
            json.dump(cfg, f, indent=2, sort_keys=True)
            f.write("\n")
        with open(os.path.join(d, "vocab.txt"), "w") as f:
            f.write("\n".join(VOCAB) + "\n")
        with open(os.path.join(d, "tokenizer_config.json"), "w") as f:
            json.dump({"do_lower_case": True, "model_max_length": CFG.max_position_embeddings,
                       "tokenize_chinese_chars": True, "strip_accents": None}, f, indent=2)
            f.write("\n")
        with open(os.path.join(d, "special_tokens_map.json"), "w") as f:
            json.dump({"unk_token": "[UNK]", "sep_token": "[SEP]", "pad_token": "[PAD]",
                       "cls_token": "[CLS]", "mask_token": "[MASK]"}, f, indent=2)
            f.write("\n")
        return d

    # 1. safetensors, BertModel keys, F32 (+ position_ids I64)
    d = folder("tiny-safetensors", ["BertModel"])
    p = os.path.join(d, "model.safetensors")
    write_safetensors(p, sd, metadata={"format": "pt"})
    sizes[p] = os.path.getsize(p)

    # 2. BertForPreTraining torch.save: bert. prefix, gamma/beta, cls heads; decoder.weight shares
    #    storage with the word embeddings (tied, as in a saved tied model). No position_ids buffer.
    d = folder("tiny-torchbin-pretraining", ["BertForPreTraining"])
    pre = collections.OrderedDict()  # pickled like a real state_dict: OrderedDict + _metadata
    meta = model.state_dict()._metadata
    pre._metadata = collections.OrderedDict(
        [("", {"version": 1})] + [("bert" + ("." + m if m else ""), dict(v)) for m, v in meta.items()]
        + [(m, {"version": 1}) for m in ("cls", "cls.predictions", "cls.predictions.transform",
                                         "cls.predictions.transform.dense", "cls.predictions.transform.LayerNorm",
                                         "cls.predictions.decoder", "cls.seq_relationship")])
    for k, v in sd.items():
        if k == "embeddings.position_ids":
            continue
        pre["bert." + legacy_name(k)] = v
    for k, v in heads.items():
        pre[legacy_name(k)] = v.clone()
    pre["cls.predictions.decoder.weight"] = pre["bert.embeddings.word_embeddings.weight"]
    p = os.path.join(d, "pytorch_model.bin")
    torch.save(pre, p)
    sizes[p] = os.path.getsize(p)

    # 3. float16 torch.save, BertModel keys (position_ids stays int64)
    d = folder("tiny-fp16-torchbin", ["BertModel"])
    half = copy.deepcopy(model).half().state_dict()  # a genuine state_dict (OrderedDict + _metadata)
    p = os.path.join(d, "pytorch_model.bin")
    torch.save(half, p)
    sizes[p] = os.path.getsize(p)
    return sizes


# ----------------------------------------------------------------------------------------------
# Forward fixture


POOLERS = ["cls", "cls_before_pooler", "avg", "avg_top2", "avg_first_last", "avg_first_last_embeddings"]


@torch.no_grad()
def forward_expected(model: BertModel, batch, singles, full: bool) -> dict:
    input_ids, mask, tt = batch
    out = model(input_ids, mask, tt, Dropout("off"))
    res = {}
    res["last_hidden_state"] = tj(out["last_hidden_state"])
    if full:
        res["hidden_states"] = [tj(h) for h in out["hidden_states"]]
    res["pooler_output"] = tj(out["pooler_output"])
    res["pooled"] = {p: tj(pool(p, out, mask)) for p in POOLERS}
    cls = pool("cls_before_pooler", out, mask)
    res["cos_cls_before_pooler"] = tj(cos_sim_matrix(cls, cls))
    single_avg, single_cls = [], []
    for ids in singles:
        x = torch.tensor([ids])
        o = model(x, torch.ones_like(x), torch.zeros_like(x), Dropout("off"))
        single_avg.append(pool("avg", o, torch.ones_like(x))[0])
        single_cls.append(o["last_hidden_state"][0, 0])
    res["single"] = {"avg": tj(torch.stack(single_avg)), "cls_before_pooler": tj(torch.stack(single_cls))}
    return res, out


# ----------------------------------------------------------------------------------------------
# Training fixtures


def make_mlp() -> MLPLayer:
    g = torch.Generator().manual_seed(SEED_MLP)
    mlp = MLPLayer(CFG)
    with torch.no_grad():
        mlp.dense.weight.copy_(CFG.initializer_range * torch.randn(mlp.dense.weight.shape, generator=g))
        mlp.dense.bias.zero_()
    return mlp


def train_modules(model: BertModel, dtype=torch.float32):
    """Fresh copies: BERT without pooler (SimCSE add_pooling_layer=False) + MLP head."""
    enc = BertModel(CFG, add_pooling_layer=False)
    sd = {k: v for k, v in model.state_dict().items() if not k.startswith("pooler.")}
    enc.load_state_dict(sd)
    mlp = make_mlp()
    return enc.to(dtype).train(), mlp.to(dtype)


def named(enc: BertModel, mlp: MLPLayer, lm_head=None) -> dict:
    d = {k: p for k, p in enc.named_parameters()}
    d.update({"mlp." + k: p for k, p in mlp.named_parameters()})
    if lm_head is not None:
        d.update({"lm_head." + k: p for k, p in lm_head.named_parameters()})
    return d


def cl_loss(enc, mlp, batch, num_sent, w=0.0):
    input_ids, mask, tt = batch
    drop = Dropout("hash", CFG.hidden_dropout_prob)
    out = enc(input_ids, mask, tt, drop)
    cls = out["last_hidden_state"][:, 0]  # [rows, H]
    pooled = mlp(cls)  # [rows, H]
    loss, logits = contrastive_loss(pooled, num_sent, TEMP, w)
    return loss, {"out": out, "cls": cls, "pooled": pooled, "logits": logits, "sites": drop.sites}


def mlm_loss(enc, lm_head, mlm_ids, mask, tt, labels):
    drop = Dropout("hash", CFG.hidden_dropout_prob)  # separate forward call: sites restart at 0
    out = enc(mlm_ids, mask, tt, drop)
    scores = lm_head(out["last_hidden_state"])  # [rows, L, V]; decoder untied, as in SimCSE BertForCL
    return torch.nn.functional.cross_entropy(scores.view(-1, CFG.vocab_size), labels.view(-1), ignore_index=-100)


def grads_of(loss, params: dict) -> dict:
    gs = torch.autograd.grad(loss, list(params.values()))
    return {k: g.detach().clone() for k, g in zip(params.keys(), gs)}


def dropout_block(sites) -> dict:
    return {"mode": "hash", "p": CFG.hidden_dropout_prob, "scale": f32(1.0 / 0.9), "doc": HASH_DOC,
            "sites": [{"site": s, "shape": list(sh)} for s, sh in sites]}


def interleave(ids_per_sentence, groups):
    rows = [ids_per_sentence[i] for grp in groups for i in grp]
    return pad_batch(rows)


MLM_MASKING = [  # (row, position, replacement token or None = keep the original id) -- by hand
    (0, 2, "[MASK]"), (0, 7, "[MASK]"), (1, 4, "guitar"), (2, 3, "[MASK]"), (3, 6, None),
    (4, 1, "[MASK]"), (5, 5, "[MASK]"), (6, 2, "cat"), (7, 9, "[MASK]"), (7, 13, None),
]


def make_mlm_inputs(batch):
    input_ids, mask, _ = batch
    mlm_ids = input_ids.clone()
    labels = torch.full_like(input_ids, -100)
    vocab = {t: i for i, t in enumerate(VOCAB)}
    for r, pos, rep in MLM_MASKING:
        assert mask[r, pos] == 1 and input_ids[r, pos] not in (vocab["[CLS]"], vocab["[SEP]"])
        labels[r, pos] = input_ids[r, pos]
        if rep is not None:
            mlm_ids[r, pos] = vocab[rep]
    return mlm_ids, labels


def make_lm_head(model: BertModel, heads: dict) -> BertLMPredictionHead:
    """lm_head initial values = the tiny pretraining checkpoint's cls.predictions.* (whose decoder weight is
    the word-embedding matrix), copied into an UNTIED head as in SimCSE's BertForCL."""
    lm = BertLMPredictionHead(CFG)
    with torch.no_grad():
        lm.transform.dense.weight.copy_(heads["cls.predictions.transform.dense.weight"])
        lm.transform.dense.bias.copy_(heads["cls.predictions.transform.dense.bias"])
        lm.transform.LayerNorm.weight.copy_(heads["cls.predictions.transform.LayerNorm.weight"])
        lm.transform.LayerNorm.bias.copy_(heads["cls.predictions.transform.LayerNorm.bias"])
        lm.bias.copy_(heads["cls.predictions.bias"])
        lm.decoder.weight.copy_(model.embeddings.word_embeddings.weight)
    return lm


AFTER_STEP_BIG = [  # params_after_step: every 1-D tensor (biases, LayerNorm) plus these matrices
    "embeddings.word_embeddings.weight",  # includes rows with zero grad (decay-only update)
    "encoder.layer.0.attention.self.query.weight",
    "mlp.dense.weight",
]


def unsup_step(model, ids_per_sentence, dtype=torch.float32):
    """Unsup loss + grads, then clip_grad_norm_(1.0) and one HF AdamW step (in `dtype`)."""
    enc, mlp = train_modules(model, dtype)
    batch = interleave(ids_per_sentence, [(i, i) for i in UNSUP_SENTENCES])
    params = named(enc, mlp)
    loss, aux = cl_loss(enc, mlp, batch, 2)
    grads = grads_of(loss, params)
    for k, p in params.items():
        p.grad = grads[k].clone()
    total_norm = torch.nn.utils.clip_grad_norm_(list(params.values()), 1.0)
    clipped = {k: p.grad.detach().clone() for k, p in params.items()}
    state: dict = {}
    with torch.no_grad():
        hf_adamw_step({k: p.data for k, p in params.items()}, clipped, state, lr=LR, weight_decay=WEIGHT_DECAY)
    after = {k: p.detach().clone() for k, p in params.items()}
    return batch, loss, aux, grads, total_norm, clipped, after


def unsup_fixture(model, ids_per_sentence):
    batch, loss, aux, grads, total_norm, clipped, after = unsup_step(model, ids_per_sentence)
    keep = [k for k in after if after[k].dim() == 1 or k in AFTER_STEP_BIG]
    # float64 re-run: how far float32 rounding moves the stored after-step values
    after64 = unsup_step(model, ids_per_sentence, torch.float64)[6]
    key_bias = [k for k in after if "attention.self.key.bias" in k]
    diff_other = max((after[k].double() - after64[k]).abs().max().item() for k in after if k not in key_bias)
    diff_key = max((after[k].double() - after64[k]).abs().max().item() for k in key_bias)

    # for the report only: torch.optim.AdamW on the same clipped grads
    enc2, mlp2 = train_modules(model)
    p2 = named(enc2, mlp2)
    groups = [
        {"params": [p for k, p in p2.items() if not any(nd in k for nd in ("bias", "LayerNorm.weight"))],
         "weight_decay": WEIGHT_DECAY},
        {"params": [p for k, p in p2.items() if any(nd in k for nd in ("bias", "LayerNorm.weight"))],
         "weight_decay": 0.0},
    ]
    opt = torch.optim.AdamW(groups, lr=LR, betas=(0.9, 0.999), eps=1e-8)
    for k, p in p2.items():
        p.grad = clipped[k].clone()
    opt.step()
    torch_vs_hf = max((p2[k].detach() - after[k]).abs().max().item() for k in after)

    fx = header("train_step_unsup")
    fx.update({
        "checkpoint": "tiny-safetensors",
        "param_names_note": "BERT parameter names have no 'bert.' prefix; the BertModel pooler is not part of "
                            "the training model (SimCSE add_pooling_layer=False), so no pooler.* grads.",
        "padding_idx_note": "HF BertEmbeddings uses nn.Embedding(padding_idx=pad_token_id=0): the [PAD] row "
                            "of embeddings.word_embeddings.weight never receives a gradient from the "
                            "embedding lookup (its grad row is 0 here).",
        "dropout": dropout_block(aux["sites"]),
        "sentence_indices": UNSUP_SENTENCES,
        "rows_note": "row 2i = view 1 of sentence i, row 2i+1 = view 2 (identical ids); right-padded",
        "input_ids": tj(batch[0]), "attention_mask": tj(batch[1]), "token_type_ids": tj(batch[2]),
        "pooler_type": "cls", "temp": TEMP,
        "mlp_init": f"mlp.dense.weight ~ normal(0, {CFG.initializer_range}) (torch.Generator seed {SEED_MLP}), "
                    "mlp.dense.bias = 0",
        "mlp": {"mlp.dense.weight": tj(make_mlp().dense.weight), "mlp.dense.bias": tj(make_mlp().dense.bias)},
        "cls": tj(aux["cls"]), "pooled": tj(aux["pooled"]), "logits": tj(aux["logits"]),
        "loss": f32(loss.item()),
        "grads_note": "d loss / d param before clipping, for every trainable tensor",
        "grads": {k: tj(v) for k, v in grads.items()},
        "clip": {"max_norm": 1.0, "total_norm_before_clip": f32(total_norm.item()),
                 "coef": f32(min(1.0, 1.0 / (total_norm.item() + 1e-6))),
                 "formula": "total = ||concat(all grads)||_2; coef = min(1, max_norm / (total + 1e-6)); "
                            "g *= coef (torch.nn.utils.clip_grad_norm_)"},
        "optimizer": {
            "type": "transformers 4.2.1 AdamW (correct_bias=True), HF Trainer parameter groups",
            "lr": LR, "betas": [0.9, 0.999], "eps": 1e-8, "weight_decay": WEIGHT_DECAY,
            "no_decay_substrings": ["bias", "LayerNorm.weight"],
            "formula": "t=1; m=(1-b1)g; v=(1-b2)g^2; p -= lr*sqrt(1-b2^t)/(1-b1^t) * m/(sqrt(v)+eps); "
                       "then p -= lr*wd*p (on the updated p; wd=0 for no_decay names)",
            "max_abs_diff_vs_torch_optim_AdamW": torch_vs_hf,
        },
        "params_after_step_note": f"every 1-D tensor plus {AFTER_STEP_BIG}. Adam divides by sqrt(v) + eps, "
                                  "so float32 rounding in small grads (and the pure-noise grads of the attention "
                                  "key biases, whose true gradient is 0) shows up in the updated values; "
                                  "after_step_float32_vs_float64 gives the size: compare with an absolute "
                                  "tolerance around 1e-5.",
        "after_step_float32_vs_float64": {"max_abs_diff_key_biases": diff_key,
                                          "max_abs_diff_other_params": diff_other},
        "params_after_step": {k: tj(after[k]) for k in keep},
    })
    return fx, batch


def sup_fixture(model, ids_per_sentence):
    enc, mlp = train_modules(model)
    batch = interleave(ids_per_sentence, SUP_TRIPLES)
    params = named(enc, mlp)
    loss, aux = cl_loss(enc, mlp, batch, 3, HARD_NEGATIVE_WEIGHT)
    grads = grads_of(loss, params)
    fx = header("train_step_sup")
    fx.update({
        "checkpoint": "tiny-safetensors",
        "dropout": dropout_block(aux["sites"]),
        "triples": [list(t) for t in SUP_TRIPLES],
        "rows_note": "row 3i = anchor, 3i+1 = positive, 3i+2 = hard negative of example i; right-padded",
        "input_ids": tj(batch[0]), "attention_mask": tj(batch[1]), "token_type_ids": tj(batch[2]),
        "pooler_type": "cls", "temp": TEMP, "hard_negative_weight": HARD_NEGATIVE_WEIGHT,
        "logits_note": "logits [N, 2N] = [cos(z1,z2) | cos(z1,z3)] / temp; hard_negative_weight added to "
                       "logit (i, N+i); loss = mean CE with labels arange(N)",
        "mlp": {"mlp.dense.weight": tj(make_mlp().dense.weight), "mlp.dense.bias": tj(make_mlp().dense.bias)},
        "cls": tj(aux["cls"]), "pooled": tj(aux["pooled"]), "logits": tj(aux["logits"]),
        "loss": f32(loss.item()),
        "grads": {k: tj(v) for k, v in grads.items()},
    })
    return fx


def mlm_fixture(model, heads, ids_per_sentence):
    enc, mlp = train_modules(model)
    lm_head = make_lm_head(model, heads)
    batch = interleave(ids_per_sentence, [(i, i) for i in UNSUP_SENTENCES])
    mlm_ids, labels = make_mlm_inputs(batch)
    params = named(enc, mlp, lm_head)
    closs, aux = cl_loss(enc, mlp, batch, 2)
    mloss = mlm_loss(enc, lm_head, mlm_ids, batch[1], batch[2], labels)
    total = closs + MLM_WEIGHT * mloss
    grads = grads_of(total, params)
    # tied variant (decoder = word embeddings): same loss; word-embedding grad = untied sum
    enc_t, mlp_t = train_modules(model)
    lm_t = make_lm_head(model, heads)
    closs_t, _ = cl_loss(enc_t, mlp_t, batch, 2)
    d = Dropout("hash", CFG.hidden_dropout_prob)
    out_t = enc_t(mlm_ids, batch[1], batch[2], d)
    we = enc_t.embeddings.word_embeddings.weight
    scores_t = lm_t(out_t["last_hidden_state"], tied_weight=we)
    mloss_t = torch.nn.functional.cross_entropy(scores_t.view(-1, CFG.vocab_size), labels.view(-1))
    g_tied = torch.autograd.grad(closs_t + MLM_WEIGHT * mloss_t, [we])[0]
    tied_check = {
        "loss_abs_diff": abs((closs_t + MLM_WEIGHT * mloss_t).item() - total.item()),
        "word_embeddings_grad_max_abs_diff_vs_sum": (
            g_tied - grads["embeddings.word_embeddings.weight"] - grads["lm_head.decoder.weight"]).abs().max().item(),
    }
    fx = header("train_step_mlm")
    fx.update({
        "checkpoint": "tiny-safetensors",
        "dropout": dropout_block(aux["sites"]),
        "dropout_mlm_note": "the MLM forward is a second encoder call on mlm_input_ids with the same "
                            "attention_mask/token_type_ids; its hash-dropout site indices restart at 0",
        "sentence_indices": UNSUP_SENTENCES,
        "input_ids": tj(batch[0]), "attention_mask": tj(batch[1]), "token_type_ids": tj(batch[2]),
        "mlm_input_ids": tj(mlm_ids), "mlm_labels": tj(labels),
        "pooler_type": "cls", "temp": TEMP, "mlm_weight": MLM_WEIGHT,
        "lm_head_note": "BertLMPredictionHead: logits = LayerNorm_eps1e-12(gelu(h W_t^T + b_t)) @ "
                        "lm_head.decoder.weight^T + lm_head.bias; MLM loss = mean CE over labels != -100. "
                        "In official SimCSE (BertForCL) the decoder is NOT tied to the word embeddings: the "
                        "class does not override get_output_embeddings(), so HF tie_weights() ties nothing; "
                        "and BERT checkpoints hold cls.predictions.*, not lm_head.*, so there the head starts "
                        "from random init_weights. This fixture instead initialises the (untied) head from the "
                        "tiny-torchbin-pretraining cls.predictions.* values, whose decoder weight equals "
                        "embeddings.word_embeddings.weight by value. Hence a TIED implementation gives the same "
                        "losses and the same grads for every tensor except the word embeddings, whose tied "
                        "grad = grads['embeddings.word_embeddings.weight'] + grads['lm_head.decoder.weight'] "
                        "(see tied_variant_check). Names: lm_head.transform.dense.{weight,bias}, "
                        "lm_head.transform.LayerNorm.{weight,bias}, lm_head.decoder.weight [V, H], lm_head.bias [V] "
                        "(HF state_dict also lists it as lm_head.decoder.bias); pretraining-checkpoint names: "
                        "cls.predictions.transform.*, cls.predictions.decoder.weight, cls.predictions.bias.",
        "lm_head_tied_to_word_embeddings": False,
        "tied_variant_check": tied_check,
        "lm_head": {"lm_head." + k: tj(p) for k, p in lm_head.named_parameters()},
        "mlp": {"mlp.dense.weight": tj(make_mlp().dense.weight), "mlp.dense.bias": tj(make_mlp().dense.bias)},
        "contrastive_loss": f32(closs.item()), "mlm_loss": f32(mloss.item()), "loss": f32(total.item()),
        "grads": {k: tj(v) for k, v in grads.items()},
    })
    return fx


# ----------------------------------------------------------------------------------------------
# Self-checks


def check_finite_differences(model, heads, ids_per_sentence) -> dict:
    """float64 central differences vs float64 autograd, and float32 autograd vs float64 autograd."""
    res = {}
    for kind in ("unsup", "sup", "mlm"):
        enc, mlp = train_modules(model, torch.float64)
        lm = make_lm_head(model, heads).double() if kind == "mlm" else None
        groups = SUP_TRIPLES if kind == "sup" else [(i, i) for i in UNSUP_SENTENCES]
        batch = interleave(ids_per_sentence, groups)
        num_sent = 3 if kind == "sup" else 2
        w = HARD_NEGATIVE_WEIGHT if kind == "sup" else 0.0
        mlm_in = make_mlm_inputs(batch) if kind == "mlm" else None

        def f():
            loss, _ = cl_loss(enc, mlp, batch, num_sent, w)
            if lm is not None:
                loss = loss + MLM_WEIGHT * mlm_loss(enc, lm, mlm_in[0], batch[1], batch[2], mlm_in[1])
            return loss

        params = named(enc, mlp, lm)
        g64 = grads_of(f(), params)
        worst = 0.0
        probe = ["embeddings.word_embeddings.weight", "embeddings.position_embeddings.weight",
                 "embeddings.LayerNorm.weight", "encoder.layer.0.attention.self.query.weight",
                 "encoder.layer.1.attention.self.key.bias", "encoder.layer.2.output.dense.weight",
                 "encoder.layer.2.output.LayerNorm.bias", "mlp.dense.weight", "mlp.dense.bias"]
        if lm is not None:
            probe += ["lm_head.bias", "lm_head.transform.dense.weight", "lm_head.decoder.weight"]
        gen = torch.Generator().manual_seed(7)
        for name in probe:
            p = params[name]
            flat_g = g64[name].reshape(-1)
            idx = [int(torch.argmax(flat_g.abs()))] + torch.randint(0, p.numel(), (2,), generator=gen).tolist()
            for i in idx:
                h = 1e-5
                with torch.no_grad():
                    p.view(-1)[i] += h
                    lp = f().item()
                    p.view(-1)[i] -= 2 * h
                    lm_ = f().item()
                    p.view(-1)[i] += h
                fd = (lp - lm_) / (2 * h)
                worst = max(worst, abs(fd - flat_g[i].item()) / max(1e-2, abs(flat_g[i].item())))
        # float32 vs float64 autograd
        enc32, mlp32 = train_modules(model)
        lm32 = make_lm_head(model, heads) if kind == "mlm" else None
        loss32, _ = cl_loss(enc32, mlp32, batch, num_sent, w)
        if lm32 is not None:
            loss32 = loss32 + MLM_WEIGHT * mlm_loss(enc32, lm32, mlm_in[0], batch[1], batch[2], mlm_in[1])
        g32 = grads_of(loss32, named(enc32, mlp32, lm32))
        zero = sorted(k for k in g64 if g64[k].abs().max().item() < 1e-12)
        rel = max(((g32[k].double() - g64[k]).abs().max() / g64[k].abs().max()).item()
                  for k in g64 if k not in zero)
        absd = max((g32[k].double() - g64[k]).abs().max().item() for k in g64)
        res[kind] = {
            "finite_difference_float64_max_rel_err": worst,
            "grad_float32_vs_float64_max_abs_diff": absd,
            "grad_float32_vs_float64_max_diff_relative_to_tensor_max": rel,
            "mathematically_zero_grads": zero,
        }
    return res


@torch.no_grad()
def check_against_torch_transformer(model, batch) -> float:
    """Encoder layers vs torch.nn.TransformerEncoderLayer (post-LN, exact gelu) with copied weights."""
    input_ids, mask, tt = batch
    out = model(input_ids, mask, tt)
    x = out["hidden_states"][0]
    worst = 0.0
    for li, layer in enumerate(model.encoder.layer):
        ref = torch.nn.TransformerEncoderLayer(CFG.hidden_size, CFG.num_attention_heads, CFG.intermediate_size,
                                               dropout=0.0, activation="gelu", layer_norm_eps=CFG.layer_norm_eps,
                                               batch_first=True, norm_first=False).eval()
        a = layer.attention
        ref.self_attn.in_proj_weight.copy_(torch.cat([a.self.query.weight, a.self.key.weight, a.self.value.weight]))
        ref.self_attn.in_proj_bias.copy_(torch.cat([a.self.query.bias, a.self.key.bias, a.self.value.bias]))
        ref.self_attn.out_proj.weight.copy_(a.output.dense.weight)
        ref.self_attn.out_proj.bias.copy_(a.output.dense.bias)
        ref.norm1.load_state_dict(a.output.LayerNorm.state_dict())
        ref.linear1.load_state_dict(layer.intermediate.dense.state_dict())
        ref.linear2.load_state_dict(layer.output.dense.state_dict())
        ref.norm2.load_state_dict(layer.output.LayerNorm.state_dict())
        y = ref(x, src_key_padding_mask=(mask == 0))
        worst = max(worst, (y - out["hidden_states"][li + 1]).abs().max().item())
        x = out["hidden_states"][li + 1]
    return worst


def check_checkpoints(model, heads) -> dict:
    sd = model.state_dict()
    res = {}
    st = read_safetensors(os.path.join(OUT, "tiny-safetensors", "model.safetensors"))
    res["safetensors_roundtrip_equal"] = set(st) == set(sd) and all(torch.equal(st[k], sd[k]) for k in sd)
    pre = torch.load(os.path.join(OUT, "tiny-torchbin-pretraining", "pytorch_model.bin"))
    ok = all(torch.equal(pre["bert." + legacy_name(k)], v) for k, v in sd.items() if k != "embeddings.position_ids")
    ok = ok and torch.equal(pre["cls.predictions.decoder.weight"], sd["embeddings.word_embeddings.weight"])
    ok = ok and all(torch.equal(pre[legacy_name(k)], v) for k, v in heads.items())
    res["pretraining_roundtrip_equal"] = ok
    half = torch.load(os.path.join(OUT, "tiny-fp16-torchbin", "pytorch_model.bin"))
    res["fp16_dtypes"] = sorted({str(v.dtype) for v in half.values()})
    return res


# ----------------------------------------------------------------------------------------------


def main() -> None:
    torch.set_num_threads(1)
    torch.use_deterministic_algorithms(True)
    os.makedirs(OUT, exist_ok=True)
    tok = BasicWordPieceTokenizer(VOCAB)
    encoded = [tok.encode(s) for s in SENTENCES]
    tokens = [t for t, _ in encoded]
    ids = [i for _, i in encoded]

    model, heads = make_model()
    sizes = write_checkpoints(model, heads)

    # fp16-rounded copy (weights rounded to float16, upcast to float32)
    model16 = copy.deepcopy(model)
    with torch.no_grad():
        for p in model16.parameters():
            p.copy_(p.half().float())

    batch = pad_batch(ids)
    exp32, out32 = forward_expected(model, batch, ids, full=True)
    exp16, _ = forward_expected(model16, batch, ids, full=False)
    fx = header("forward")
    fx.update({
        "checkpoints": {"tiny-safetensors": "fp32", "tiny-torchbin-pretraining": "fp32",
                        "tiny-fp16-torchbin": "fp16"},
        "weights_init": f"torch.Generator seed {SEED_WEIGHTS}: weight matrices and embeddings ~ normal(0, "
                        f"{BODY_STD}), biases ~ normal(0, 0.05), LayerNorm weights ~ 1 + normal(0, 0.1)",
        "vocab_file": "tiny-safetensors/vocab.txt",
        "tokenizer": "BERT uncased basic tokenizer (clean, lowercase, strip accents, split punctuation and "
                     "whitespace) + greedy longest-match WordPiece, then [CLS] ... [SEP]",
        "sentences": SENTENCES, "tokens": tokens, "ids": ids,
        "batch_note": "right padding with [PAD]=0 to the longest sentence; token_type_ids all 0",
        "input_ids": tj(batch[0]), "attention_mask": tj(batch[1]), "token_type_ids": tj(batch[2]),
        "poolers_note": "SimCSE evaluation.py: cls = pooler_output (dense + tanh on [CLS]); cls_before_pooler = "
                        "last_hidden[:, 0]; avg = masked mean of last layer; avg_top2 = masked mean of "
                        "(hs[-1] + hs[-2]) / 2; avg_first_last = masked mean of (hs[1] + hs[-1]) / 2 (current "
                        "official code); avg_first_last_embeddings = (hs[0] + hs[-1]) / 2 (paper-era variant). "
                        "hs[0] = embedding output. cos_cls_before_pooler = torch cosine (eps 1e-8) matrix [B, B]. "
                        "single.* = each sentence encoded alone without padding (rows in sentence order).",
        "hidden_states_note": "expected.fp32.hidden_states has num_hidden_layers + 1 entries: [0] = embedding "
                              "output (after LayerNorm), [i] = output of layer i; [-1] == last_hidden_state. "
                              "expected.fp16 = the same model with every weight rounded to float16 and computed "
                              "in float32 (tiny-fp16-torchbin); it omits hidden_states.",
        "expected": {"fp32": exp32, "fp16": exp16},
    })
    sizes["forward.json"] = write_json("forward.json", fx)

    unsup, unsup_batch = unsup_fixture(model, ids)
    sup = sup_fixture(model, ids)
    mlm = mlm_fixture(model, heads, ids)
    checks = check_finite_differences(model, heads, ids)
    note = ("float64 re-run of this fixture: central finite differences (h=1e-5) on probe entries vs "
            "autograd, and float32 (stored) vs float64 autograd grads. Parameters listed in "
            "mathematically_zero_grads (attention key biases: softmax is invariant to a per-row constant) "
            "have true gradient 0; their stored float32 grads are rounding noise, compare them with an "
            "absolute tolerance.")
    for name, fxd, kind in (("train_step.json", unsup, "unsup"), ("train_step_sup.json", sup, "sup"),
                            ("train_step_mlm.json", mlm, "mlm")):
        fxd["reference_checks"] = {"note": note, **checks[kind]}
        sizes[name] = write_json(name, fxd)

    # ---- self-checks
    print("tokens:")
    for s, t in zip(SENTENCES, tokens):
        print(f"  {s!r} -> {t}")
    hs_eq = torch.equal(out32["hidden_states"][-1], out32["last_hidden_state"])
    single = torch.tensor(exp32["single"]["avg"]["data"]).view(len(ids), -1)
    padded = torch.tensor(exp32["pooled"]["avg"]["data"]).view(len(ids), -1)
    single_cls = torch.tensor(exp32["single"]["cls_before_pooler"]["data"]).view(len(ids), -1)
    padded_cls = torch.tensor(exp32["pooled"]["cls_before_pooler"]["data"]).view(len(ids), -1)
    print("hidden_states[-1] == last_hidden_state:", hs_eq)
    print("padding invariance max|avg single - avg padded|:", (single - padded).abs().max().item(),
          " cls:", (single_cls - padded_cls).abs().max().item())
    print("fp16 vs fp32 last_hidden max diff:",
          max(abs(a - b) for a, b in zip(exp16["last_hidden_state"]["data"], exp32["last_hidden_state"]["data"])))
    print("vs torch.nn.TransformerEncoderLayer max diff:", check_against_torch_transformer(model, batch))
    keep = hash_keep_mask((8, 4, 15, 15), 1).float().mean().item()
    print("hash dropout keep rate (site 1, [8,4,15,15]):", keep)
    print("unsup loss", unsup["loss"], "grad norm", unsup["clip"]["total_norm_before_clip"],
          "HF vs torch AdamW max diff", unsup["optimizer"]["max_abs_diff_vs_torch_optim_AdamW"])
    print("checkpoints:", check_checkpoints(model, heads))
    print("finite differences / float64:", json.dumps(checks, indent=1))
    print("unsup rows:", unsup_batch[0].shape)
    for k, v in sizes.items():
        print(f"size {os.path.relpath(k, ROOT) if os.path.isabs(k) else k}: {v / 1024:.1f} KiB")


if __name__ == "__main__":
    main()
