"""Independent PyTorch reference of BERT + SimCSE (Hugging Face transformers 4.2.1 semantics).

Dev-only: `reference/make_bert_fixtures.py` imports this module to write the fixtures under
`testdata/bert/`. Nothing in the TypeScript toolkit imports it. There is no `transformers` package on
this machine, so every layer is written out here by hand, following docs/SIMCSE.md §i (encoder),
§a.3 (poolers, MLP head), §a.4 (similarity and loss) and §j (one training step).

Contents
- `BertConfig`: the HF `BertConfig` fields that matter.
- `Dropout`: eval (off), torch Bernoulli, or the deterministic "hash dropout" shared with the TS tests.
- `BertModel`: embeddings -> post-LN encoder layers -> optional pooler (dense + tanh on [CLS]).
  Sub-module names equal HF's, so `state_dict()` keys are HF's `BertModel` keys.
- `MLPLayer` (SimCSE `mlp.dense`), `BertLMPredictionHead` (SimCSE `lm_head`; its decoder is NOT tied
  to the word embeddings in SimCSE's `BertForCL`, see the class docstring).
- `pool()`: SimCSE evaluation.py poolers; `cos_sim_matrix()` and the contrastive losses.
- `BasicWordPieceTokenizer`: a minimal BERT basic tokenizer + greedy longest-match WordPiece.
- `hf_adamw_step()`: one step of transformers 4.2.1 `AdamW` (not torch.optim.AdamW; see its docstring).
- `write_safetensors()` / `read_safetensors()`: a hand-written safetensors writer and checker.
"""

from __future__ import annotations

import json
import math
import struct
import unicodedata
from dataclasses import dataclass, field
from typing import Dict, List, Optional, Sequence, Tuple

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn


# ----------------------------------------------------------------------------------------------
# Config


@dataclass
class BertConfig:
    """The HF `BertConfig` fields this reference uses (defaults = tiny fixture model)."""

    vocab_size: int = 128
    hidden_size: int = 32
    num_hidden_layers: int = 3
    num_attention_heads: int = 4
    intermediate_size: int = 64
    hidden_act: str = "gelu"  # exact erf GELU
    hidden_dropout_prob: float = 0.1
    attention_probs_dropout_prob: float = 0.1
    max_position_embeddings: int = 64
    type_vocab_size: int = 2
    initializer_range: float = 0.02
    layer_norm_eps: float = 1e-12
    pad_token_id: int = 0
    architectures: List[str] = field(default_factory=lambda: ["BertModel"])

    def to_hf_dict(self) -> dict:
        """`config.json` content as transformers 4.2.1 writes it for a BERT checkpoint."""
        return {
            "architectures": list(self.architectures),
            "attention_probs_dropout_prob": self.attention_probs_dropout_prob,
            "gradient_checkpointing": False,
            "hidden_act": self.hidden_act,
            "hidden_dropout_prob": self.hidden_dropout_prob,
            "hidden_size": self.hidden_size,
            "initializer_range": self.initializer_range,
            "intermediate_size": self.intermediate_size,
            "layer_norm_eps": self.layer_norm_eps,
            "max_position_embeddings": self.max_position_embeddings,
            "model_type": "bert",
            "num_attention_heads": self.num_attention_heads,
            "num_hidden_layers": self.num_hidden_layers,
            "pad_token_id": self.pad_token_id,
            "position_embedding_type": "absolute",
            "transformers_version": "4.2.1",
            "type_vocab_size": self.type_vocab_size,
            "use_cache": True,
            "vocab_size": self.vocab_size,
        }


# ----------------------------------------------------------------------------------------------
# Dropout

HASH_MULTIPLIER = 2654435761
HASH_SITE_MULTIPLIER = 40503
HASH_OFFSET = 12345
HASH_DOC = (
    "Deterministic 'hash dropout' used for the train-mode fixtures instead of random Bernoulli masks. "
    "For a dropout application with site index k and rate p, the element with row-major flat index i "
    "(over the full tensor at that site) is kept iff "
    "((i * 2654435761 + k * 40503 + 12345) mod 2**32) mod 10 != 0; kept values are multiplied by "
    "float32(1 / (1 - p)) = 1.1111112 for p = 0.1, dropped ones become 0. Site indices restart at 0 for "
    "every encoder forward call, in forward order: embeddings output k = 0; for layer l (0-based): "
    "attention probabilities [B, heads, L, L] k = 1 + 3l, attention output dense [B, L, H] k = 2 + 3l, "
    "FFN output dense [B, L, H] k = 3 + 3l. Embeddings dropout runs over [B, L, H]."
)


