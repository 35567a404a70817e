#!/usr/bin/python3
"""Write the download/unpack fixtures under testdata/fetch/ (run with /usr/bin/python3; standard library only).

The TypeScript tests (lib/fetch/*_test.ts) serve these files from a local HTTP server on 127.0.0.1 and unpack
the archives; every expected value (sizes, sha256, git blob sha1, member lists) comes from Python's hashlib,
tarfile and zipfile here, never from the code under test.

  files/config.json, files/vocab.txt, files/tokenizer_config.json, files/wiki.txt   small "hub" files
  files/blob.bin                 96 KiB of seeded pseudo-random bytes (the "LFS" weight file)
  senteval_mini.tar              PAX tar in SentEval's layout: STS/<year>/STS.{input,gs}.<subset>.txt for every
                                 subset the toolkit reads, STS/STSBenchmark/sts-*.csv, SICK/SICK_*.txt, plus
                                 directories, a transfer-task file (MR/, not extracted), a 130-character path,
                                 a non-ASCII name (PAX path record), an in-tree symlink (never created) and a
                                 pax global header
  gnu_dotslash.tar               GNU-format tar whose names start with "./" and one long name ('L' record)
  evil_dotdot.tar                a good file, then "STS/../../evil.txt"
  evil_abs.tar                   "/tmp/simcse_fetch_evil.txt"
  evil_symlink.tar               symlink STS/escape -> ../../../../etc/passwd
  evil_hardlink.tar              hard link STS/h -> /etc/passwd
  truncated.tar                  senteval_mini.tar cut in the middle of a member's data
  bad_header.tar                 senteval_mini.tar with one header byte changed (checksum no longer matches)
  senteval_cn_mini.zip           senteval_cn/{LCQMC,PAWSX}/*.{train,valid,test}.data (deflated) + macOS junk
  evil_dotdot.zip                senteval_cn/../../evil.data
  expected.json                  sizes and hashes of all of the above, and each tar's members as tarfile reads them

Run: /usr/bin/python3 reference/make_fetch_fixtures.py   (deterministic; rewrites identical files)
"""

import hashlib
import io
import json
import os
import random
import tarfile
import zipfile

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "testdata", "fetch")
MTIME = 1_600_000_000

# Subsets per STS year, as SentEval's sts.py (and lib/eval/sts_data.ts STS_SUBSETS) name them.
STS_SUBSETS = {
    "STS12": ["MSRpar", "MSRvid", "SMTeuroparl", "surprise.OnWN", "surprise.SMTnews"],
    "STS13": ["FNWN", "headlines", "OnWN"],
    "STS14": ["deft-forum", "deft-news", "headlines", "images", "OnWN", "tweet-news"],
    "STS15": ["answers-forums", "answers-students", "belief", "headlines", "images"],
    "STS16": ["answer-answer", "headlines", "plagiarism", "postediting", "question-question"],
}
LONG_NAME = "STS/STS15-en-test/STS.answers-forums/" + "attribution-" + "x" * 81 + ".txt"
assert len(LONG_NAME) > 100


def sha256(b):
    return hashlib.sha256(b).hexdigest()


def git_blob_sha1(b):
    return hashlib.sha1(b"blob %d\0" % len(b) + b).hexdigest()


def write(rel, data):
    path = os.path.join(OUT, rel)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "wb") as f:
        f.write(data)


def info(name, kind=tarfile.REGTYPE, size=0, linkname=""):
    ti = tarfile.TarInfo(name)
    ti.type = kind
    ti.size = size
    ti.linkname = linkname
    ti.mtime = MTIME
    ti.mode = 0o755 if kind == tarfile.DIRTYPE else 0o644
    ti.uid = ti.gid = 0
    ti.uname = ti.gname = ""
    return ti


def make_tar(members, fmt=tarfile.PAX_FORMAT, pax_headers=None):
    """members: list of (name, bytes | ('dir',) | ('symlink', target) | ('hardlink', target))."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=fmt, pax_headers=pax_headers or {}) as tf:
        for name, content in members:
            if isinstance(content, bytes):
                tf.addfile(info(name, size=len(content)), io.BytesIO(content))
            elif content[0] == "dir":
                tf.addfile(info(name, tarfile.DIRTYPE))
            elif content[0] == "symlink":
                tf.addfile(info(name, tarfile.SYMTYPE, linkname=content[1]))
            elif content[0] == "hardlink":
                tf.addfile(info(name, tarfile.LNKTYPE, linkname=content[1]))
    return buf.getvalue()


def tar_members(data):
    """The members as Python's tarfile reads them: the independent reference for the TS reader."""
    out = []
    with tarfile.open(fileobj=io.BytesIO(data), mode="r:") as tf:
        for m in tf.getmembers():
            kind = "file" if m.isreg() else "dir" if m.isdir() else "symlink" if m.issym() else (
                "hardlink" if m.islnk() else "other")
            rec = {"name": m.name, "type": kind, "size": m.size}
            if kind == "file":
                rec["sha256"] = sha256(tf.extractfile(m).read())
            if m.linkname:
                rec["linkname"] = m.linkname
            out.append(rec)
    return out


