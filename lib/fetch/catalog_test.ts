import { deepStrictEqual, ok, strictEqual } from "node:assert/strict";
import {
  CATALOG,
  fetchCommand,
  fetchHintForPath,
  findItem,
  mapSentevalCnMember,
  mapSentevalMember,
  modelFiles,
  modelFolder,
  type ModelItem,
  undeclaredSizeCap,
} from "./catalog.ts";
import { chineseFile, sickFile, STS_SUBSETS, stsBenchmarkFile } from "../eval/sts_data.ts";

const SHARED = Deno.env.get("SIMCSE_DATA_DIR") ?? new URL("../../../shared/data", import.meta.url).pathname;
const haveShared = await Deno.stat(`${SHARED}/senteval/STS`).then(() => true, () => false);

Deno.test("`findItem()` knows every name the issue lists, by id or alias, case-insensitively", () => {
  const want: [string, string][] = [
    ["bert-base-uncased", "bert-base-uncased"],
    ["GPT2", "gpt2"],
    ["gpt2-medium", "gpt2-medium"],
    ["bert-base-chinese", "bert-base-chinese"],
    ["google/bert_uncased_L-2_H-128_A-2", "google/bert_uncased_L-2_H-128_A-2"],
    ["bert-tiny", "google/bert_uncased_L-2_H-128_A-2"],
    ["bert_uncased_L-12_H-768_A-12", "google/bert_uncased_L-12_H-768_A-12"],
    ["unsup-simcse-bert-base-uncased", "princeton-nlp/unsup-simcse-bert-base-uncased"],
    ["princeton-nlp/sup-simcse-roberta-large", "princeton-nlp/sup-simcse-roberta-large"],
    ["senteval", "senteval"],
    ["wiki1m", "wiki1m"],
    ["nli", "nli"],
    ["senteval_cn", "senteval_cn"],
  ];
  for (const [q, name] of want) strictEqual(findItem(q)?.name, name, q);
  strictEqual(findItem("bert-base-uncasedd"), undefined);
  for (const kind of ["unsup", "sup"]) {
    for (const m of ["bert-base-uncased", "bert-large-uncased", "roberta-base", "roberta-large"]) {
      ok(findItem(`princeton-nlp/${kind}-simcse-${m}`), `${kind} ${m}`);
    }
  }
  strictEqual(CATALOG.filter((i) => i.name.startsWith("google/bert_uncased_")).length, 24);
});

Deno.test("catalog names, aliases and model folders are unique, pins are full commit hashes", () => {
  const folders = CATALOG.filter((i) => i.kind === "model").map((m) => modelFolder(m as ModelItem));
  strictEqual(new Set(folders).size, folders.length);
  ok(
    folders.includes("models/bert_uncased_L-2_H-128_A-2") &&
      folders.includes("models/unsup-simcse-bert-base-uncased"),
  );
  const seen = new Map<string, string>();
  for (const item of CATALOG) {
    for (const n of [item.name, ...item.aliases]) {
      const k = n.toLowerCase();
      ok(!seen.has(k) || seen.get(k) === item.name, `${n} used by ${seen.get(k)} and ${item.name}`);
      seen.set(k, item.name);
    }
    if (item.kind === "model") {
      ok(item.pinned ? /^[0-9a-f]{40}$/.test(item.revision) : item.revision === "main", item.name);
    }
  }
});

Deno.test("`modelFiles()` asks for safetensors before pytorch_model.bin, weights last, and the right tokenizer", () => {
  const bert = modelFiles("bert");
  deepStrictEqual(bert.at(-1), { names: ["model.safetensors", "pytorch_model.bin"], optional: false });
  deepStrictEqual(bert.filter((s) => !s.optional).map((s) => s.names[0]), [
    "config.json",
    "vocab.txt",
    "model.safetensors",
  ]);
  deepStrictEqual(modelFiles("gpt2").filter((s) => !s.optional).map((s) => s.names[0]), [
    "config.json",
    "vocab.json",
    "merges.txt",
    "model.safetensors",
  ]);
});

Deno.test("`mapSentevalMember()` keeps STS/ and SICK/ (under a few leading folders) and drops the rest", () => {
  const cases: [string, string | null][] = [
    ["STS/STS12-en-test/STS.input.MSRpar.txt", "senteval/STS/STS12-en-test/STS.input.MSRpar.txt"],
    ["SICK/SICK_trial.txt", "senteval/SICK/SICK_trial.txt"],
    ["downstream/STS/STSBenchmark/sts-dev.csv", "senteval/STS/STSBenchmark/sts-dev.csv"],
    ["MR/rt-polarity.pos", null],
    ["STS", null],
    ["a/b/c/d/STS/x", null],
  ];
  for (const [m, want] of cases) strictEqual(mapSentevalMember(m), want, m);
});

Deno.test("`mapSentevalCnMember()` maps by file name into zh/<task>/ and skips macOS junk", () => {
  const cases: [string, string | null][] = [
    ["senteval_cn/LCQMC/LCQMC.train.data", "zh/lcqmc/LCQMC.train.data"],
    ["PAWSX/PAWSX.valid.data", "zh/pawsx/PAWSX.valid.data"],
    ["senteval_cn/STS-B/STS-B.test.data", "zh/stsb/STS-B.test.data"],
    ["__MACOSX/senteval_cn/LCQMC/._LCQMC.train.data", null],
    ["__MACOSX/LCQMC/LCQMC.train.data", null],
    ["senteval_cn/readme.txt", null],
  ];
  for (const [m, want] of cases) strictEqual(mapSentevalCnMember(m), want, m);
});

