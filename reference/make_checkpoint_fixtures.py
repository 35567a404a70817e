#!/usr/bin/python3
"""Write the checkpoint-IO fixtures under testdata/checkpoint/ (run with /usr/bin/python3, torch 1.13).

Fixtures (all tiny):
  state_dict.bin              torch.save of an OrderedDict state dict (with `_metadata`): F32/F16/BF16/F64/
                              I64/I32/I16/I8/U8/BOOL tensors, a transposed (.t()) view, tensors sharing one
                              storage (offset, stride 3), a stride-0 expand, an nn.Parameter, a 0-dim and an
                              empty tensor, and enough entries to need LONG_BINPUT / BININT.
  state_dict_deflated.bin     the same archive re-zipped with DEFLATE (torch.load reads it too).
  hand_written.safetensors    written byte by byte from the spec (struct + json), data not in key order.
  unaligned.safetensors       header length not padded, so tensor data is not 4/8-byte aligned.
  sharded/                    model.safetensors.index.json + two safetensors shards.
  sharded_bin/                pytorch_model.bin.index.json + two torch.save shards.
  legacy.bin                  torch.save(..., _use_new_zipfile_serialization=False) (pre-1.6 format) of {w: ones(2)}.
  legacy_state_dict.bin       the state_dict.bin state dict in the legacy format.
  legacy_view.bin             a legacy file whose persistent ids carry view_metadata (as torch < 0.4 wrote):
                              two views of one 10-float root storage; torch 1.13 loads it.
  legacy_bert/pytorch_model.bin  testdata/bert/tiny-torchbin-pretraining re-saved in the legacy format
                              (needs make_bert_fixtures.py to have run first).
  torch_fuzz_cases.json       seeded mutations (ops) of legacy_state_dict.bin and of state_dict.bin's data.pkl
                              (re-zipped), each with what torch.load(weights_only=True) makes of it
                              (reference/torch_fuzz_oracle.py): the oracle of the fuzz tests.
  malicious_os_system.bin     torch-like zip whose data.pkl calls os.system (hand-assembled, never loaded).
  malicious_reduce.bin        the same via pickle.dumps of an object whose __reduce__ names os.system.
  storage_larger_than_entry.bin  pickle declares 10**9 floats, the data entry holds 24 bytes.
  inflate_beyond_declared.bin deflated entry that inflates past its declared uncompressed size.
  expected.json               every tensor's dtype, shape and row-major values, plus unpickler cases.

Floats that JSON cannot hold are written as the strings "inf", "-inf", "nan"; 64-bit integers as strings.
Nothing here loads the malicious pickles: pickling an object never calls what its __reduce__ names.
"""

import collections
import io
import json
import math
import os
import pickle
import struct
import zipfile

import numpy as np
import torch

from torch_fuzz_oracle import outcome

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "testdata", "checkpoint")


def fvals(t):
    out = []
    for v in t.detach().reshape(-1).to(torch.float64).tolist():
        if math.isnan(v):
            out.append("nan")
        elif math.isinf(v):
            out.append("inf" if v > 0 else "-inf")
        else:
            out.append(v)
    return out


def describe(t):
    dtype = {
        torch.float32: "F32", torch.float16: "F16", torch.bfloat16: "BF16", torch.float64: "F64",
        torch.int64: "I64", torch.int32: "I32", torch.int16: "I16", torch.int8: "I8", torch.uint8: "U8",
        torch.bool: "BOOL",
    }[t.dtype]
    if dtype == "I64":
        values = [str(v) for v in t.reshape(-1).tolist()]
    elif dtype in ("I32", "I16", "I8", "U8"):
        values = t.reshape(-1).tolist()
    elif dtype == "BOOL":
        values = [1 if v else 0 for v in t.reshape(-1).tolist()]
    else:
        values = fvals(t)
    return {"dtype": dtype, "shape": list(t.shape), "values": values}