def hash_keep_mask(shape: Sequence[int], site: int) -> torch.Tensor:
    """Boolean keep-mask of the hash dropout for one site (see `HASH_DOC`)."""
    n = int(np.prod(shape))
    i = torch.arange(n, dtype=torch.int64)
    h = (i * HASH_MULTIPLIER + site * HASH_SITE_MULTIPLIER + HASH_OFFSET) % (2**32)
    return (h % 10 != 0).reshape(tuple(shape))


class Dropout:
    """Dropout policy for one forward call.

    mode: "off" (eval), "hash" (deterministic, see `HASH_DOC`), "bernoulli" (torch random).
    """

    def __init__(self, mode: str = "off", p: float = 0.1):
        assert mode in ("off", "hash", "bernoulli")
        assert mode != "hash" or p == 0.1, "the hash mask drops ~10%: defined for p = 0.1 only"
        self.mode = mode
        self.p = p
        self.sites: List[Tuple[int, Tuple[int, ...]]] = []  # (site, shape) log, for checks

    def __call__(self, x: torch.Tensor, site: int) -> torch.Tensor:
        self.sites.append((site, tuple(x.shape)))
        if self.mode == "off" or self.p == 0.0:
            return x
        if self.mode == "bernoulli":
            return F.dropout(x, self.p, training=True)
        keep = hash_keep_mask(x.shape, site).to(x.dtype)
        scale = torch.tensor(1.0 / (1.0 - self.p), dtype=torch.float32).to(x.dtype)
        return x * keep * scale


# ----------------------------------------------------------------------------------------------
# Model (module names = HF names)


def gelu(x: torch.Tensor) -> torch.Tensor:
    """Exact GELU: x * 0.5 * (1 + erf(x / sqrt(2))) (HF `hidden_act="gelu"`)."""
    return x * 0.5 * (1.0 + torch.erf(x / math.sqrt(2.0)))


class BertEmbeddings(nn.Module):
    def __init__(self, cfg: BertConfig):
        super().__init__()
        self.word_embeddings = nn.Embedding(cfg.vocab_size, cfg.hidden_size, padding_idx=cfg.pad_token_id)
        self.position_embeddings = nn.Embedding(cfg.max_position_embeddings, cfg.hidden_size)
        self.token_type_embeddings = nn.Embedding(cfg.type_vocab_size, cfg.hidden_size)
        self.LayerNorm = nn.LayerNorm(cfg.hidden_size, eps=cfg.layer_norm_eps)
        self.register_buffer("position_ids", torch.arange(cfg.max_position_embeddings).expand((1, -1)))

    def forward(self, input_ids, token_type_ids, drop: Dropout):
        seq_len = input_ids.shape[1]
        position_ids = self.position_ids[:, :seq_len]  # [1, L] = 0..L-1
        x = self.word_embeddings(input_ids) + self.token_type_embeddings(token_type_ids)  # [B, L, H]
        x = x + self.position_embeddings(position_ids)  # HF 4.2.1 adds positions last
        x = self.LayerNorm(x)
        return drop(x, 0)


class BertSelfAttention(nn.Module):
    def __init__(self, cfg: BertConfig):
        super().__init__()
        self.num_heads = cfg.num_attention_heads
        self.head_dim = cfg.hidden_size // cfg.num_attention_heads
        self.query = nn.Linear(cfg.hidden_size, cfg.hidden_size)
        self.key = nn.Linear(cfg.hidden_size, cfg.hidden_size)
        self.value = nn.Linear(cfg.hidden_size, cfg.hidden_size)

    def _split(self, x):  # [B, L, H] -> [B, nh, L, d]
        b, l, _ = x.shape
        return x.view(b, l, self.num_heads, self.head_dim).permute(0, 2, 1, 3)

    def forward(self, x, ext_mask, drop: Dropout, site: int):
        q = self._split(self.query(x))  # [B, nh, L, d]
        k = self._split(self.key(x))
        v = self._split(self.value(x))
        scores = torch.matmul(q, k.transpose(-1, -2)) / math.sqrt(self.head_dim)  # [B, nh, L, L]
        scores = scores + ext_mask  # [B, 1, 1, L] additive (1 - m) * -10000 over keys
        probs = torch.softmax(scores, dim=-1)
        probs = drop(probs, site)
        ctx = torch.matmul(probs, v)  # [B, nh, L, d]
        b, _, l, _ = ctx.shape
        return ctx.permute(0, 2, 1, 3).reshape(b, l, self.num_heads * self.head_dim)  # [B, L, H]


