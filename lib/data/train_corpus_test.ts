/**
 * Tests for `train_corpus.ts`. Expectations are hand-written from the file contents (and, for
 * the wiki sample, from `wc -l` and the file's first/last lines).
 *
 * @module
 */

import { deepStrictEqual as assertEquals, ok as assert, rejects, throws } from "node:assert/strict";
import { InputError } from "../runtime/errors.ts";
import { firstInvalidUtf8, loadTrainFile, parseTrainBytes, trainFileFormat } from "./train_corpus.ts";

const enc = new TextEncoder();

const TMP = await Deno.makeTempDir({ prefix: "simcse_train_corpus_test_" });
globalThis.addEventListener("unload", () => Deno.removeSync(TMP, { recursive: true }));
let tmpCount = 0;

/** Write `content` to a fresh sub-folder of the test's temp dir under `name`; return the path. */
async function tempFile(name: string, content: string | Uint8Array): Promise<string> {
  const dir = `${TMP}/${tmpCount++}`;
  await Deno.mkdir(dir);
  const path = `${dir}/${name}`;
  await Deno.writeFile(path, typeof content === "string" ? enc.encode(content) : content);
  return path;
}

function dataDir(): string {
  const env = Deno.env.get("SIMCSE_DATA_DIR");
  if (env) return env;
  return new URL("../../../shared/data", import.meta.url).pathname;
}

/** Assert `fn` rejects with an InputError whose message contains every piece. */
async function rejectsInput(fn: () => Promise<unknown>, ...pieces: string[]): Promise<InputError> {
  let caught: unknown;
  try {
    await fn();
  } catch (e) {
    caught = e;
  }
  assert(caught instanceof InputError, `expected an InputError, got ${caught}`);
  for (const p of pieces) {
    assert(
      caught.message.includes(p),
      `message ${JSON.stringify(caught.message)} lacks ${JSON.stringify(p)}`,
    );
  }
  return caught;
}

Deno.test("`loadTrainFile()` reads the real wiki1m sample: 11,914 one-sentence rows", async () => {
  const path = `${dataDir()}/wiki/wiki1m_for_simcse.head.txt`;
  try {
    await Deno.stat(path);
  } catch {
    console.log(`skipped: ${path} not found (set SIMCSE_DATA_DIR)`);
    return;
  }
  const ex = await loadTrainFile(path);
  assertEquals(ex.columns, 1);
  assertEquals(ex.columnNames, ["text"]);
  assertEquals(ex.rows.length, 11914); // `wc -l`; the file ends with "\n"
  assertEquals(ex.rows[0], ["YMCA in South Australia"]);
  assert(ex.rows[11913][0].endsWith("access."), ex.rows[11913][0]);
  // line 2 holds "(SA) " + U+00A0 (no-break space); nothing but the line break is stripped
  assert(ex.rows[1][0].startsWith("South Australia (SA) \u00A0has a unique position"), ex.rows[1][0]);
  assert(ex.rows.every((r) => r.length === 1 && !r[0].includes("\n") && !r[0].includes("\r")));
});

Deno.test("`loadTrainFile()` .txt: LF/CRLF/CR line ends, empty lines kept, BOM dropped, spaces kept", async () => {
  const path = await tempFile("t.txt", "\uFEFFfirst line \r\nsecond\r\rfourth\n\n  sixth\tx  ");
  const ex = await loadTrainFile(path);
  assertEquals(ex.columns, 1);
  assertEquals(ex.rows, [["first line "], ["second"], [""], ["fourth"], [""], ["  sixth\tx  "]]);
  assertEquals(ex.file, path);
});

Deno.test("`loadTrainFile()` .txt: one final newline adds no row; a lone newline is one empty row", async () => {
  assertEquals((await loadTrainFile(await tempFile("a.txt", "a\nb\n"))).rows, [["a"], ["b"]]);
  assertEquals((await loadTrainFile(await tempFile("b.txt", "a\nb\n\n"))).rows, [["a"], ["b"], [""]]);
  assertEquals((await loadTrainFile(await tempFile("c.txt", "\n"))).rows, [[""]]);
  assertEquals((await loadTrainFile(await tempFile("d.txt", "only"))).rows, [["only"]]);
});

Deno.test("`loadTrainFile()` rejects an empty file and a BOM-only file", async () => {
  await rejectsInput(async () => loadTrainFile(await tempFile("e.txt", "")), "e.txt", "empty");
  await rejectsInput(async () => loadTrainFile(await tempFile("e.csv", "")), "e.csv", "empty");
  await rejectsInput(async () => loadTrainFile(await tempFile("bom.txt", "\uFEFF")), "bom.txt", "empty");
});