def torch_state_dict():
    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Linear(3, 4), torch.nn.LayerNorm(4))
    sd = model.state_dict()  # an OrderedDict carrying `_metadata`
    assert hasattr(sd, "_metadata")
    sd["f16"] = torch.randn(2, 3).half()
    sd["bf16"] = torch.randn(5).bfloat16()
    sd["f64"] = torch.randn(3, dtype=torch.float64)
    sd["f32_special"] = torch.tensor([float("inf"), -float("inf"), float("nan"), -0.0, 1e-45, 3.4e38])
    sd["i64"] = torch.tensor([0, -1, 2**40 + 3, -(2**62) + 5, 2**63 - 1], dtype=torch.int64)
    sd["i32"] = torch.tensor([[-(2**31), 2**31 - 1], [7, -7]], dtype=torch.int32)
    sd["i16"] = torch.arange(300, dtype=torch.int16) - 150  # numel 300 needs BININT2
    sd["i8"] = torch.tensor([-128, 127, 0], dtype=torch.int8)
    sd["u8"] = torch.tensor([0, 255, 17], dtype=torch.uint8)
    sd["bool"] = torch.tensor([True, False, True])
    base = torch.arange(12, dtype=torch.float32).reshape(3, 4) * 0.25
    sd["transposed"] = base.t()  # shape [4, 3], strides [1, 4]
    shared = torch.arange(10, dtype=torch.float32) * 0.5 - 1.0
    sd["shared.base"] = shared
    sd["shared.view"] = shared[2:8].view(2, 3)  # storage offset 2
    sd["shared.strided"] = shared[1::3]  # storage offset 1, stride 3
    sd["expanded"] = torch.tensor([7.5]).expand(2, 3)  # strides [0, 0]
    sd["param"] = torch.nn.Parameter(torch.randn(2, 2))  # pickled via _rebuild_parameter
    sd["scalar"] = torch.tensor(3.25)
    sd["empty"] = torch.zeros(0, 3)
    sd["big_offset"] = torch.arange(70000, dtype=torch.int32).to(torch.int8)[69998:]  # offset needs BININT
    for i in range(45):  # > 256 memo entries: LONG_BINPUT / LONG_BINGET
        sd[f"many.{i}"] = torch.tensor([i * 1.5])
    assert not sd["transposed"].is_contiguous()
    return sd


def put(z, name, data):
    """Add an entry with a fixed timestamp, so reruns give identical archives."""
    z.writestr(zipfile.ZipInfo(name, date_time=(2020, 1, 1, 0, 0, 0)), data, compress_type=z.compression)


def rezip(src, dst, compression):
    with zipfile.ZipFile(src) as zin, zipfile.ZipFile(dst, "w", compression) as zout:
        for info in zin.infolist():
            put(zout, info.filename, zin.read(info.filename))


def torch_like_zip(path, pickle_bytes, entries, compression=zipfile.ZIP_STORED):
    with zipfile.ZipFile(path, "w", compression) as z:
        put(z, "archive/data.pkl", pickle_bytes)
        for name, data in entries.items():
            put(z, f"archive/data/{name}", data)
        put(z, "archive/version", b"3\n")


def one_tensor_pickle(numel):
    """OrderedDict {'w': FloatStorage tensor of shape (2, 3)} whose storage declares `numel` elements."""
    return (
        b"\x80\x02ccollections\nOrderedDict\nq\x00)Rq\x01("
        b"X\x01\x00\x00\x00wctorch._utils\n_rebuild_tensor_v2\n(("
        b"X\x07\x00\x00\x00storagectorch\nFloatStorage\nX\x01\x00\x00\x000X\x03\x00\x00\x00cpu"
        + b"J" + struct.pack("<i", numel)
        + b"tQK\x00K\x02K\x03\x86K\x03K\x01\x86\x89h\x00)RtRu."
    )


class Evil:
    def __reduce__(self):
        return (os.system, ("echo pwned",))


