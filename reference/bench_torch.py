"""PyTorch peer for `bench/train_bench.ts`: the same SimCSE training step and encoding, timed.

Uses the hand-written reference BERT (`bert_reference.py`, HF 4.2.1 semantics: post-LN, erf GELU as
torch's fused `F.gelu` like transformers, torch Bernoulli dropout 0.1), SimCSE's MLP head on [CLS], temperature 0.05 cross-entropy over the
in-batch cosine matrix, global-norm clipping (`--max-grad-norm`, 1.0 as SimCSE trains; 0 = off) and
`torch.optim.AdamW`. Batch: 64 sentences = 128 sequences of 32 tokens.

Usage: /usr/bin/python3 reference/bench_torch.py --config mini --steps 3 --encode-batches 4 [--threads N]
Prints ONE JSON line: {"config", "threads", "train_s": [per timed step], "encode_s": [...],
"sentences_per_encode_batch", "peak_rss_bytes", "torch", "blas_core"}.

With `--device cuda` the model and batch live on the GPU (timings end with `torch.cuda.synchronize()`,
and `peak_gpu_bytes` is `torch.cuda.max_memory_allocated()`); `--autocast` runs the forward pass and
loss under `torch.autocast("cuda", dtype=torch.float16)` with a `GradScaler`, PyTorch's FP16 mixed
precision (BERT configs; used by `bench/gpu/run_h200.sh`).

With `--serve` it builds the model, prints {"ready": true, ...} and then answers one JSON line per
command read from stdin: `train` -> {"train_s", "cpu_s"} (one step), `encode` -> {"encode_s"} (one
batch), `done` -> {"peak_rss_bytes", ...} and exits. The benchmark interleaves these with its own
steps, so that both sides see the same machine load.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import sys
import time

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import bert_reference  # noqa: E402
from bert_reference import BertConfig, BertModel, Dropout, MLPLayer, contrastive_loss  # noqa: E402
from gpt2_reference import GPT2Model, Gpt2Config  # noqa: E402
from gpt2_reference import pool as gpt2_pool  # noqa: E402

# HF transformers 4.2.1 maps hidden_act "gelu" to torch's fused F.gelu (activations.py); the reference
# spells the formula out for readability (4 elementwise ops). The peer gets the fused kernel, as a
# transformers user would.
bert_reference.gelu = torch.nn.functional.gelu

CONFIGS = {
    "tiny": (2, 128),
    "mini": (4, 256),
    "small": (4, 512),
    "base": (12, 768),
    "gpt2-mini": (4, 256),
    "gpt2": (12, 768),
}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--config", choices=sorted(CONFIGS), required=True)
    ap.add_argument("--steps", type=int, default=3)
    ap.add_argument("--warmup", type=int, default=1)
    ap.add_argument("--encode-batches", type=int, default=3)
    ap.add_argument("--threads", type=int, default=0, help="torch threads (0 = torch default)")
    ap.add_argument("--max-grad-norm", type=float, default=1.0, help="global-norm clipping (0 = off)")
    ap.add_argument("--serve", action="store_true", help="answer train/encode/done commands on stdin")
    ap.add_argument("--device", default="cpu", help="cpu or cuda")
    ap.add_argument("--autocast", action="store_true", help="autocast (fp16 + GradScaler on cuda, bf16 on cpu)")
    ap.add_argument("--autocast-dtype", choices=["fp16", "bf16"], default=None,
                    help="autocast dtype (default: fp16 on cuda, bf16 on cpu); bf16 needs no GradScaler")
    args = ap.parse_args()
    dev = torch.device(args.device)
    cuda = dev.type == "cuda"
    if args.threads > 0:
        torch.set_num_threads(args.threads)
    layers, hidden = CONFIGS[args.config]
    torch.manual_seed(0)
    if args.config.startswith("gpt2"):
        gcfg = Gpt2Config(vocab_size=50257, n_positions=1024, n_ctx=1024, n_embd=hidden, n_layer=layers,
                          n_head=hidden // 64, n_inner=None, bos_token_id=50256, eos_token_id=50256)
        gpt2 = GPT2Model(gcfg)

        def bert(ids, mask, types, drop=None):  # same call shape as the BERT reference
            return gpt2(ids, mask, drop=drop)

        def pooled(out, mask):
            return gpt2_pool("avg", out, mask)

        params = list(gpt2.parameters())
    else:
        cfg = BertConfig(vocab_size=30522, hidden_size=hidden, num_hidden_layers=layers,
                         num_attention_heads=hidden // 64, intermediate_size=4 * hidden,
                         max_position_embeddings=512, hidden_dropout_prob=0.1, attention_probs_dropout_prob=0.1)
        bert = BertModel(cfg, add_pooling_layer=False)
        mlp = MLPLayer(cfg)

        def pooled(out, mask):
            return mlp(out["last_hidden_state"][:, 0])

        bert.to(dev)
        mlp.to(dev)
        params = list(bert.parameters()) + list(mlp.parameters())
    opt = torch.optim.AdamW(params, lr=3e-5, weight_decay=0.0)
    ac_name = args.autocast_dtype or ("fp16" if cuda else "bf16")
    ac_dtype = torch.float16 if ac_name == "fp16" else torch.bfloat16
    ac_device = "cuda" if cuda else "cpu"
    # torch.amp.GradScaler("cuda") from PyTorch 2.3 (torch.cuda.amp.GradScaler is deprecated there)
    new_scaler = getattr(torch.amp, "GradScaler", None)
    scaler = None
    if args.autocast and ac_name == "fp16":
        scaler = new_scaler(ac_device) if new_scaler else torch.cuda.amp.GradScaler()

    def sync() -> None:
        if cuda:
            torch.cuda.synchronize()

    batch, length = 64, 32
    rows = 2 * batch
    ids = (1000 + (torch.arange(rows * length) * 7919) % 20000).reshape(rows, length).to(dev)
    mask = torch.ones(rows, length, dtype=torch.long, device=dev)
    types = torch.zeros(rows, length, dtype=torch.long, device=dev)

    cpu_s: list = []

    def step() -> float:
        c0 = time.process_time()
        t0 = time.perf_counter()
        opt.zero_grad(set_to_none=True)
        with torch.autocast(ac_device, dtype=ac_dtype, enabled=args.autocast):
            out = bert(ids, mask, types, drop=Dropout("bernoulli", 0.1))
            z = pooled(out, mask)
            loss = contrastive_loss(z, 2, 0.05)
            loss = loss[0] if isinstance(loss, tuple) else loss
        if scaler is not None:
            scaler.scale(loss).backward()
            scaler.unscale_(opt)
        else:
            loss.backward()
        if args.max_grad_norm > 0:
            torch.nn.utils.clip_grad_norm_(params, args.max_grad_norm)
        if scaler is not None:
            scaler.step(opt)
            scaler.update()
        else:
            opt.step()
        sync()
        cpu_s.append(time.process_time() - c0)
        return time.perf_counter() - t0

    enc_ids, enc_mask, enc_types = ids[:batch], mask[:batch], types[:batch]

    def encode() -> float:
        t0 = time.perf_counter()
        with torch.no_grad(), torch.autocast(ac_device, dtype=ac_dtype, enabled=args.autocast):
            bert(enc_ids, enc_mask, enc_types)["last_hidden_state"][:, 0].contiguous()
        sync()
        return time.perf_counter() - t0

    info = {"config": args.config, "threads": torch.get_num_threads(), "torch": torch.__version__,
            "openblas_coretype": os.environ.get("OPENBLAS_CORETYPE", ""), "max_grad_norm": args.max_grad_norm,
            "device": str(dev), "autocast": ac_name if args.autocast else False,
            **({"gpu": torch.cuda.get_device_name(dev)} if cuda else {})}

    def peak() -> int:
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024

    def gpu_peak() -> dict:
        return {"peak_gpu_bytes": torch.cuda.max_memory_allocated(dev)} if cuda else {}

    if args.serve:
        print(json.dumps({"ready": True, **info}), flush=True)
        for line in sys.stdin:
            cmd = line.strip()
            if cmd == "train":
                t = step()
                print(json.dumps({"train_s": t, "cpu_s": cpu_s[-1]}), flush=True)
            elif cmd == "encode":
                print(json.dumps({"encode_s": encode()}), flush=True)
            elif cmd == "done":
                print(json.dumps({"peak_rss_bytes": peak(), **gpu_peak(), **info}), flush=True)
                return
            else:
                print(json.dumps({"error": f"unknown command {cmd!r}"}), flush=True)
        return

    for _ in range(args.warmup):
        step()
    cpu_s.clear()
    train_s = [step() for _ in range(args.steps)]
    encode()
    encode_s = [encode() for _ in range(args.encode_batches)]
    print(json.dumps({
        **info, "train_s": train_s, "train_cpu_s": cpu_s, "encode_s": encode_s,
        "sentences_per_encode_batch": batch, "peak_rss_bytes": peak(), **gpu_peak(),
    }))


if __name__ == "__main__":
    main()