Deno.test("`loadTrainFile()` reports invalid UTF-8 with the byte offset and line", async () => {
  // "ab\ncd" is 5 bytes, so the stray 0xFF is byte 5, on line 2
  const bytes = new Uint8Array([0x61, 0x62, 0x0a, 0x63, 0x64, 0xff, 0x65, 0x66, 0x0a]);
  const e = await rejectsInput(
    async () => loadTrainFile(await tempFile("bad.txt", bytes)),
    "bad.txt:2",
    "@byte 5",
  );
  assertEquals(e.location.offset, 5);
  assertEquals(e.location.line, 2);
  // offsets count the BOM: EF BB BF, "é" = C3 A9, then a truncated 3-byte sequence E2 82 at byte 5
  const withBom = new Uint8Array([0xef, 0xbb, 0xbf, 0xc3, 0xa9, 0xe2, 0x82, 0x0a]);
  const e2 = await rejectsInput(async () => loadTrainFile(await tempFile("bom.csv", withBom)), "@byte 5");
  assertEquals(e2.location.line, 1);
});

Deno.test("`firstInvalidUtf8()` finds the first ill-formed sequence (Unicode table 3-7)", () => {
  const at = (...b: number[]) => firstInvalidUtf8(new Uint8Array(b));
  assertEquals(at(0x61, 0xc3, 0xa9, 0xe4, 0xb8, 0xad, 0xf0, 0x9f, 0x98, 0x80), -1); // a é 中 😀
  assertEquals(at(0x61, 0x80), 1); // stray continuation byte
  assertEquals(at(0xc0, 0xaf), 0); // overlong "/"
  assertEquals(at(0x61, 0xe0, 0x80, 0xaf), 1); // overlong 3-byte
  assertEquals(at(0xed, 0xa0, 0x80), 0); // UTF-16 surrogate D800
  assertEquals(at(0xf4, 0x90, 0x80, 0x80), 0); // above U+10FFFF
  assertEquals(at(0x61, 0x62, 0xf0, 0x9f, 0x98), 2); // truncated at end of input
  assertEquals(at(0xc3, 0x41), 0); // lead byte followed by ASCII
  assertEquals(at(0xf5, 0x80, 0x80, 0x80), 0); // F5 never appears
});

Deno.test("`loadTrainFile()` .csv: 3 columns with quoted commas, doubled quotes and line breaks", async () => {
  const csv = "sent0,sent1,hard_neg\n" +
    '"A man, a plan.","He said ""hi"".","Two\nlines"\n' +
    "\n" + // blank line: skipped, like pandas
    'plain "quote"s,"",x"y\n'; // quotes inside an unquoted field are literal (pandas, Python csv)
  const ex = await loadTrainFile(await tempFile("nli_for_simcse.csv", csv));
  assertEquals(ex.columns, 3);
  assertEquals(ex.columnNames, ["sent0", "sent1", "hard_neg"]);
  assertEquals(ex.rows, [
    ["A man, a plan.", 'He said "hi".', "Two\nlines"],
    ['plain "quote"s', "", 'x"y'],
  ]);
});

Deno.test("`loadTrainFile()` .csv: 2 columns, CRLF line ends and a BOM before the header", async () => {
  const ex = await loadTrainFile(await tempFile("pairs.csv", '\uFEFFsent0,sent1\r\na,b\r\n"c,d",e\r\n'));
  assertEquals(ex.columns, 2);
  assertEquals(ex.columnNames, ["sent0", "sent1"]);
  assertEquals(ex.rows, [["a", "b"], ["c,d", "e"]]);
});

Deno.test("`loadTrainFile()` .csv: 1 column is unsupervised; a comma inside it must be quoted", async () => {
  const ex = await loadTrainFile(await tempFile("one.csv", 'text\nhello world\n"x, y"\n'));
  assertEquals(ex.columns, 1);
  assertEquals(ex.rows, [["hello world"], ["x, y"]]);
  const e = await rejectsInput(
    async () => loadTrainFile(await tempFile("one.csv", "text\nok\nx, y\n")),
    "one.csv:3",
    "2 fields",
  );
  assertEquals(e.location.line, 3);
});

Deno.test("`loadTrainFile()` TAB-separated when the path contains 'tsv' or ends in .tsv", async () => {
  const content = 'sent0\tsent1\na, b\t"q\tr"\n';
  for (const name of ["data_tsv.csv", "pairs.tsv"]) {
    const ex = await loadTrainFile(await tempFile(name, content));
    assertEquals(ex.columns, 2, name);
    assertEquals(ex.rows, [["a, b", "q\tr"]], name);
  }
  assertEquals(trainFileFormat("/x/tsv/train.csv"), "tsv");
  assertEquals(trainFileFormat("train.csv"), "csv");
  assertEquals(trainFileFormat("wiki.TXT"), "text");
});

Deno.test("`loadTrainFile()` names file and line of a row with the wrong number of fields", async () => {
  // line 1 header, 2 ok, 3 blank (skipped), 4-5 one record spanning two lines, 6 too short
  const csv = 'sent0,sent1,hard_neg\na,b,c\n\n"multi\nline",b,c\nonly,two\n';
  const path = await tempFile("bad_rows.csv", csv);
  const e = await rejectsInput(() => loadTrainFile(path), `${path}:6`, "2 fields", "header has 3");
  assertEquals(e.location, { file: path, line: 6 });
  // too many fields, CRLF file
  const e2 = await rejectsInput(
    async () => loadTrainFile(await tempFile("long.csv", "sent0,sent1\r\na,b\r\nc,d,e\r\n")),
    "long.csv:3",
    "3 fields",
  );
  assertEquals(e2.location.line, 3);
});