Deno.test("data outputs are the files the eval loaders open", () => {
  const senteval = findItem("senteval")!;
  ok(senteval.kind === "data");
  strictEqual(senteval.outputs.length, 2 * (5 + 3 + 6 + 5 + 5) + 6);
  for (const [year, subsets] of Object.entries(STS_SUBSETS)) {
    for (const [name] of subsets) {
      for (const kind of ["input", "gs"]) {
        ok(
          senteval.outputs.includes(`senteval/STS/${year}-en-test/STS.${kind}.${name}.txt`),
          `${year} ${name}`,
        );
      }
    }
  }
  for (const s of ["train", "dev", "test"] as const) {
    ok(senteval.outputs.includes(stsBenchmarkFile("", s)), s);
    ok(senteval.outputs.includes(sickFile("", s)), s);
  }
  const cn = findItem("senteval_cn")!;
  ok(cn.kind === "data");
  for (const t of ["LCQMC", "PAWSX"] as const) {
    for (const s of ["train", "valid", "test"] as const) {
      ok(cn.outputs.includes(chineseFile("", t, s)), `${t} ${s}`);
    }
  }
});

Deno.test({
  name: "senteval outputs all exist in the shared evaluation-data folder (same layout)",
  ignore: !haveShared,
  fn: async () => {
    const senteval = findItem("senteval")!;
    ok(senteval.kind === "data");
    for (const rel of senteval.outputs) ok((await Deno.stat(`${SHARED}/${rel}`)).isFile, rel);
  },
});

Deno.test("`fetchCommand()` adds --data-dir only off the default, and quotes for the shell", () => {
  strictEqual(
    fetchCommand(["senteval"], { dataDir: "data", defaultDataDir: "data" }),
    "deno task fetch senteval",
  );
  strictEqual(
    fetchCommand(["senteval"], { dataDir: "./data/", defaultDataDir: "data" }),
    "deno task fetch senteval",
  );
  strictEqual(
    fetchCommand(["gpt2", "wiki1m"], {
      dataDir: "/my data",
      revision: "v1",
      baseUrl: "http://m",
      defaultDataDir: "data",
    }),
    "deno task fetch gpt2 wiki1m --data-dir '/my data' --revision v1 --base-url http://m",
  );
  strictEqual(fetchCommand(["x"], { dataDir: "/d", defaultDataDir: "/d/" }), "deno task fetch x");
});

Deno.test("`fetchHintForPath()` finds the item and data folder of model folders and data files", () => {
  const h = (p: string) => {
    const r = fetchHintForPath(p, { defaultDataDir: "data" });
    return r && { name: r.item.name, command: r.command, folder: r.folder };
  };
  deepStrictEqual(h("data/models/bert-base-uncased"), {
    name: "bert-base-uncased",
    command: "deno task fetch bert-base-uncased",
    folder: "data/models/bert-base-uncased",
  });
  deepStrictEqual(h("/x/y/models/unsup-simcse-bert-base-uncased/"), {
    name: "princeton-nlp/unsup-simcse-bert-base-uncased",
    command: "deno task fetch princeton-nlp/unsup-simcse-bert-base-uncased --data-dir /x/y",
    folder: "/x/y/models/unsup-simcse-bert-base-uncased",
  });
  deepStrictEqual(
    h("/x/y/models/bert_uncased_L-2_H-128_A-2/config.json")?.command,
    "deno task fetch google/bert_uncased_L-2_H-128_A-2 --data-dir /x/y",
  );
  // The full hub id as folder name: the command fills the canonical folder, which the hint names.
  deepStrictEqual(
    h("data/models/princeton-nlp/unsup-simcse-bert-base-uncased")?.folder,
    "data/models/unsup-simcse-bert-base-uncased",
  );
  deepStrictEqual(
    h("data/senteval/STS/STS12-en-test/STS.input.MSRpar.txt")?.command,
    "deno task fetch senteval",
  );
  deepStrictEqual(
    h("/srv/d/zh/lcqmc/LCQMC.test.data")?.command,
    "deno task fetch senteval_cn --data-dir /srv/d",
  );
  deepStrictEqual(h("wiki/wiki1m_for_simcse.txt")?.command, "deno task fetch wiki1m --data-dir .");
  strictEqual(h("data/zh/stsb/STS-B.test.data"), null);
  strictEqual(h("data/models/my-own-model"), null);
  strictEqual(h("data/models/bert-base-uncased-vocab"), null);
});

Deno.test("`undeclaredSizeCap()`: 32 MiB for a model's JSON/text files, twice the item's size (>= 64 MiB) otherwise", () => {
  const MiB = 1024 * 1024;
  const tiny = findItem("bert-tiny")!;
  deepStrictEqual(undeclaredSizeCap(tiny, "models/x/config.json"), {
    bytes: 32 * MiB,
    what: "a model's .json file",
  });
  deepStrictEqual(undeclaredSizeCap(tiny, "models/x/vocab.txt").bytes, 32 * MiB);
  strictEqual(
    undeclaredSizeCap(tiny, "models/x/pytorch_model.bin").bytes,
    Math.max(64 * MiB, 2 * tiny.approxBytes),
  );
  strictEqual(undeclaredSizeCap(findItem("wiki1m")!, "wiki/wiki1m_for_simcse.txt").bytes, 240e6);
  strictEqual(undeclaredSizeCap(findItem("senteval")!, ".downloads/senteval.tar").bytes, 179.6e6);
  strictEqual(undeclaredSizeCap(findItem("senteval_cn")!, ".downloads/senteval_cn.zip").bytes, 4096 * MiB);
});
