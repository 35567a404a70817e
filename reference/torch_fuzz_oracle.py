#!/usr/bin/python3
"""PyTorch as the oracle for fuzzed `torch.save` files (run with /usr/bin/python3, torch 1.13).

For each file, `torch.load(f, map_location="cpu", weights_only=True)` (PyTorch's own restricted
unpickler) either refuses it, or returns an object; only a dict of str -> Tensor counts as a state
dict. A state dict is summarised by the SHA-256 of its canonical form, which the TypeScript fuzz
harness (tools/fuzz/canonical.ts) computes the same way over the tensors it loaded:

    for each (key, tensor) in dict order:
        key as UTF-8, NUL, dtype name (F32, F16, BF16, F64, I64, I32, I16, I8, U8, BOOL), NUL,
        shape as decimal numbers joined by ",", NUL, the row-major little-endian element bytes

Usage:
    /usr/bin/python3 reference/torch_fuzz_oracle.py DIR     one JSON line per file DIR/<case>.bin (sorted):
                                                            {"name": "<case>", "ok": "<sha256>"} or
                                                            {"name": "<case>", "error": "<message>"}
As a module: `outcome(data: bytes) -> {"ok": hash} | {"error": msg}` (make_checkpoint_fixtures.py).
"""

import hashlib
import io
import json
import os
import sys
import warnings

import torch

DTYPE_NAMES = {
    torch.float32: "F32", torch.float16: "F16", torch.bfloat16: "BF16", torch.float64: "F64",
    torch.int64: "I64", torch.int32: "I32", torch.int16: "I16", torch.int8: "I8", torch.uint8: "U8",
    torch.bool: "BOOL",
}


def canonical_hash(sd):
    """SHA-256 of a str -> Tensor dict in the canonical form above."""
    h = hashlib.sha256()
    for key, t in sd.items():
        h.update(key.encode("utf-8"))
        h.update(b"\0" + DTYPE_NAMES[t.dtype].encode() + b"\0")
        h.update(",".join(str(d) for d in t.shape).encode() + b"\0")
        flat = torch.empty(t.numel(), dtype=t.dtype).copy_(t.detach().reshape(-1))  # fresh, stride 1
        h.update(flat.view(torch.uint8).numpy().tobytes() if flat.numel() else b"")
    return h.hexdigest()


def outcome(data):
    """What PyTorch makes of `data`: {"ok": canonical hash} or {"error": short message}."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            obj = torch.load(io.BytesIO(data), map_location="cpu", weights_only=True)
    except BaseException as e:  # noqa: BLE001 - any refusal (incl. MemoryError) is an outcome
        if isinstance(e, KeyboardInterrupt):
            raise
        return {"error": (type(e).__name__ + ": " + str(e)).splitlines()[0][:200] if str(e) else type(e).__name__}
    if not isinstance(obj, dict):
        return {"error": "not a dict: " + type(obj).__name__}
    for k, v in obj.items():
        if not isinstance(k, str):
            return {"error": "key is not a str"}
        if not isinstance(v, torch.Tensor) or v.dtype not in DTYPE_NAMES or v.is_sparse or v.is_quantized:
            return {"error": "value is not a dense tensor"}
        try:
            k.encode("utf-8")
        except UnicodeEncodeError:
            return {"error": "key is not valid unicode"}
    return {"ok": canonical_hash(obj)}


def main():
    folder = sys.argv[1]
    torch.set_num_threads(1)
    for name in sorted(os.listdir(folder)):
        with open(os.path.join(folder, name), "rb") as f:
            data = f.read()
        print(json.dumps({"name": name.rsplit(".", 1)[0], **outcome(data)}), flush=True)


if __name__ == "__main__":
    main()