Deno.test("`loadTrainFile()` rejects a header of 4 columns, a header without rows, an open quote", async () => {
  await rejectsInput(
    async () => loadTrainFile(await tempFile("four.csv", "a,b,c,d\n1,2,3,4\n")),
    "four.csv:1",
    "4 columns",
  );
  await rejectsInput(
    async () => loadTrainFile(await tempFile("hdr.csv", "sent0,sent1\n")),
    "hdr.csv",
    "no data rows",
  );
  await rejectsInput(
    async () => loadTrainFile(await tempFile("q.csv", 'a,b\n"open,x\ny,z\n')),
    "q.csv",
    "malformed CSV",
  );
});

Deno.test("`loadTrainFile()` rejects unsupported extensions and missing files", async () => {
  await rejectsInput(async () => loadTrainFile(await tempFile("x.json", "{}")), "x.json", "unsupported");
  await rejectsInput(
    () => loadTrainFile("/nonexistent/dir/train.txt"),
    "/nonexistent/dir/train.txt",
    "not found",
  );
  throws(
    () => trainFileFormat("noext"),
    (e: unknown) => e instanceof InputError && e.message.includes("unsupported"),
  );
});

Deno.test("`parseTrainBytes()` parses in-memory bytes with the format from the path", () => {
  const ex = parseTrainBytes(enc.encode("x\ny"), "mem.txt");
  assertEquals(ex.rows, [["x"], ["y"]]);
});

Deno.test("`loadTrainFile()` reads the first column of a Chinese .data file and names the line of a bad row", async () => {
  const dir = await Deno.makeTempDir();
  await Deno.writeTextFile(
    `${dir}/LCQMC.train.data`,
    '喜欢打篮球的男生喜欢什么样的女生\t爱打篮球的男生喜欢什么样的女生\t1\n我手机丢了，我想换个手机\t我想买个新手机，求推荐\t1\n"引号"留着\tb\t0\n',
  );
  const ex = await loadTrainFile(`${dir}/LCQMC.train.data`);
  assertEquals(ex.rows, [["喜欢打篮球的男生喜欢什么样的女生"], ["我手机丢了，我想换个手机"], ['"引号"留着']]);
  // CR-only line ends (old Mac files) are line breaks, as in .txt files: rows are not merged.
  await Deno.writeTextFile(`${dir}/cr.data`, "甲\tb\t1\r乙\td\t0\r丙\tf\t1\r");
  assertEquals((await loadTrainFile(`${dir}/cr.data`)).rows, [["甲"], ["乙"], ["丙"]]);
  await Deno.writeTextFile(`${dir}/bad.data`, "a\tb\t1\nonly two\tfields\n");
  await rejects(
    loadTrainFile(`${dir}/bad.data`),
    (e: Error) => e instanceof InputError && /bad\.data:2:/.test(e.message),
  );
  await Deno.remove(dir, { recursive: true });
});

Deno.test("`parseTrainBytes()` .csv splits records at LF, CRLF and lone CR alike, even mixed (as Python csv)", () => {
  // Python: list(csv.reader(io.StringIO('a,b\r"x\r y",z\r\nc,d\ne,f', newline="")))
  const ex = parseTrainBytes(enc.encode('a,b\r"x\r y",z\r\nc,d\ne,f'), "m.csv");
  assertEquals(ex.rows, [["x\r y", "z"], ["c", "d"], ["e", "f"]]);
  // a quote inside an unquoted field is literal; "" inside quotes is one quote; an empty last field
  assertEquals(parseTrainBytes(enc.encode('a,b\nx"y,"q""r"\nc,\n'), "q.csv").rows, [['x"y', 'q"r'], [
    "c",
    "",
  ]]);
});

Deno.test("`parseTrainBytes()` .csv refuses text after a closing quote and an unclosed quote, naming the line", () => {
  throws(() => parseTrainBytes(enc.encode('s0,s1\na,b\n"He said "hi" there",c\n'), "t.csv"), (e: Error) => {
    assert(
      e instanceof InputError && e.message.startsWith("t.csv:3: malformed CSV: text after the closing quote"),
    );
    return true;
  });
  throws(() => parseTrainBytes(enc.encode('s0,s1\na,"b\nc,d\n'), "u.csv"), (e: Error) => {
    assert(
      e instanceof InputError && e.message.startsWith("u.csv:2: malformed CSV: the quoted field opened"),
    );
    return true;
  });
  throws(() => parseTrainBytes(enc.encode('s0\ts1\n"a"b\tc\n'), "v.tsv"), /v\.tsv:2: malformed TSV/);
});
