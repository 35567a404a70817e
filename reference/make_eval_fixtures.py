#!/usr/bin/python3
"""Reference values for lib/eval (spearman.ts, sts_data.ts, sts_eval.ts, table.ts).

Run:  /usr/bin/python3 reference/make_eval_fixtures.py [DATA_DIR]
      (DATA_DIR defaults to $SIMCSE_DATA_DIR, else ../shared/data next to the repository)

Writes two files under testdata/eval/:

* stats.json: scipy.stats.rankdata / pearsonr / spearmanr on arrays with many ties, negative
  values, constant input (NaN), a NaN element, and one large generated case (n = 200000) whose
  generator is simple integer arithmetic that the TypeScript test repeats (the data is not stored).
* sts_fake.json: an independent end-to-end check. This file re-implements SentEval's STS loading
  (empty-gold filtering, whitespace split + join, stable sort by (len tok1, len tok2, gold)),
  SimCSE-jittor's Chinese loading, SentEval's batching (128 first sentences, then the 128
  second sentences) and its aggregation ("all" = Spearman over the concatenated subsets), then
  scores every set in /work/shared/data with a deterministic fake embedding that the TS test
  computes identically:

      v = 16 zeros
      for i, ch in enumerate(text):          # code points, i is the code-point index
          v[(ord(ch) + 3 * i) % 16] += 1
      v[index_in_batch % 16] += 0.5          # index of the sentence inside its embed() call

  Only numbers are stored (counts, correlations, table cells, the gold scores and token counts
  of the first five sorted pairs, and a SHA-256 of the sorted texts), never the data itself.
"""

import hashlib
import io
import json
import math
import os
import sys
import warnings

import numpy as np
import scipy
from scipy.stats import pearsonr, rankdata, spearmanr

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OUT = os.path.join(REPO, "testdata", "eval")
BATCH = 128

STS_SUBSETS = {
    "STS12": ["MSRpar", "MSRvid", "SMTeuroparl", "surprise.OnWN", "surprise.SMTnews"],
    "STS13": ["FNWN", "headlines", "OnWN"],
    "STS14": ["deft-forum", "deft-news", "headlines", "images", "OnWN", "tweet-news"],
    "STS15": ["answers-forums", "answers-students", "belief", "headlines", "images"],
    "STS16": ["answer-answer", "headlines", "plagiarism", "postediting", "question-question"],
}
ZH = {"LCQMC": "zh/lcqmc/LCQMC", "PAWSX": "zh/pawsx/PAWSX", "STSB-zh": "zh/stsb/STS-B"}


def nan_to_null(x):
    x = float(x)
    return None if math.isnan(x) else x


# ------------------------------------------------------------------------------------------
# 1. scipy statistics


def large_case(n):
    """Integer arithmetic the TS test repeats exactly; many ties, negative values."""
    i = np.arange(n, dtype=np.int64)
    x = ((i * 7919 + 17) % 1009 - 504).astype(np.float64)
    y = ((i * 104729 + 3) % 997).astype(np.float64) * 0.5 + x * 0.25
    return x, y


def stats_case(name, x, y, store_data=True):
    x = np.asarray(x, dtype=np.float64)
    y = np.asarray(y, dtype=np.float64)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            p = pearsonr(x, y)[0]
        except ValueError:  # scipy 1.10 refuses NaN here; spearmanr propagates it as NaN
            p = float("nan")
        s = spearmanr(x, y)[0]
    case = {"name": name, "pearson": nan_to_null(p), "spearman": nan_to_null(s)}
    if store_data:
        case["x"] = [nan_to_null(v) for v in x]
        case["y"] = [nan_to_null(v) for v in y]
        case["rank_x"] = [nan_to_null(v) for v in rankdata(x, method="average")]
        case["rank_y"] = [nan_to_null(v) for v in rankdata(y, method="average")]
    return case


