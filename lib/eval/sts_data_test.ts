/**
 * Tests for sts_data.ts. Real-data checks compare against testdata/eval/sts_fake.json, written
 * by reference/make_eval_fixtures.py (an independent Python re-implementation of SentEval's
 * loaders); malformed-input checks use small hand-made files in a temp folder.
 */
import { deepStrictEqual as assertEquals, ok as assert } from "node:assert/strict";
import { InputError } from "../runtime/errors.ts";
import {
  type ChineseTask,
  codePointLength,
  loadChinese,
  loadSickRelatedness,
  loadStsBenchmark,
  loadStsSubset,
  loadStsYear,
  type PairList,
  pySplit,
  pyStrip,
  resolveDataDir,
  STS_SUBSETS,
  type StsYear,
} from "./sts_data.ts";

const DATA_DIR = Deno.env.get("SIMCSE_DATA_DIR") ??
  decodeURIComponent(new URL("../../../shared/data", import.meta.url).pathname);
const HAVE_DATA = await Deno.stat(`${DATA_DIR}/senteval/STS`).then(() => true, () => false);
if (!HAVE_DATA) console.warn(`sts_data_test: no data in ${DATA_DIR}; real-data tests are skipped`);

interface JobFixture {
  name: string;
  n: number;
  head: [number, number, number][];
  sha256: string;
  sha256_raw?: string;
}
const fixture: { tasks: Record<string, Record<string, JobFixture & { subsets?: JobFixture[] }>> } = JSON
  .parse(
    await Deno.readTextFile(new URL("../../testdata/eval/sts_fake.json", import.meta.url)),
  );

async function orderHash(s1: string[], s2: string[]): Promise<string> {
  const text = s1.map((a, i) => `${a}\t${s2[i]}\n`).join("");
  const digest = await crypto.subtle.digest("SHA-256", new TextEncoder().encode(text));
  return Array.from(new Uint8Array(digest), (b) => b.toString(16).padStart(2, "0")).join("");
}

function tokenHead(p: PairList): [number, number, number][] {
  return p.gold.slice(0, 5).map((g, i) => [pySplit(p.s1[i]).length, pySplit(p.s2[i]).length, g]);
}

async function expectInputError(p: Promise<unknown>, ...fragments: string[]): Promise<InputError> {
  try {
    await p;
  } catch (e) {
    assert(e instanceof InputError, `expected InputError, got ${e}`);
    for (const f of fragments) {
      assert(e.message.includes(f), `message ${JSON.stringify(e.message)} lacks ${f}`);
    }
    return e;
  }
  throw new Error("expected an InputError, nothing was thrown");
}

Deno.test({
  name: "`loadStsYear()` matches SentEval's counts, sort order and encoder text on STS12–16",
  ignore: !HAVE_DATA,
  fn: async () => {
    for (const year of Object.keys(STS_SUBSETS) as StsYear[]) {
      const subsets = await loadStsYear(DATA_DIR, year);
      const want = fixture.tasks[year].test.subsets!;
      assertEquals(subsets.map((s) => s.name), want.map((w) => w.name), year);
      for (const [i, s] of subsets.entries()) {
        assertEquals(s.gold.length, want[i].n, `${year} ${s.name} count`);
        assertEquals(tokenHead(s), want[i].head, `${year} ${s.name} first sorted pairs`);
        assertEquals(await orderHash(s.s1, s.s2), want[i].sha256, `${year} ${s.name} texts/order`);
      }
    }
  },
});

Deno.test({
  name: "`loadStsBenchmark()` and `loadSickRelatedness()` keep file order and SentEval's counts",
  ignore: !HAVE_DATA,
  fn: async () => {
    for (const split of ["dev", "test"] as const) {
      for (
        const [task, p] of [
          ["STSBenchmark", await loadStsBenchmark(DATA_DIR, split)],
          ["SICKRelatedness", await loadSickRelatedness(DATA_DIR, split)],
        ] as const
      ) {
        const want = fixture.tasks[task][split];
        assertEquals(p.gold.length, want.n, `${task} ${split}`);
        assertEquals(tokenHead(p), want.head, `${task} ${split} head`);
        assertEquals(await orderHash(p.s1, p.s2), want.sha256, `${task} ${split} texts/order`);
      }
    }
    assertEquals((await loadStsBenchmark(DATA_DIR, "train")).gold.length, 5749);
    assertEquals((await loadSickRelatedness(DATA_DIR, "train")).gold.length, 4500);
  },
});

