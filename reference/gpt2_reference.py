"""Independent PyTorch reference of GPT-2 + decoder SimCSE (Hugging Face transformers 4.2.1 semantics).

Dev-only: `reference/make_gpt2_fixtures.py` imports this module to write the fixtures under
`testdata/gpt2/`. Nothing in the TypeScript toolkit imports it. There is no `transformers` package on
this machine, so every layer is written out here by hand, following docs/SIMCSE.md §i (GPT-2 facts)
and §d.2 (the seed's GPT-2 SimCSE variant and its poolers).

Contents
- `Gpt2Config`: the HF `GPT2Config` fields that matter (config.json as transformers 4.2.1 writes it).
- `Conv1D`: HF's transposed linear (weight [in, out], y = x @ W + b).
- `GPT2Model`: wte + wpe (position ids 0..L-1), embd dropout, pre-LN blocks (ln_1 -> attn -> +x,
  ln_2 -> mlp -> +x), final ln_f. Attention: scores / sqrt(d); causal positions replaced by
  `masked_bias` = -1e4 (`torch.where`, as HF 4.2.1), then the additive padding mask (1 - m) * -10000;
  softmax; attn dropout; @ V; c_proj; resid dropout. MLP: c_fc -> gelu_new -> c_proj -> dropout.
  Sub-module and buffer names equal HF's (`h.0.attn.c_attn.weight`, `h.0.attn.bias`, ...).
  `hidden_states` as HF: [embedding output, block 1 output, ..., block n-1 output, ln_f(block n)].
- Dropout sites (the "hash dropout" of `bert_reference.py`, same numbering as BERT): embeddings 0;
  block l: attention probabilities 1 + 3l, attention c_proj output 2 + 3l, MLP output 3 + 3l.
- `pool()`: `avg` (masked mean), `wavg` (position-weighted mean over the real tokens only,
  w_i = i / sum_j j for i = 1..len; written as an explicit per-row loop), `wavg_jittor` (the seed's
  `w_avg`: w = cumsum(attention_mask) over the whole padded row, so pads weigh len).
- `ByteLevelBpe`: GPT-2's byte-level BPE tokenizer (the algorithm of OpenAI's `encoder.py`: bytes ->
  printable unicode map, the pre-tokenization regex hand-written as a scanner since the `regex`
  package is absent, greedy lowest-rank pair merging), plus the `<|endoftext|>` special-token split
  that Hugging Face's `GPT2Tokenizer` adds.
"""

from __future__ import annotations

import json
import math
import os
import sys
import unicodedata
from dataclasses import dataclass
from typing import Dict, List, Optional, Sequence, Tuple

import torch
from torch import nn

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from bert_reference import Dropout  # noqa: E402  (the shared hash dropout; see its HASH_DOC)


# ----------------------------------------------------------------------------------------------
# Config


@dataclass
class Gpt2Config:
    """The HF `GPT2Config` fields this reference uses (defaults = tiny fixture model)."""

    vocab_size: int = 457
    n_positions: int = 64
    n_ctx: int = 64
    n_embd: int = 32
    n_layer: int = 2
    n_head: int = 4
    n_inner: Optional[int] = 64
    activation_function: str = "gelu_new"
    resid_pdrop: float = 0.1
    embd_pdrop: float = 0.1
    attn_pdrop: float = 0.1
    layer_norm_epsilon: float = 1e-5
    initializer_range: float = 0.02
    bos_token_id: int = 456
    eos_token_id: int = 456

    def to_hf_dict(self, architectures: Sequence[str] = ("GPT2Model",)) -> dict:
        """`config.json` content as transformers 4.2.1 writes it for a GPT-2 checkpoint."""
        return {
            "activation_function": self.activation_function,
            "architectures": list(architectures),
            "attn_pdrop": self.attn_pdrop,
            "bos_token_id": self.bos_token_id,
            "embd_pdrop": self.embd_pdrop,
            "eos_token_id": self.eos_token_id,
            "gradient_checkpointing": False,
            "initializer_range": self.initializer_range,
            "layer_norm_epsilon": self.layer_norm_epsilon,
            "model_type": "gpt2",
            "n_ctx": self.n_ctx,
            "n_embd": self.n_embd,
            "n_head": self.n_head,
            "n_inner": self.n_inner,
            "n_layer": self.n_layer,
            "n_positions": self.n_positions,
            "resid_pdrop": self.resid_pdrop,
            "summary_activation": None,
            "summary_first_dropout": 0.1,
            "summary_proj_to_labels": True,
            "summary_type": "cls_index",
            "summary_use_proj": True,
            "transformers_version": "4.2.1",
            "use_cache": True,
            "vocab_size": self.vocab_size,
        }