def st_bytes(entries, order, metadata, pad=True):
    """safetensors by hand: entries {name: (dtype, shape, raw bytes)} laid out in `order`."""
    header, data = {}, b""
    if metadata is not None:
        header["__metadata__"] = metadata
    for name in order:
        dtype, shape, raw = entries[name]
        header[name] = {"dtype": dtype, "shape": shape, "data_offsets": [len(data), len(data) + len(raw)]}
        data += raw
    h = json.dumps(header, separators=(",", ":")).encode()
    if pad:
        h += b" " * ((8 - len(h) % 8) % 8)
    return struct.pack("<Q", len(h)) + h + data


def main():
    os.makedirs(os.path.join(OUT, "sharded"), exist_ok=True)
    os.makedirs(os.path.join(OUT, "sharded_bin"), exist_ok=True)
    expected = {"torch": {}, "safetensors": {}, "sharded": {}, "pickles": []}

    # --- torch.save fixtures -------------------------------------------------------------
    sd = torch_state_dict()
    p = os.path.join(OUT, "state_dict.bin")
    torch.save(sd, p)
    back = torch.load(p)
    for k, v in sd.items():
        assert torch.equal(back[k], v) or (k == "f32_special"), k
        expected["torch"][k] = describe(v)
    rezip(p, os.path.join(OUT, "state_dict_deflated.bin"), zipfile.ZIP_DEFLATED)
    back = torch.load(os.path.join(OUT, "state_dict_deflated.bin"))
    assert torch.equal(back["transposed"], sd["transposed"])

    torch.save(collections.OrderedDict(w=torch.ones(2)), os.path.join(OUT, "legacy.bin"),
               _use_new_zipfile_serialization=False)
    expected["legacy"] = {"w": describe(torch.ones(2))}
    legacy_sd = os.path.join(OUT, "legacy_state_dict.bin")
    torch.save(sd, legacy_sd, _use_new_zipfile_serialization=False)
    with open(legacy_sd, "rb") as f:
        assert f.read(2) == b"\x80\x02"  # a pickle, not a zip
    back = torch.load(legacy_sd)
    assert list(back) == list(sd)
    for k, v in sd.items():
        assert torch.equal(back[k], v) or k == "f32_special", k
    write_legacy_view(os.path.join(OUT, "legacy_view.bin"))
    back = torch.load(os.path.join(OUT, "legacy_view.bin"))
    expected["legacy_view"] = {k: describe(v) for k, v in back.items()}
    assert back["a"].tolist() == [2.0, 3.0, 4.0, 5.0] and back["b"].tolist() == [[7.0, 9.0], [8.0, 10.0]]
    bert_src = os.path.join(OUT, "..", "bert", "tiny-torchbin-pretraining", "pytorch_model.bin")
    os.makedirs(os.path.join(OUT, "legacy_bert"), exist_ok=True)
    torch.save(torch.load(bert_src), os.path.join(OUT, "legacy_bert", "pytorch_model.bin"),
               _use_new_zipfile_serialization=False)

    # --- hostile torch-like archives -----------------------------------------------------
    six_floats = np.arange(6, dtype="<f4").tobytes()
    ok = os.path.join(OUT, "_ok_tmp.bin")
    torch_like_zip(ok, one_tensor_pickle(6), {"0": six_floats})
    assert torch.load(ok)["w"].tolist() == [[0, 1, 2], [3, 4, 5]]  # the hand-made archive format is right
    os.remove(ok)
    torch_like_zip(os.path.join(OUT, "storage_larger_than_entry.bin"), one_tensor_pickle(10**9),
                   {"0": six_floats})
    os_system = b"\x80\x02cos\nsystem\nq\x00X\x0a\x00\x00\x00echo pwnedq\x01\x85q\x02Rq\x03."
    torch_like_zip(os.path.join(OUT, "malicious_os_system.bin"), os_system, {})
    torch_like_zip(os.path.join(OUT, "malicious_reduce.bin"),
                   pickle.dumps(collections.OrderedDict(w=Evil()), protocol=2), {})
    # A deflated data entry whose central + local headers declare 16 bytes (matching the 4 floats
    # the pickle declares) where 24 inflate.
    buf = io.BytesIO()
    torch_like_zip(buf, one_tensor_pickle(4), {"0": six_floats}, zipfile.ZIP_DEFLATED)
    raw = bytearray(buf.getvalue())
    name = b"archive/data/0"
    cen = raw.find(b"PK\x01\x02")  # first central-directory record
    while raw[cen + 46:cen + 46 + len(name)] != name:
        cen = raw.find(b"PK\x01\x02", cen + 4)
    struct.pack_into("<I", raw, cen + 24, 16)
    loc = struct.unpack_from("<I", raw, cen + 42)[0]
    struct.pack_into("<I", raw, loc + 22, 16)
    with open(os.path.join(OUT, "inflate_beyond_declared.bin"), "wb") as f:
        f.write(raw)

    # --- safetensors by hand -------------------------------------------------------------
    st = {
        "weight": ("F32", [2, 3], np.array([[0.5, -1.25, 3.0], [1e-3, -0.0, 65504.0]], "<f4")),
        "half": ("F16", [4], np.array([1.0, -2.5, 0.099975586, 65504.0], "<f2")),
        "ids": ("I64", [3], np.array([1, -2, 2**53 + 1], "<i8")),
        "brain": ("BF16", [2, 2], None),
        "mask": ("BOOL", [3], np.array([1, 0, 1], "u1")),
        "bytes": ("U8", [2], np.array([0, 200], "u1")),
        "nothing": ("I32", [0], np.zeros(0, "<i4")),
        "scalar": ("F64", [], np.array(2.718281828459045, "<f8")),
    }
    bf16_bits = np.array([[0x3F80, 0xC000], [0x3E20, 0x7F80]], "<u2")  # 1, -2, 0.15625, +inf
    st["brain"] = ("BF16", [2, 2], bf16_bits)
    raw_entries = {k: (d, s, a.tobytes()) for k, (d, s, a) in st.items()}
    order = ["ids", "weight", "brain", "half", "scalar", "mask", "nothing", "bytes"]
    meta = {"format": "pt", "note": "hand written"}
    with open(os.path.join(OUT, "hand_written.safetensors"), "wb") as f:
        f.write(st_bytes(raw_entries, order, meta))
    with open(os.path.join(OUT, "unaligned.safetensors"), "wb") as f:
        b = st_bytes(raw_entries, ["mask", "weight", "ids", "half"], None, pad=False)
        assert (struct.unpack_from("<Q", b)[0] + 8 + 3) % 4 != 0  # 'weight' is unaligned
        f.write(b)
    for k, (d, s, a) in st.items():
        if d == "BF16":
            vals = (a.astype("<u4") << 16).view("<f4")
            t = {"dtype": d, "shape": s, "values": fvals(torch.from_numpy(vals.copy()))}
        elif d == "I64":
            t = {"dtype": d, "shape": s, "values": [str(v) for v in a.reshape(-1).tolist()]}
        elif d in ("F32", "F16", "F64"):
            t = {"dtype": d, "shape": s, "values": fvals(torch.from_numpy(a.astype("<f8")))}
        else:
            t = {"dtype": d, "shape": s, "values": [int(v) for v in a.reshape(-1).tolist()]}
        expected["safetensors"][k] = t
    expected["safetensors_metadata"] = meta

    # --- sharded folders -----------------------------------------------------------------
    shard_a = {"a.weight": ("F32", [2], np.array([1.5, 2.5], "<f4").tobytes()),
               "a.bias": ("F32", [1], np.array([-3.0], "<f4").tobytes())}
    shard_b = {"b.weight": ("F32", [2, 1], np.array([[4.0], [5.0]], "<f4").tobytes())}
    names = ["model-00001-of-00002.safetensors", "model-00002-of-00002.safetensors"]
    for name, shard in zip(names, [shard_a, shard_b]):
        with open(os.path.join(OUT, "sharded", name), "wb") as f:
            f.write(st_bytes(shard, sorted(shard), {"format": "pt"}))
    weight_map = {"a.weight": names[0], "a.bias": names[0], "b.weight": names[1]}
    with open(os.path.join(OUT, "sharded", "model.safetensors.index.json"), "w") as f:
        json.dump({"metadata": {"total_size": 20}, "weight_map": weight_map}, f, indent=2)
    bin_names = ["pytorch_model-00001-of-00002.bin", "pytorch_model-00002-of-00002.bin"]
    tensors = {"a.weight": torch.tensor([1.5, 2.5]), "a.bias": torch.tensor([-3.0]),
               "b.weight": torch.tensor([[4.0], [5.0]])}
    torch.save(collections.OrderedDict((k, tensors[k]) for k in ["a.weight", "a.bias"]),
               os.path.join(OUT, "sharded_bin", bin_names[0]))
    torch.save(collections.OrderedDict([("b.weight", tensors["b.weight"])]),
               os.path.join(OUT, "sharded_bin", bin_names[1]))
    with open(os.path.join(OUT, "sharded_bin", "pytorch_model.bin.index.json"), "w") as f:
        json.dump({"metadata": {"total_size": 20},
                   "weight_map": {k: bin_names[0 if k.startswith("a.") else 1] for k in tensors}}, f, indent=2)
    expected["sharded"] = {k: describe(v) for k, v in tensors.items()}

    # --- plain pickles for the unpickler -------------------------------------------------
    shared_list = [1, 2]
    cases = [
        None, True, False, 0, 255, 256, 65535, 65536, -1, 2**31 - 1, -(2**31), 2**40, -(2**70),
        1.5, -0.0, 1e300, "", "héllo ☃ 𝄞", (), (1,), (1, "a"), (1, 2, 3), (1, 2, 3, 4, 5),
        [], [1, [2, [3]]], {"a": 1, "b": [True, None]}, {}, [shared_list, shared_list],
        collections.OrderedDict([("x", 1)]),
    ]
    for value in cases:
        data = pickle.dumps(value, protocol=2)
        expected["pickles"].append({"hex": data.hex(), "value": to_json(value)})

    write_fuzz_cases(os.path.join(OUT, "torch_fuzz_cases.json"))

    with open(os.path.join(OUT, "expected.json"), "w") as f:
        json.dump(expected, f, indent=1, sort_keys=True)
        f.write("\n")
    print("wrote fixtures to", os.path.normpath(OUT))