class BertSelfOutput(nn.Module):
    def __init__(self, cfg: BertConfig):
        super().__init__()
        self.dense = nn.Linear(cfg.hidden_size, cfg.hidden_size)
        self.LayerNorm = nn.LayerNorm(cfg.hidden_size, eps=cfg.layer_norm_eps)

    def forward(self, x, residual, drop: Dropout, site: int):
        return self.LayerNorm(drop(self.dense(x), site) + residual)


class BertAttention(nn.Module):
    def __init__(self, cfg: BertConfig):
        super().__init__()
        self.self = BertSelfAttention(cfg)
        self.output = BertSelfOutput(cfg)


class BertIntermediate(nn.Module):
    def __init__(self, cfg: BertConfig):
        super().__init__()
        self.dense = nn.Linear(cfg.hidden_size, cfg.intermediate_size)


class BertOutput(nn.Module):
    def __init__(self, cfg: BertConfig):
        super().__init__()
        self.dense = nn.Linear(cfg.intermediate_size, cfg.hidden_size)
        self.LayerNorm = nn.LayerNorm(cfg.hidden_size, eps=cfg.layer_norm_eps)


class BertLayer(nn.Module):
    def __init__(self, cfg: BertConfig):
        super().__init__()
        self.attention = BertAttention(cfg)
        self.intermediate = BertIntermediate(cfg)
        self.output = BertOutput(cfg)

    def forward(self, x, ext_mask, drop: Dropout, layer_index: int):
        base = 1 + 3 * layer_index
        ctx = self.attention.self(x, ext_mask, drop, base)  # [B, L, H]
        attn_out = self.attention.output(ctx, x, drop, base + 1)  # [B, L, H]
        inter = gelu(self.intermediate.dense(attn_out))  # [B, L, I]
        out = drop(self.output.dense(inter), base + 2)  # [B, L, H]
        return self.output.LayerNorm(out + attn_out)


class BertEncoder(nn.Module):
    def __init__(self, cfg: BertConfig):
        super().__init__()
        self.layer = nn.ModuleList([BertLayer(cfg) for _ in range(cfg.num_hidden_layers)])


class BertPooler(nn.Module):
    def __init__(self, cfg: BertConfig):
        super().__init__()
        self.dense = nn.Linear(cfg.hidden_size, cfg.hidden_size)

    def forward(self, last_hidden):
        return torch.tanh(self.dense(last_hidden[:, 0]))  # [B, H]


class BertModel(nn.Module):
    """HF 4.2.1 `BertModel`. `forward` returns last_hidden_state, hidden_states (tuple of
    num_layers + 1 tensors, [0] = embedding output) and pooler_output (None without pooler)."""

    def __init__(self, cfg: BertConfig, add_pooling_layer: bool = True):
        super().__init__()
        self.config = cfg
        self.embeddings = BertEmbeddings(cfg)
        self.encoder = BertEncoder(cfg)
        self.pooler = BertPooler(cfg) if add_pooling_layer else None

    def forward(self, input_ids, attention_mask=None, token_type_ids=None, drop: Optional[Dropout] = None):
        drop = drop if drop is not None else Dropout("off")
        if attention_mask is None:
            attention_mask = torch.ones_like(input_ids)
        if token_type_ids is None:
            token_type_ids = torch.zeros_like(input_ids)
        dtype = self.embeddings.word_embeddings.weight.dtype
        ext_mask = (1.0 - attention_mask[:, None, None, :].to(dtype)) * -10000.0  # [B, 1, 1, L]
        x = self.embeddings(input_ids, token_type_ids, drop)
        hidden_states = [x]
        for li, layer in enumerate(self.encoder.layer):
            x = layer(x, ext_mask, drop, li)
            hidden_states.append(x)
        pooled = self.pooler(x) if self.pooler is not None else None
        return {"last_hidden_state": x, "hidden_states": tuple(hidden_states), "pooler_output": pooled}


