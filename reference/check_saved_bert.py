"""Load a BERT folder written by the toolkit the way Hugging Face `BertModel.from_pretrained` would
(config.json + model.safetensors, strict key match on BertModel's parameter names, pooler optional)
and print the forward pass for the ids given on stdin as JSON. Used by lib/model/bert_checkpoint_test.ts
to check that saved checkpoints are valid HF checkpoints. Usage:
    echo '{"input_ids": [[...]], "attention_mask": [[...]]}' | /usr/bin/python3 reference/check_saved_bert.py DIR
"""
import json
import sys
from dataclasses import fields

import torch

sys.path.insert(0, __file__.rsplit("/", 1)[0])
from bert_reference import BertConfig, BertModel, read_safetensors  # noqa: E402


def main() -> None:
    folder = sys.argv[1]
    raw = json.load(open(f"{folder}/config.json"))
    assert raw.get("model_type") == "bert", raw.get("model_type")
    names = {f.name for f in fields(BertConfig)}
    cfg = BertConfig(**{k: v for k, v in raw.items() if k in names})
    sd = read_safetensors(f"{folder}/model.safetensors")
    model = BertModel(cfg, add_pooling_layer="pooler.dense.weight" in sd)
    missing, unexpected = model.load_state_dict(sd, strict=False)
    if missing or unexpected:
        raise SystemExit(f"key mismatch: missing {missing}, unexpected {unexpected}")
    req = json.load(sys.stdin)
    ids = torch.tensor(req["input_ids"])
    mask = torch.tensor(req["attention_mask"])
    with torch.no_grad():
        out = model(ids, mask)
    res = {"last_hidden_state": out["last_hidden_state"].flatten().tolist()}
    if out["pooler_output"] is not None:
        res["pooler_output"] = out["pooler_output"].flatten().tolist()
    json.dump(res, sys.stdout)


if __name__ == "__main__":
    main()