class ViewStorage:
    """Stands for a storage view in the hand-made legacy pickle below."""

    def __init__(self, pid):
        self.pid = pid


def write_legacy_view(path):
    """Legacy torch.save bytes whose two tensors use views of one root storage (view_metadata)."""
    root = np.arange(10, dtype="<f4") + 1.0  # 1..10
    view_a = ("storage", torch.FloatStorage, "root", "cpu", 10, ("va", 1, 5))  # root[1:6] = 2..6
    view_b = ("storage", torch.FloatStorage, "root", "cpu", 10, ("vb", 6, 4))  # root[6:10] = 7..10
    rebuild = torch._utils._rebuild_tensor_v2

    class Tensorish:
        def __init__(self, storage, offset, size, stride):
            self.args = (storage, offset, size, stride, False, collections.OrderedDict())

        def __reduce__(self):
            return (rebuild, self.args)

    obj = collections.OrderedDict(
        a=Tensorish(ViewStorage(view_a), 0, (4,), (1,)),  # va[0:4] = 2, 3, 4, 5
        b=Tensorish(ViewStorage(view_b), 0, (2, 2), (1, 2)),  # vb[i + 2j] = [[7, 9], [8, 10]]
    )
    buf = io.BytesIO()
    for value in (0x1950A86A20F9469CFC6C, 1001,
                  {"protocol_version": 1001, "little_endian": True, "type_sizes": {"short": 2, "int": 4, "long": 4}}):
        pickle.dump(value, buf, protocol=2)
    pickler = pickle.Pickler(buf, protocol=2)
    pickler.persistent_id = lambda o: o.pid if isinstance(o, ViewStorage) else None
    pickler.dump(obj)
    pickle.dump(["root"], buf, protocol=2)
    buf.write(struct.pack("<q", 10) + root.tobytes())
    with open(path, "wb") as f:
        f.write(buf.getvalue())