Deno.test({
  name: "`loadChinese()` sorts by code-point length and keeps the raw text (inner U+FEFF included)",
  ignore: !HAVE_DATA,
  fn: async () => {
    for (const task of ["LCQMC", "PAWSX", "STSB-zh"] as ChineseTask[]) {
      for (const split of ["valid", "test"] as const) {
        const p = await loadChinese(DATA_DIR, task, split);
        const want = fixture.tasks[task][split];
        assertEquals(p.gold.length, want.n, `${task} ${split}`);
        const head = p.gold.slice(0, 5).map((
          g,
          i,
        ) => [codePointLength(p.s1[i]), codePointLength(p.s2[i]), g]);
        assertEquals(head, want.head, `${task} ${split} head`);
        assertEquals(await orderHash(p.s1, p.s2), want.sha256_raw, `${task} ${split} texts/order`);
      }
    }
    const lcqmc = await loadChinese(DATA_DIR, "LCQMC", "test");
    assertEquals(lcqmc.s1.filter((s) => s.includes("\uFEFF")).length, 1);
    assertEquals((await loadChinese(DATA_DIR, "STSB-zh", "train")).gold.length, 5231);
  },
});

Deno.test("`pySplit()` and `pyStrip()` use Python's whitespace set (U+00A0 yes, U+FEFF no)", () => {
  assertEquals(pySplit("  a\u00a0b\tc\u3000d\x1fe\u0085f\ufeffg  "), ["a", "b", "c", "d", "e", "f\ufeffg"]);
  assertEquals(pySplit(""), []);
  assertEquals(pyStrip("\u2029 x y \r\n"), "x y");
});

Deno.test("`resolveDataDir()` prefers the flag, then SIMCSE_DATA_DIR, then data/", () => {
  const env = (value?: string) => (name: string) => (name === "SIMCSE_DATA_DIR" ? value : undefined);
  assertEquals(resolveDataDir("/flag/dir", env("/env/dir")), "/flag/dir");
  assertEquals(resolveDataDir(undefined, env("/env/dir")), "/env/dir");
  assertEquals(resolveDataDir(undefined, env(undefined)), "data");
  assertEquals(resolveDataDir("", env("")), "data");
});

// ---------------------------------------------------------------------------------------------
// Small hand-made files

async function tempDir(files: Record<string, string | Uint8Array>): Promise<string> {
  const dir = await Deno.makeTempDir({ prefix: "sts_data_test_" });
  for (const [rel, content] of Object.entries(files)) {
    const path = `${dir}/${rel}`;
    await Deno.mkdir(path.slice(0, path.lastIndexOf("/")), { recursive: true });
    if (typeof content === "string") await Deno.writeTextFile(path, content);
    else await Deno.writeFile(path, content);
  }
  return dir;
}