def make_stats():
    rng = np.random.RandomState(1234)
    cases = []
    cases.append(stats_case("hand_ties", [1, 2, 2, 3, 3, 3, 4, 5, 5, 0], [0, 1, 3, 2, 2, 5, 4, 4, 1, 0]))
    xi = rng.randint(0, 6, size=300)
    cases.append(stats_case("int_ties_n300", xi, xi + rng.randint(-2, 3, size=300)))
    xf = np.round(rng.randn(150) * 3, 1)
    cases.append(stats_case("negative_rounded", xf, np.round(-0.7 * xf + rng.randn(150), 1)))
    cases.append(stats_case("all_tied_y_but_two", rng.randn(20), [1.0] * 18 + [2.0, 0.5]))
    cases.append(stats_case("constant_x", [2.5] * 10, list(range(10))))
    cases.append(stats_case("nan_in_x", [1, 2, float("nan"), 4, 5], [5, 3, 4, 1, 2]))
    cases.append(stats_case("perfect_negative", [3, 1, 2, -7], [-3, -1, -2, 7]))
    x, y = large_case(200000)
    big = stats_case("large_generated_n200000", x, y, store_data=False)
    big["n"] = 200000
    cases.append(big)
    return {"scipy": scipy.__version__, "cases": cases}


# ------------------------------------------------------------------------------------------
# 2. SentEval re-implementation with a fake embedding


def fake_vec(text, index_in_batch):
    v = [0.0] * 16
    for i, ch in enumerate(text):
        v[(ord(ch) + 3 * i) % 16] += 1.0
    v[index_in_batch % 16] += 0.5
    return v


def cosine(u, v):
    dot = uu = vv = 0.0
    for a, b in zip(u, v):
        dot += a * b
        uu += a * a
        vv += b * b
    c = dot / (math.sqrt(uu) * math.sqrt(vv)) if uu > 0 and vv > 0 else float("nan")
    return 0.0 if math.isnan(c) else c


def run_pairs(s1, s2):
    """SentEval's STSEval.run inner loop with the fake batcher (texts already joined)."""
    sys_scores = []
    for ii in range(0, len(s1), BATCH):
        b1 = s1[ii:ii + BATCH]
        b2 = s2[ii:ii + BATCH]
        e1 = [fake_vec(t, k) for k, t in enumerate(b1)]
        e2 = [fake_vec(t, k) for k, t in enumerate(b2)]
        for kk in range(len(e2)):
            sys_scores.append(cosine(e1[kk], e2[kk]))
    return sys_scores


def order_hash(s1, s2):
    h = hashlib.sha256()
    for a, b in zip(s1, s2):
        h.update((a + "\t" + b + "\n").encode("utf-8"))
    return h.hexdigest()


def read_lines(path):
    with io.open(path, encoding="utf8") as f:
        return f.read().splitlines()


def load_sts_subset(folder, name):
    rows = [l.split("\t") for l in read_lines(os.path.join(folder, "STS.input.%s.txt" % name))]
    gold_lines = read_lines(os.path.join(folder, "STS.gs.%s.txt" % name))
    assert len(rows) == len(gold_lines), name
    kept = []
    for row, g in zip(rows, gold_lines):
        assert len(row) == 2
        if g == "":
            continue
        kept.append((row[0].split(), row[1].split(), float(g)))
    kept = sorted(kept, key=lambda z: (len(z[0]), len(z[1]), z[2]))
    return kept


def load_tabbed(path, skip_header, c_score, c1, c2):
    out = []
    with io.open(path, encoding="utf8") as f:
        for k, line in enumerate(f):
            if skip_header and k == 0:
                continue
            t = line.strip().split("\t")
            out.append((t[c1].split(), t[c2].split(), float(t[c_score])))
    return out


def load_zh(path):
    rows = []
    for l in read_lines(path):
        f = l.split("\t")
        assert len(f) == 3
        rows.append((f[0], f[1], float(f[2])))
    return sorted(rows, key=lambda z: (len(z[0]), len(z[1]), z[2]))


def corr(sys_scores, gold):
    return {
        "n": len(gold),
        "spearman": nan_to_null(spearmanr(sys_scores, gold)[0]),
        "pearson": nan_to_null(pearsonr(sys_scores, gold)[0]),
    }


def job_record(name, pairs, texts1, texts2):
    gold = [p[2] for p in pairs]
    sys_scores = run_pairs(texts1, texts2)
    rec = corr(sys_scores, gold)
    rec["name"] = name
    rec["head"] = [[len(p[0]), len(p[1]), p[2]] for p in pairs[:5]]
    rec["sha256"] = order_hash(texts1, texts2)
    return rec, sys_scores, gold