def mutate(data, ops):
    """Apply mutation ops (the TS test applies the same ones): flip/set a byte, truncate, delete, duplicate."""
    b = bytearray(data)
    for op in ops:
        if op[0] == "flip":
            b[op[1]] ^= 1 << op[2]
        elif op[0] == "set":
            b[op[1]] = op[2]
        elif op[0] == "trunc":
            del b[op[1]:]
        elif op[0] == "del":
            del b[op[1]:op[1] + op[2]]
        elif op[0] == "dup":
            b[op[3]:op[3]] = b[op[1]:op[1] + op[2]]
    return bytes(b)


def random_ops(rng, n, hot):
    """1-3 ops, mostly inside the first `hot` bytes (the pickles)."""
    ops = []
    for _ in range(rng.randint(1, 3)):
        r = rng.random()
        size = hot if rng.random() < 0.8 else n
        if r < 0.45:
            ops.append(["flip", rng.randrange(size), rng.randrange(8)])
        elif r < 0.7:
            ops.append(["set", rng.randrange(size), rng.choice([0, 1, 0x7F, 0x80, 0xFF, 0x2E, 0x28, 0x4E])])
        elif r < 0.8:
            ops.append(["trunc", rng.randrange(n)])
            n = ops[-1][1]
            hot = min(hot, n)
        elif r < 0.9:
            at = rng.randrange(size)
            ops.append(["del", at, rng.randint(1, 16)])
        else:
            ops.append(["dup", rng.randrange(size), rng.randint(1, 16), rng.randrange(size)])
        if n == 0:
            break
    return ops