class MLPLayer(nn.Module):
    """SimCSE `MLPLayer` (`mlp.dense`): Linear(H, H) + tanh on the [CLS] vector."""

    def __init__(self, cfg: BertConfig):
        super().__init__()
        self.dense = nn.Linear(cfg.hidden_size, cfg.hidden_size)

    def forward(self, x):
        return torch.tanh(self.dense(x))


class BertPredictionHeadTransform(nn.Module):
    def __init__(self, cfg: BertConfig):
        super().__init__()
        self.dense = nn.Linear(cfg.hidden_size, cfg.hidden_size)
        self.LayerNorm = nn.LayerNorm(cfg.hidden_size, eps=cfg.layer_norm_eps)

    def forward(self, x):
        return self.LayerNorm(gelu(self.dense(x)))


class BertLMPredictionHead(nn.Module):
    """HF `BertLMPredictionHead`, used by SimCSE as `lm_head` (`--do_mlm`):
    logits = decoder(transform(h)) + bias, transform = dense -> gelu -> LayerNorm.

    Parameters: `transform.dense.{weight,bias}`, `transform.LayerNorm.{weight,bias}`,
    `decoder.weight` [vocab, H] and `bias` [vocab] (HF also registers it as `decoder.bias`).
    In SimCSE's `BertForCL` the decoder is NOT tied to the word embeddings: the class does not
    override `get_output_embeddings()`, so `PreTrainedModel.tie_weights()` ties nothing, and the
    `lm_head.*` keys are absent from BERT checkpoints (they hold `cls.predictions.*`), so the head
    starts from `init_weights` (random). Pass `tied_weight` to emulate a tied head instead."""

    def __init__(self, cfg: BertConfig):
        super().__init__()
        self.transform = BertPredictionHeadTransform(cfg)
        self.decoder = nn.Linear(cfg.hidden_size, cfg.vocab_size, bias=False)
        self.bias = nn.Parameter(torch.zeros(cfg.vocab_size))

    def forward(self, hidden, tied_weight: Optional[torch.Tensor] = None):
        w = self.decoder.weight if tied_weight is None else tied_weight
        return F.linear(self.transform(hidden), w, self.bias)  # [B, L, V]


# ----------------------------------------------------------------------------------------------
# Poolers, similarity, losses