def make_sts(data):
    tasks = {}
    for year, subsets in STS_SUBSETS.items():
        folder = os.path.join(data, "senteval", "STS", "%s-en-test" % year)
        subs, all_sys, all_gold = [], [], []
        for name in subsets:
            pairs = load_sts_subset(folder, name)
            t1 = [" ".join(p[0]) for p in pairs]
            t2 = [" ".join(p[1]) for p in pairs]
            rec, sys_scores, gold = job_record(name, pairs, t1, t2)
            subs.append(rec)
            all_sys += sys_scores
            all_gold += gold
        rec = corr(all_sys, all_gold)
        rec["subsets"] = subs
        rec["mean_spearman"] = float(np.average([s["spearman"] for s in subs]))
        rec["wmean_spearman"] = float(np.average([s["spearman"] for s in subs], weights=[s["n"] for s in subs]))
        tasks[year] = {"test": rec}

    stsb = os.path.join(data, "senteval", "STS", "STSBenchmark")
    sick = os.path.join(data, "senteval", "SICK")
    tasks["STSBenchmark"] = {}
    tasks["SICKRelatedness"] = {}
    for split, sick_name in (("dev", "SICK_trial.txt"), ("test", "SICK_test_annotated.txt")):
        for task, pairs in (
            ("STSBenchmark", load_tabbed(os.path.join(stsb, "sts-%s.csv" % split), False, 4, 5, 6)),
            ("SICKRelatedness", load_tabbed(os.path.join(sick, sick_name), True, 3, 1, 2)),
        ):
            t1 = [" ".join(p[0]) for p in pairs]
            t2 = [" ".join(p[1]) for p in pairs]
            tasks[task][split] = job_record(split, pairs, t1, t2)[0]

    for task, stem in ZH.items():
        tasks[task] = {}
        for split in ("valid", "test"):
            pairs = load_zh(os.path.join(data, stem + ".%s.data" % split))
            raw1 = [p[0] for p in pairs]
            raw2 = [p[1] for p in pairs]
            # SimCSE-jittor's batcher: " ".join(s) on a raw string spaces out every code point.
            rec = job_record(split, pairs, [" ".join(s) for s in raw1], [" ".join(s) for s in raw2])[0]
            rec["spearman_raw_text"] = job_record(split, pairs, raw1, raw2)[0]["spearman"]
            rec["sha256_raw"] = order_hash(raw1, raw2)
            tasks[task][split] = rec
    return tasks


def official_scores(tasks):
    """evaluation.py's printing: "%.2f" of Spearman*100 per task, Avg. of the rounded strings."""
    test = {}
    cells = []
    for t in ["STS12", "STS13", "STS14", "STS15", "STS16", "STSBenchmark", "SICKRelatedness"]:
        cells.append("%.2f" % (tasks[t]["test"]["spearman"] * 100))
        test[t] = cells[-1]
    test["Avg."] = "%.2f" % (sum([float(c) for c in cells]) / len(cells))
    for t in ZH:
        test[t] = "%.2f" % (tasks[t]["test"]["spearman"] * 100)
    dev = {t: "%.2f" % (tasks[t]["dev"]["spearman"] * 100) for t in ["STSBenchmark", "SICKRelatedness"]}
    for t in ZH:
        dev[t] = "%.2f" % (tasks[t]["valid"]["spearman"] * 100)
    return {"test": test, "dev": dev}


def main():
    data = sys.argv[1] if len(sys.argv) > 1 else os.environ.get(
        "SIMCSE_DATA_DIR", os.path.join(os.path.dirname(REPO), "shared", "data"))
    os.makedirs(OUT, exist_ok=True)
    with open(os.path.join(OUT, "stats.json"), "w") as f:
        json.dump(make_stats(), f, indent=1)
        f.write("\n")
    tasks = make_sts(data)
    fixture = {
        "note": "generated by reference/make_eval_fixtures.py; fake embedding defined there",
        "scipy": scipy.__version__,
        "batch_size": BATCH,
        "tasks": tasks,
        "scores": official_scores(tasks),
    }
    with open(os.path.join(OUT, "sts_fake.json"), "w") as f:
        json.dump(fixture, f, indent=1)
        f.write("\n")
    print(json.dumps(fixture["scores"], indent=1))


if __name__ == "__main__":
    main()