def write_fuzz_cases(path):
    import random

    rng = random.Random(20240611)
    with open(os.path.join(OUT, "legacy_state_dict.bin"), "rb") as f:
        legacy = f.read()
    hot = legacy.rfind(b"\x80\x02]")  # the storage key list starts the tail end of the pickles
    with zipfile.ZipFile(os.path.join(OUT, "state_dict.bin")) as z:
        files = {i.filename: z.read(i.filename) for i in z.infolist()}
    pkl_name = "state_dict/data.pkl"
    pkl = files[pkl_name]

    def rezip(pkl_bytes):
        buf = io.BytesIO()
        with zipfile.ZipFile(buf, "w", zipfile.ZIP_STORED) as z:
            for name, data in files.items():
                put(z, name, pkl_bytes if name == pkl_name else data)
        return buf.getvalue()

    cases = {"legacy_original": outcome(legacy)["ok"], "pickle_original": outcome(rezip(pkl))["ok"],
             "legacy": [], "pickle": []}
    for _ in range(150):
        ops = random_ops(rng, len(legacy), hot + 64)
        cases["legacy"].append({"ops": ops, "torch": outcome(mutate(legacy, ops))})
    for _ in range(150):
        ops = random_ops(rng, len(pkl), len(pkl))
        cases["pickle"].append({"ops": ops, "torch": outcome(rezip(mutate(pkl, ops)))})
    with open(path, "w") as f:
        json.dump(cases, f, separators=(",", ":"))
        f.write("\n")


def to_json(v):
    """Python value -> JSON the test compares with: tuples {"tuple": [...]}, big ints {"int": "..."}."""
    if isinstance(v, bool) or v is None or isinstance(v, str):
        return v
    if isinstance(v, int):
        return v if abs(v) <= 2**53 - 1 else {"int": str(v)}
    if isinstance(v, float):
        return {"float": repr(v)} if v == 0 and math.copysign(1, v) < 0 else v
    if isinstance(v, tuple):
        return {"tuple": [to_json(x) for x in v]}
    if isinstance(v, list):
        return [to_json(x) for x in v]
    if isinstance(v, dict):
        return {"dict": [[to_json(k), to_json(x)] for k, x in v.items()]}
    raise TypeError(type(v))


if __name__ == "__main__":
    main()