def masked_mean(h: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    m = mask.unsqueeze(-1).to(h.dtype)
    return (h * m).sum(1) / mask.sum(-1).unsqueeze(-1).to(h.dtype)


def pool(pooler: str, out: dict, attention_mask: torch.Tensor) -> torch.Tensor:
    """SimCSE evaluation.py poolers (current official code: avg_first_last uses hidden_states[1])."""
    hs = out["hidden_states"]
    last = out["last_hidden_state"]
    if pooler == "cls":
        return out["pooler_output"]
    if pooler == "cls_before_pooler":
        return last[:, 0]
    if pooler == "avg":
        return masked_mean(last, attention_mask)
    if pooler == "avg_top2":
        return masked_mean((hs[-1] + hs[-2]) / 2.0, attention_mask)
    if pooler == "avg_first_last":
        return masked_mean((hs[1] + hs[-1]) / 2.0, attention_mask)
    if pooler == "avg_first_last_embeddings":  # paper-era variant (before commit 206d7ae)
        return masked_mean((hs[0] + hs[-1]) / 2.0, attention_mask)
    raise ValueError(pooler)


def cos_sim_matrix(a: torch.Tensor, b: torch.Tensor, eps: float = 1e-8) -> torch.Tensor:
    """torch CosineSimilarity(dim=-1) broadcast as (N,1,H) x (1,M,H) -> (N, M)."""
    return F.cosine_similarity(a.unsqueeze(1), b.unsqueeze(0), dim=-1, eps=eps)


def contrastive_loss(pooled: torch.Tensor, num_sent: int, temp: float, hard_negative_weight: float = 0.0):
    """SimCSE `cl_forward` loss from pooled rows interleaved per example ((N*num_sent, H)).

    Returns (loss, logits). logits = [cos(z1,z2) | cos(z1,z3)] / temp, w added to logit (i, N+i)."""
    h = pooled.shape[-1]
    z = pooled.view(-1, num_sent, h)
    z1, z2 = z[:, 0], z[:, 1]
    logits = cos_sim_matrix(z1, z2) / temp  # [N, N]
    n = z1.shape[0]
    if num_sent == 3:
        z3 = z[:, 2]
        logits = torch.cat([logits, cos_sim_matrix(z1, z3) / temp], 1)  # [N, 2N]
        weights = torch.zeros_like(logits)
        weights[torch.arange(n), n + torch.arange(n)] = hard_negative_weight
        logits = logits + weights
    labels = torch.arange(n, device=logits.device)
    return F.cross_entropy(logits, labels), logits


# ----------------------------------------------------------------------------------------------
# Optimizer


@torch.no_grad()
def hf_adamw_step(named_params: Dict[str, torch.Tensor], grads: Dict[str, torch.Tensor], state: dict,
                  lr: float, betas=(0.9, 0.999), eps: float = 1e-8, weight_decay: float = 0.0,
                  no_decay=("bias", "LayerNorm.weight")) -> None:
    """One in-place step of transformers 4.2.1 `AdamW` (correct_bias=True) with the HF Trainer
    parameter groups (weight decay 0 for names containing any of `no_decay`).

    Per parameter (t = step count after increment):
        m = b1*m + (1-b1)*g ; v = b2*v + (1-b2)*g*g
        denom = sqrt(v) + eps                      # eps NOT bias-corrected (differs from torch)
        step_size = lr * sqrt(1 - b2^t) / (1 - b1^t)
        p = p - step_size * m / denom
        p = p - lr * wd * p                        # decay AFTER the Adam update, on the new p
    (torch.optim.AdamW instead decays first and uses sqrt(v)/sqrt(1-b2^t) + eps.)
    """
    b1, b2 = betas
    for name, p in named_params.items():
        g = grads[name]
        st = state.setdefault(name, {"step": 0, "exp_avg": torch.zeros_like(p), "exp_avg_sq": torch.zeros_like(p)})
        st["step"] += 1
        m, v = st["exp_avg"], st["exp_avg_sq"]
        m.mul_(b1).add_(g, alpha=1.0 - b1)
        v.mul_(b2).addcmul_(g, g, value=1.0 - b2)
        denom = v.sqrt().add_(eps)
        step_size = lr * math.sqrt(1.0 - b2 ** st["step"]) / (1.0 - b1 ** st["step"])
        p.addcdiv_(m, denom, value=-step_size)
        wd = 0.0 if any(nd in name for nd in no_decay) else weight_decay
        if wd > 0.0:
            p.add_(p, alpha=-lr * wd)


# ----------------------------------------------------------------------------------------------
# Tokenizer (minimal BERT basic tokenizer + WordPiece)


def _is_whitespace(ch: str) -> bool:
    if ch in (" ", "\t", "\n", "\r"):
        return True
    return unicodedata.category(ch) == "Zs"


def _is_control(ch: str) -> bool:
    if ch in ("\t", "\n", "\r"):
        return False
    return unicodedata.category(ch).startswith("C")


def _is_punctuation(ch: str) -> bool:
    cp = ord(ch)
    if 33 <= cp <= 47 or 58 <= cp <= 64 or 91 <= cp <= 96 or 123 <= cp <= 126:
        return True
    return unicodedata.category(ch).startswith("P")


def _is_cjk(cp: int) -> bool:
    return (
        0x4E00 <= cp <= 0x9FFF or 0x3400 <= cp <= 0x4DBF or 0x20000 <= cp <= 0x2A6DF
        or 0x2A700 <= cp <= 0x2B73F or 0x2B740 <= cp <= 0x2B81F or 0x2B820 <= cp <= 0x2CEAF
        or 0xF900 <= cp <= 0xFAFF or 0x2F800 <= cp <= 0x2FA1F
    )


class BasicWordPieceTokenizer:
    """BERT uncased tokenization: clean text, pad CJK chars, whitespace split, lowercase, strip
    accents (NFD, drop Mn), split punctuation; then greedy longest-match-first WordPiece
    (continuation prefix "##", max 100 chars per word, whole word -> [UNK] if any piece fails)."""

    def __init__(self, vocab: List[str]):
        self.vocab = {tok: i for i, tok in enumerate(vocab)}

    def basic(self, text: str) -> List[str]:
        chars = []
        for ch in text:
            cp = ord(ch)
            if cp == 0 or cp == 0xFFFD or _is_control(ch):
                continue
            if _is_cjk(cp):
                chars.append(" " + ch + " ")
            elif _is_whitespace(ch):
                chars.append(" ")
            else:
                chars.append(ch)
        out: List[str] = []
        for word in "".join(chars).split():
            word = unicodedata.normalize("NFD", word.lower())
            word = "".join(c for c in word if unicodedata.category(c) != "Mn")
            cur = ""
            for c in word:
                if _is_punctuation(c):
                    if cur:
                        out.append(cur)
                    out.append(c)
                    cur = ""
                else:
                    cur += c
            if cur:
                out.append(cur)
        return out

    def wordpiece(self, word: str) -> List[str]:
        if len(word) > 100:
            return ["[UNK]"]
        pieces, start = [], 0
        while start < len(word):
            end, cur = len(word), None
            while start < end:
                sub = word[start:end] if start == 0 else "##" + word[start:end]
                if sub in self.vocab:
                    cur = sub
                    break
                end -= 1
            if cur is None:
                return ["[UNK]"]
            pieces.append(cur)
            start = end
        return pieces

    def tokenize(self, text: str) -> List[str]:
        return [p for w in self.basic(text) for p in self.wordpiece(w)]

    def encode(self, text: str) -> Tuple[List[str], List[int]]:
        toks = ["[CLS]"] + self.tokenize(text) + ["[SEP]"]
        return toks, [self.vocab[t] for t in toks]


def pad_batch(ids: List[List[int]], pad_id: int = 0):
    """Right-pad to the longest row; returns (input_ids, attention_mask, token_type_ids) int64."""
    length = max(len(r) for r in ids)
    input_ids = torch.full((len(ids), length), pad_id, dtype=torch.int64)
    mask = torch.zeros((len(ids), length), dtype=torch.int64)
    for i, r in enumerate(ids):
        input_ids[i, : len(r)] = torch.tensor(r)
        mask[i, : len(r)] = 1
    return input_ids, mask, torch.zeros_like(input_ids)


# ----------------------------------------------------------------------------------------------
# safetensors writer


_ST_DTYPES = {torch.float32: ("F32", 4), torch.float16: ("F16", 2), torch.int64: ("I64", 8)}


def write_safetensors(path: str, tensors: Dict[str, torch.Tensor], metadata: Optional[dict] = None) -> None:
    """Write a safetensors file: u64 little-endian header length N, N bytes of JSON header (padded with
    spaces to a multiple of 8), then the raw little-endian tensor bytes. Header keys are sorted by name
    (`__metadata__` first); data is laid out by (dtype size descending, name), as the safetensors library
    does, and each entry has `data_offsets` [begin, end) relative to the start of the data section."""
    order = sorted(tensors, key=lambda k: (-_ST_DTYPES[tensors[k].dtype][1], k))
    offsets, blobs, pos = {}, [], 0
    for k in order:
        t = tensors[k].detach().contiguous()
        b = t.numpy().astype(t.numpy().dtype.newbyteorder("<"), copy=False).tobytes()
        offsets[k] = (pos, pos + len(b))
        blobs.append(b)
        pos += len(b)
    header: dict = {}
    if metadata is not None:
        header["__metadata__"] = metadata
    for k in sorted(tensors):
        t = tensors[k]
        header[k] = {"dtype": _ST_DTYPES[t.dtype][0], "shape": list(t.shape), "data_offsets": list(offsets[k])}
    hb = json.dumps(header, separators=(",", ":")).encode("utf-8")
    hb += b" " * ((8 - len(hb) % 8) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(hb)))
        f.write(hb)
        for b in blobs:
            f.write(b)


def read_safetensors(path: str) -> Dict[str, torch.Tensor]:
    """Independent reader used only to check `write_safetensors` round-trips."""
    inv = {"F32": np.float32, "F16": np.float16, "I64": np.int64}
    with open(path, "rb") as f:
        raw = f.read()
    (n,) = struct.unpack("<Q", raw[:8])
    header = json.loads(raw[8 : 8 + n].decode("utf-8"))
    data = raw[8 + n :]
    out = {}
    for k, v in header.items():
        if k == "__metadata__":
            continue
        a, b = v["data_offsets"]
        arr = np.frombuffer(data[a:b], dtype=np.dtype(inv[v["dtype"]]).newbyteorder("<")).reshape(v["shape"])
        out[k] = torch.from_numpy(arr.copy())
    return out