# ----------------------------------------------------------------------------------------------
# Model (module names = HF names)


def gelu_new(x: torch.Tensor) -> torch.Tensor:
    """HF `gelu_new`: 0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3)))."""
    return 0.5 * x * (1.0 + torch.tanh(math.sqrt(2.0 / math.pi) * (x + 0.044715 * torch.pow(x, 3.0))))


class Conv1D(nn.Module):
    """HF `Conv1D`: a linear layer whose weight is stored [in, out]."""

    def __init__(self, nf: int, nx: int):
        super().__init__()
        self.nf = nf
        self.weight = nn.Parameter(torch.empty(nx, nf))
        self.bias = nn.Parameter(torch.zeros(nf))

    def forward(self, x):
        size_out = x.size()[:-1] + (self.nf,)
        return torch.addmm(self.bias, x.reshape(-1, x.size(-1)), self.weight).view(*size_out)


class Attention(nn.Module):
    def __init__(self, cfg: Gpt2Config):
        super().__init__()
        n = cfg.n_ctx
        self.register_buffer("bias", torch.tril(torch.ones((n, n), dtype=torch.uint8)).view(1, 1, n, n))
        self.register_buffer("masked_bias", torch.tensor(-1e4))
        self.n_head = cfg.n_head
        self.split_size = cfg.n_embd
        self.c_attn = Conv1D(3 * cfg.n_embd, cfg.n_embd)
        self.c_proj = Conv1D(cfg.n_embd, cfg.n_embd)

    def _heads(self, x):  # [B, L, H] -> [B, nh, L, d]
        b, l, h = x.shape
        return x.view(b, l, self.n_head, h // self.n_head).permute(0, 2, 1, 3)

    def forward(self, x, ext_mask, drop: Dropout, site: int):
        q, k, v = self.c_attn(x).split(self.split_size, dim=2)
        q, k, v = self._heads(q), self._heads(k), self._heads(v)
        w = torch.matmul(q, k.transpose(-1, -2))  # [B, nh, L, L]
        w = w / (float(v.size(-1)) ** 0.5)
        nd, ns = w.size(-2), w.size(-1)
        causal = self.bias[:, :, ns - nd : ns, :ns]
        w = torch.where(causal.bool(), w, self.masked_bias.to(w.dtype))  # replaced, not added
        w = w + ext_mask  # [B, 1, 1, L] additive padding mask
        w = torch.softmax(w, dim=-1)
        w = drop(w, site)
        a = torch.matmul(w, v)  # [B, nh, L, d]
        b, _, l, _ = a.shape
        a = a.permute(0, 2, 1, 3).reshape(b, l, -1)
        return drop(self.c_proj(a), site + 1)


class MLP(nn.Module):
    def __init__(self, cfg: Gpt2Config):
        super().__init__()
        inner = cfg.n_inner if cfg.n_inner is not None else 4 * cfg.n_embd
        self.c_fc = Conv1D(inner, cfg.n_embd)
        self.c_proj = Conv1D(cfg.n_embd, inner)

    def forward(self, x, drop: Dropout, site: int):
        return drop(self.c_proj(gelu_new(self.c_fc(x))), site)


class Block(nn.Module):
    def __init__(self, cfg: Gpt2Config):
        super().__init__()
        self.ln_1 = nn.LayerNorm(cfg.n_embd, eps=cfg.layer_norm_epsilon)
        self.attn = Attention(cfg)
        self.ln_2 = nn.LayerNorm(cfg.n_embd, eps=cfg.layer_norm_epsilon)
        self.mlp = MLP(cfg)

    def forward(self, x, ext_mask, drop: Dropout, layer_index: int):
        base = 1 + 3 * layer_index
        x = x + self.attn(self.ln_1(x), ext_mask, drop, base)
        return x + self.mlp(self.ln_2(x), drop, base + 2)


class GPT2Model(nn.Module):
    """HF 4.2.1 `GPT2Model`. `forward` returns last_hidden_state and hidden_states (n_layer + 1)."""

    def __init__(self, cfg: Gpt2Config):
        super().__init__()
        self.config = cfg
        self.wte = nn.Embedding(cfg.vocab_size, cfg.n_embd)
        self.wpe = nn.Embedding(cfg.n_positions, cfg.n_embd)
        self.h = nn.ModuleList([Block(cfg) for _ in range(cfg.n_layer)])
        self.ln_f = nn.LayerNorm(cfg.n_embd, eps=cfg.layer_norm_epsilon)

    def forward(self, input_ids, attention_mask=None, drop: Optional[Dropout] = None):
        drop = drop if drop is not None else Dropout("off")
        b, l = input_ids.shape
        if attention_mask is None:
            attention_mask = torch.ones_like(input_ids)
        dtype = self.wte.weight.dtype
        ext_mask = (1.0 - attention_mask[:, None, None, :].to(dtype)) * -10000.0
        position_ids = torch.arange(0, l, dtype=torch.long).unsqueeze(0)  # NOT derived from the mask
        x = self.wte(input_ids) + self.wpe(position_ids)
        x = drop(x, 0)
        hidden_states = []
        for i, block in enumerate(self.h):
            hidden_states.append(x)
            x = block(x, ext_mask, drop, i)
        x = self.ln_f(x)
        hidden_states.append(x)
        return {"last_hidden_state": x, "hidden_states": tuple(hidden_states)}


# ----------------------------------------------------------------------------------------------
# Poolers


def pool(pooler: str, out: dict, attention_mask: torch.Tensor) -> torch.Tensor:
    """Decoder poolers; see the module docstring. `attention_mask` is [B, L] with right padding."""
    h = out["last_hidden_state"]  # [B, L, H]
    b, l, _ = h.shape
    if pooler == "avg":
        m = attention_mask.to(h.dtype)
        return (h * m.unsqueeze(-1)).sum(1) / m.sum(1, keepdim=True)
    if pooler == "wavg":
        rows = []
        for r in range(b):
            n = int(attention_mask[r].sum().item())
            assert bool((attention_mask[r, :n] == 1).all()), "right padding expected"
            total = n * (n + 1) / 2
            w = torch.tensor([(i + 1) / total for i in range(n)], dtype=h.dtype)  # i = 1..n
            rows.append((h[r, :n] * w.unsqueeze(-1)).sum(0))
        return torch.stack(rows)
    if pooler == "wavg_jittor":  # the seed's w_avg: cumsum of the mask, pads included
        w = torch.cumsum(attention_mask.to(h.dtype), dim=1)
        return (h * w.unsqueeze(-1)).sum(1) / w.sum(1, keepdim=True)
    raise ValueError(pooler)


# ----------------------------------------------------------------------------------------------
# Byte-level BPE (GPT-2 encoder.py algorithm)


def bytes_to_unicode() -> Dict[int, str]:
    """GPT-2's reversible byte -> printable character map: printable Latin-1 bytes map to themselves,
    the other 68 bytes to U+0100, U+0101, ... in byte order."""
    keep = list(range(ord("!"), ord("~") + 1)) + list(range(ord("\u00a1"), ord("\u00ac") + 1)) \
        + list(range(ord("\u00ae"), ord("\u00ff") + 1))
    table, extra = {}, 0
    for b in range(256):
        if b in keep:
            table[b] = chr(b)
        else:
            table[b] = chr(256 + extra)
            extra += 1
    return table


# Unicode White_Space (what `\s` matches in the `regex` package / Oniguruma used by GPT-2 and HF).
WHITE_SPACE = set("\t\n\x0b\x0c\r \x85\xa0\u1680\u2028\u2029\u202f\u205f\u3000") | {
    chr(c) for c in range(0x2000, 0x200B)
}
CONTRACTIONS = ("'s", "'t", "'re", "'ve", "'m", "'ll", "'d")


def _is_letter(c: str) -> bool:
    return unicodedata.category(c).startswith("L")


def _is_number(c: str) -> bool:
    return unicodedata.category(c).startswith("N")


def _is_space(c: str) -> bool:
    return c in WHITE_SPACE


def _is_other(c: str) -> bool:
    return not (_is_space(c) or _is_letter(c) or _is_number(c))


def pretokenize(text: str) -> List[str]:
    """The pieces `re.findall` gives for GPT-2's pattern
    `'s|'t|'re|'ve|'m|'ll|'d| ?\\p{L}+| ?\\p{N}+| ?[^\\s\\p{L}\\p{N}]+|\\s+(?!\\S)|\\s+`,
    written as an explicit scanner (alternatives tried in order at each position)."""
    out, i, n = [], 0, len(text)

    def run(j: int, pred) -> int:
        while j < n and pred(text[j]):
            j += 1
        return j

    while i < n:
        c = text[i]
        hit = next((s for s in CONTRACTIONS if text.startswith(s, i)), None)
        if hit is not None:
            out.append(hit)
            i += len(hit)
            continue
        matched = False
        for pred in (_is_letter, _is_number, _is_other):  # ` ?X+` for the three classes
            start = i + 1 if c == " " and i + 1 < n and pred(text[i + 1]) else i
            if pred(text[start]):
                end = run(start, pred)
                out.append(text[i:end])
                i = end
                matched = True
                break
        if matched:
            continue
        assert _is_space(c)
        end = run(i, _is_space)
        if end < n and end - i >= 2:  # \s+(?!\S): give the last space back to the next piece
            end -= 1
        out.append(text[i:end])  # (a single space before a non-space: \s+)
        i = end
    return out


class ByteLevelBpe:
    """GPT-2 tokenizer from vocab (token -> id) and merges (list of pairs, rank = index)."""

    def __init__(self, vocab: Dict[str, int], merges: List[Tuple[str, str]], special: Sequence[str] = ()):
        self.vocab = vocab
        self.ranks = {pair: r for r, pair in enumerate(merges)}
        self.byte_map = bytes_to_unicode()
        self.special = list(special)

    @staticmethod
    def from_files(vocab_json: str, merges_txt: str) -> "ByteLevelBpe":
        with open(vocab_json, encoding="utf-8") as f:
            vocab = json.load(f)
        with open(merges_txt, encoding="utf-8") as f:
            lines = f.read().split("\n")
        merges = [tuple(line.split(" ")) for line in lines[1:] if line]  # first line: "#version: 0.2"
        assert all(len(m) == 2 for m in merges)
        return ByteLevelBpe(vocab, merges, ["<|endoftext|>"])

    def bpe(self, word: str) -> List[str]:
        """Merge the lowest-ranked adjacent pair everywhere (left to right), until none is ranked."""
        parts = list(word)
        while len(parts) > 1:
            best, best_rank = None, None
            for pair in zip(parts, parts[1:]):
                r = self.ranks.get(pair)
                if r is not None and (best_rank is None or r < best_rank):
                    best, best_rank = pair, r
            if best is None:
                break
            merged, k = [], 0
            while k < len(parts):
                if k + 1 < len(parts) and (parts[k], parts[k + 1]) == best:
                    merged.append(parts[k] + parts[k + 1])
                    k += 2
                else:
                    merged.append(parts[k])
                    k += 1
            parts = merged
        return parts

    def tokens(self, text: str) -> List[str]:
        out = []
        for piece in self._split_special(text):
            if piece in self.special:
                out.append(piece)
                continue
            for pre in pretokenize(piece):
                mapped = "".join(self.byte_map[b] for b in pre.encode("utf-8"))
                out.extend(self.bpe(mapped))
        return out

    def encode(self, text: str) -> List[int]:
        return [self.vocab[t] for t in self.tokens(text)]

    def _split_special(self, text: str) -> List[str]:
        pieces = [text]
        for s in self.special:
            nxt = []
            for p in pieces:
                if p in self.special:
                    nxt.append(p)
                    continue
                parts = p.split(s)
                for j, part in enumerate(parts):
                    if part:
                        nxt.append(part)
                    if j < len(parts) - 1:
                        nxt.append(s)
            pieces = nxt
        return pieces