def senteval_members():
    members = [("STS/", ("dir",))]
    for year, subsets in STS_SUBSETS.items():
        members.append((f"STS/{year}-en-test/", ("dir",)))
        for s in subsets:
            members.append((f"STS/{year}-en-test/STS.input.{s}.txt",
                            f"{year} {s} sentence one\t{year} {s} sentence two\n".encode()))
            members.append((f"STS/{year}-en-test/STS.gs.{s}.txt", b"4.2\n"))
    members.append(("STS/STSBenchmark/", ("dir",)))
    for split in ["train", "dev", "test"]:
        members.append((f"STS/STSBenchmark/sts-{split}.csv",
                        f"main-captions\tMSRvid\t2012test\t0001\t5.000\tA plane is taking off.\tAn air plane is taking off.\n"
                        .encode()))
    members.append(("SICK/", ("dir",)))
    for split in ["train", "trial", "test_annotated"]:
        members.append((f"SICK/SICK_{split}.txt",
                        b"pair_ID\tsentence_A\tsentence_B\trelatedness_score\tentailment_judgment\r\n"
                        b"1\tA group of kids is playing.\tA group of boys is playing.\t4.5\tNEUTRAL\r\n"))
    members.append(("SICK/readme.txt", "SICK — CC BY-NC-SA 3.0\n".encode()))
    members.append(("SICK/readme_link", ("symlink", "readme.txt")))
    members.append(("MR/", ("dir",)))
    members.append(("MR/rt-polarity.pos", b"a transfer task file that fetch does not extract\n"))
    members.append((LONG_NAME, b"long path member\n"))
    members.append(("STS/STS16-en-test/notes-\u00fc\u4e2d.txt", "non-ASCII name\n".encode()))
    return members


def zip_bytes(entries):
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        for name, data in entries:
            zi = zipfile.ZipInfo(name, date_time=(2021, 1, 1, 0, 0, 0))
            zi.compress_type = zipfile.ZIP_DEFLATED
            zf.writestr(zi, data)
    return buf.getvalue()


def main():
    expected = {"format": "simcse-fetch-fixture", "version": 1, "files": {}, "tars": {}, "zips": {}}

    files = {
        "config.json": json.dumps({"model_type": "bert", "hidden_size": 32}, indent=2).encode() + b"\n",
        "vocab.txt": "\n".join(["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "the", "a"]).encode() + b"\n",
        "tokenizer_config.json": b'{"do_lower_case": true}\n',
        "wiki.txt": "YMCA in South Australia\nSouth Australia (SA)  has a unique position.\n".encode(),
        "blob.bin": random.Random(0).randbytes(96 * 1024),
    }
    for name, data in files.items():
        write(f"files/{name}", data)
        expected["files"][name] = {"size": len(data), "sha256": sha256(data), "git_sha1": git_blob_sha1(data)}

    good = make_tar(senteval_members(), pax_headers={"comment": "pax global header"})
    tars = {
        "senteval_mini.tar": good,
        "gnu_dotslash.tar": make_tar([
            ("./STS/", ("dir",)),
            ("./STS/STS12-en-test/STS.gs.MSRvid.txt", b"5.0\n"),
            ("./" + LONG_NAME, b"gnu long name\n"),
        ], fmt=tarfile.GNU_FORMAT),
        "evil_dotdot.tar": make_tar([("STS/ok.txt", b"fine\n"), ("STS/../../evil.txt", b"escaped!\n")]),
        "evil_abs.tar": make_tar([("/tmp/simcse_fetch_evil.txt", b"absolute!\n")]),
        "evil_symlink.tar": make_tar([("STS/escape", ("symlink", "../../../../etc/passwd"))]),
        "evil_hardlink.tar": make_tar([("STS/h", ("hardlink", "/etc/passwd"))]),
    }
    # Cut inside the data of the first STS12 input file (header at 512*k, data follows).
    cut_at = good.index(b"STS12 MSRpar sentence one") + 10
    tars["truncated.tar"] = good[:cut_at]
    bad = bytearray(good)
    first_file_header = good.index(b"STS/STS12-en-test/STS.input.MSRpar.txt")
    bad[first_file_header + 2] ^= 0x20  # 'S' -> 's' in the name: the stored checksum no longer matches
    tars["bad_header.tar"] = bytes(bad)

    for name, data in tars.items():
        write(name, data)
        rec = {"size": len(data), "sha256": sha256(data)}
        if name not in ("truncated.tar", "bad_header.tar"):
            rec["members"] = tar_members(data)
        expected["tars"][name] = rec

    zh = []
    for task in ["LCQMC", "PAWSX"]:
        for split in ["train", "valid", "test"]:
            zh.append((f"senteval_cn/{task}/{task}.{split}.data",
                       f"{task}句子一{split}\t{task}句子二\t1\n{task}问题\t{task}答案\t0\n".encode()))
    zips = {
        "senteval_cn_mini.zip": zip_bytes(zh + [("__MACOSX/senteval_cn/._LCQMC", b"\0\5\26\7"),
                                                ("senteval_cn/readme.txt", b"not extracted\n")]),
        "evil_dotdot.zip": zip_bytes([("senteval_cn/LCQMC/LCQMC.test.data", b"a\tb\t1\n"),
                                      ("senteval_cn/../../evil.data", b"escaped\n")]),
    }
    for name, data in zips.items():
        write(name, data)
        members = {}
        with zipfile.ZipFile(io.BytesIO(data)) as zf:
            for zi in zf.infolist():
                body = zf.read(zi)
                members[zi.filename] = {"size": len(body), "sha256": sha256(body)}
        expected["zips"][name] = {"size": len(data), "sha256": sha256(data), "members": members}

    write("expected.json", (json.dumps(expected, indent=1, ensure_ascii=False) + "\n").encode())
    total = sum(os.path.getsize(os.path.join(dp, f)) for dp, _, fs in os.walk(OUT) for f in fs)
    print(f"wrote {OUT} ({total} bytes)")


if __name__ == "__main__":
    main()