Deno.test("`loadStsSubset()` drops empty-gold pairs, re-joins tokens and sorts stably (BOM, CRLF)", async () => {
  const dir = await tempDir({
    "STS.input.x.txt": "\uFEFFb  b b\tc\r\na a\tb\r\nskip me\tnot scored\r\nz\u00a0z\ty\r\nq q\tw\r\n",
    "STS.gs.x.txt": "1.5\r\n2\r\n\r\n0.5\r\n2\r\n",
  });
  try {
    const s = await loadStsSubset(dir, "x", 4);
    // Keys (len1, len2, gold): (3,1,1.5) (2,1,2) (2,1,0.5) (2,1,2): stable -> "z z", "a a", "q q", "b b b".
    assertEquals(s.s1, ["z z", "a a", "q q", "b b b"]);
    assertEquals(s.s2, ["y", "b", "w", "c"]);
    assertEquals(s.gold, [0.5, 2, 2, 1.5]);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("STS loaders throw `InputError` with file and line on malformed STS12–16 files", async () => {
  const dir = await tempDir({
    "STS.input.cols.txt": "a\tb\nonly one field\nc\td\n",
    "STS.gs.cols.txt": "1\n2\n3\n",
    "STS.input.score.txt": "a\tb\nc\td\ne\tf\n",
    "STS.gs.score.txt": "1\n\nfive\n",
    "STS.input.count.txt": "a\tb\nc\td\ne\tf\n",
    "STS.gs.count.txt": "1\n2\n",
    "STS.input.nogold.txt": "a\tb\n",
    "STS.input.empty.txt": "",
    "STS.gs.empty.txt": "",
  });
  try {
    await expectInputError(loadStsSubset(dir, "cols"), `${dir}/STS.input.cols.txt:2:`, "got 1");
    await expectInputError(loadStsSubset(dir, "score"), `${dir}/STS.gs.score.txt:3:`, "not a number");
    await expectInputError(loadStsSubset(dir, "count"), `${dir}/STS.gs.count.txt:3:`, "2 gold lines but 3");
    const e = await expectInputError(loadStsSubset(dir, "nogold"), `${dir}/STS.gs.nogold.txt`, "not found");
    assert(
      /--data-dir/.test(e.message) && /SIMCSE_DATA_DIR/.test(e.message) && /fetch senteval/.test(e.message),
    );
    await expectInputError(
      loadStsSubset(dir, "empty", 750),
      `${dir}/STS.gs.empty.txt`,
      "expected 750",
      "found 0",
    );
    await expectInputError(loadStsYear(dir, "STS13"), "STS13-en-test/STS.input.FNWN.txt", "not found");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("STS-B and SICK loaders throw `InputError` with file and line on malformed files", async () => {
  const good = "g\tf\t2012\t1\t2.5\ta  b\tc\n";
  const dir = await tempDir({
    "senteval/STS/STSBenchmark/sts-dev.csv": good + "g\tf\t2012\t2\t3.0\tonly s1\n",
    "senteval/STS/STSBenchmark/sts-test.csv": good + good + "g\tf\t2012\t3\tabc\ts1\ts2\n",
    "senteval/STS/STSBenchmark/sts-train.csv": good + 'g\tf\t2012\t2\t4\t"quoted\tx\tEXTRA\n',
    "senteval/SICK/SICK_trial.txt":
      "pair_ID\tsentence_A\tsentence_B\trelatedness_score\n1\ta\tb\t4.5\r\n2\ta b\r\n",
    "senteval/SICK/SICK_test_annotated.txt": "",
    "senteval/SICK/SICK_train.txt": "header\n1\t a \tb\t4.5\tNEUTRAL\r\n",
  });
  const noCount = { checkCounts: false };
  try {
    const dev = `${dir}/senteval/STS/STSBenchmark/sts-dev.csv`;
    await expectInputError(loadStsBenchmark(dir, "dev", noCount), `${dev}:2:`, "at least 7", "got 6");
    const test = `${dir}/senteval/STS/STSBenchmark/sts-test.csv`;
    await expectInputError(loadStsBenchmark(dir, "test", noCount), `${test}:3:`, '"abc" is not a number');
    // Count check: 2 good lines, but SentEval's sts-train.csv has 5749 pairs.
    await expectInputError(loadStsBenchmark(dir, "train"), "sts-train.csv", "expected 5749", "found 2");
    // No CSV quoting: the `"` stays, extra columns are ignored.
    assertEquals(await loadStsBenchmark(dir, "train", noCount), {
      s1: ["a b", '"quoted'],
      s2: ["c", "x"],
      gold: [2.5, 4],
    });
    const trial = `${dir}/senteval/SICK/SICK_trial.txt`;
    await expectInputError(loadSickRelatedness(dir, "dev", noCount), `${trial}:3:`, "got 2");
    await expectInputError(
      loadSickRelatedness(dir, "test", noCount),
      "SICK_test_annotated.txt",
      "empty file",
    );
    assertEquals(await loadSickRelatedness(dir, "train", noCount), { s1: ["a"], s2: ["b"], gold: [4.5] });
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("`loadChinese()` throws `InputError` with file and line; keeps quotes and inner spaces", async () => {
  const dir = await tempDir({
    "zh/lcqmc/LCQMC.valid.data": "你好\t您好\t1\n只有两列\t0\n",
    "zh/lcqmc/LCQMC.test.data": "a\tb\t1\n你\t好\tyes\n",
    "zh/pawsx/PAWSX.valid.data": "a\tb\t1\tEXTRA\n",
    "zh/pawsx/PAWSX.test.data": '\uFEFF"引号 x\t好\t1\r\n长一点\t\uFEFF短\t0\r\n',
  });
  const noCount = { checkCounts: false };
  try {
    await expectInputError(loadChinese(dir, "LCQMC", "valid", noCount), "LCQMC.valid.data:2:", "got 2");
    await expectInputError(loadChinese(dir, "LCQMC", "test", noCount), "LCQMC.test.data:2:", "not a number");
    await expectInputError(loadChinese(dir, "PAWSX", "valid", noCount), "PAWSX.valid.data:1:", "got 4");
    await expectInputError(loadChinese(dir, "PAWSX", "test"), "PAWSX.test.data", "expected 2000", "found 2");
    await expectInputError(
      loadChinese(dir, "STSB-zh", "test", noCount),
      "zh/stsb/STS-B.test.data",
      "not found",
    );
    // Sorted by code points of s1: "长一点" (3) before "\"引号 x" (5); leading BOM gone, inner one kept.
    assertEquals(await loadChinese(dir, "PAWSX", "test", noCount), {
      s1: ["长一点", '"引号 x'],
      s2: ["\uFEFF短", "好"],
      gold: [0, 1],
    });
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("pure parsers: a score of 1e999 (inf in Python) is refused; bad UTF-8 names line and byte", async () => {
  const { decodeDataText, parseChinese, parseSick, parseStsBenchmark } = await import("./sts_data.ts");
  const err = (f: () => unknown, fragment: string) => {
    try {
      f();
    } catch (e) {
      assert(
        e instanceof InputError && e.message.includes(fragment),
        `${(e as Error).message} lacks ${fragment}`,
      );
      return;
    }
    assert(false, `no error (${fragment})`);
  };
  err(() => parseChinese("a\tb\t1e999\n", "z.data"), 'z.data:1: score "1e999" is not a number');
  err(
    () => parseStsBenchmark("g\tf\ty\ti\t-1e400\ta\tb\n", "s.csv"),
    's.csv:1: score "-1e400" is not a number',
  );
  err(() => parseSick("", "k.txt"), "k.txt: empty file");
  err(
    () => decodeDataText(Uint8Array.of(0x61, 0x0a, 0x62, 0xc3, 0x28), "d.txt"),
    "d.txt:2 @byte 3: not valid UTF-8",
  );
  assertEquals(
    decodeDataText(Uint8Array.of(0xef, 0xbb, 0xbf, 0x61, 0x0d, 0x62, 0x0d, 0x0a), "d.txt"),
    "a\nb\n",
  );
  assertEquals(parseChinese("a\tb\t1e2\n", "z.data").gold, [100]);
});

Deno.test("gold scores out of range are refused with file:line: STS 0–5, SICK 1–5, LCQMC/PAWS-X labels 0/1", async () => {
  const { parseChinese, parseSick, parseStsBenchmark, parseStsSubset, GOLD_RANGES } = await import(
    "./sts_data.ts"
  );
  const refuses = (f: () => unknown, want: RegExp) => {
    try {
      f();
    } catch (e) {
      assert(
        e instanceof InputError && want.test(e.message),
        `${(e as Error).message} does not match ${want}`,
      );
      return;
    }
    assert(false, `no error (${want})`);
  };
  const stsb = (score: string) => `g\tf\ty\ti\t1.0\ta\tb\ng\tf\ty\ti\t${score}\ta\tb\n`;
  refuses(
    () => parseStsBenchmark(stsb("57"), "s.csv"),
    /^s\.csv:2: score "57" is not in 0–5 \(STS gold scores\)$/,
  );
  refuses(() => parseStsBenchmark(stsb("-3"), "s.csv"), /^s\.csv:2: score "-3" is not in 0–5/);
  refuses(() => parseStsBenchmark(stsb("5.0001"), "s.csv"), /^s\.csv:2: score "5\.0001" is not in 0–5/);
  assertEquals(parseStsBenchmark(stsb("0"), "s.csv").gold, [1, 0]);
  assertEquals(parseStsBenchmark(stsb("5.000"), "s.csv").gold, [1, 5]);
  const sick = (score: string) => `pair_ID\tA\tB\trelatedness_score\n1\ta\tb\t${score}\tNEUTRAL\n`;
  refuses(
    () => parseSick(sick("0.5"), "k.txt"),
    /^k\.txt:2: score "0\.5" is not in 1–5 \(SICK relatedness scores\)$/,
  );
  refuses(() => parseSick(sick("5.5"), "k.txt"), /^k\.txt:2: score "5\.5" is not in 1–5/);
  assertEquals(parseSick(sick("1"), "k.txt").gold, [1]);
  const src = { name: "x", inputFile: "in.txt", goldFile: "gs.txt" };
  refuses(
    () => parseStsSubset("a\tb\nc\td\n", "4.2\n-0.1\n", src),
    /^gs\.txt:2: score "-0\.1" is not in 0–5/,
  );
  assertEquals(parseStsSubset("a\tb\nc\td\n", "5\n0\n", src).gold, [0, 5]); // SentEval sorts by length, then gold
  const binary = { ...GOLD_RANGES.binary, what: "LCQMC labels" };
  refuses(
    () => parseChinese("a\tb\t1\nc\td\t0.5\n", "z.data", undefined, {}, binary),
    /^z\.data:2: score "0\.5" is not 0 or 1 \(LCQMC labels\)$/,
  );
  refuses(
    () => parseChinese("a\tb\t2\n", "z.data", undefined, {}, binary),
    /^z\.data:1: score "2" is not 0 or 1/,
  );
  assertEquals(parseChinese("a\tb\t1\nc\td\t0\n", "z.data", undefined, {}, binary).gold, [0, 1]);
});
