import { deepStrictEqual, ok, rejects } from "node:assert/strict";
import { countLines, readLines } from "./line_reader.ts";

async function collect(path: string): Promise<string[]> {
  const out: string[] = [];
  for await (const l of readLines(path)) out.push(l);
  return out;
}

Deno.test("`readLines()` splits at \\n, \\r\\n and a lone \\r, like Python's universal newlines", async () => {
  const dir = await Deno.makeTempDir();
  // Expected lists written by hand from Python's `open(path).read().splitlines()` semantics.
  const cases: [string, string[]][] = [
    ["one\rtwo\rthree\r", ["one", "two", "three"]], // CR-only (old Mac) file
    ["a\r\nb\r\n", ["a", "b"]],
    ["a\nb", ["a", "b"]],
    ["\ufeffbom\n\nlast", ["bom", "", "last"]],
    ["x\r\r\ny", ["x", "", "y"]],
    ["", []],
    ["\n", [""]],
  ];
  for (const [text, want] of cases) {
    await Deno.writeTextFile(`${dir}/t.txt`, text);
    deepStrictEqual(await collect(`${dir}/t.txt`), want, JSON.stringify(text));
    deepStrictEqual(await countLines(`${dir}/t.txt`), want.length);
  }
  await Deno.remove(dir, { recursive: true });
});

Deno.test("`readLines()` joins lines, \\r\\n pairs and UTF-8 characters split across read chunks", async () => {
  const dir = await Deno.makeTempDir();
  // 65536 is the reader's chunk: put a \r at its last byte and a 3-byte character across the next one.
  const a = "x".repeat(65535) + "\r\n";
  const b = "y".repeat(65536 - 1) + "€tail\rz";
  await Deno.writeTextFile(`${dir}/t.txt`, a + b);
  const got = await collect(`${dir}/t.txt`);
  deepStrictEqual(got.map((l) => l.length), [65535, 65535 + 5, 1]);
  ok(got[1].endsWith("€tail"));
  deepStrictEqual(await countLines(`${dir}/t.txt`), 3);
  await Deno.remove(dir, { recursive: true });
});

Deno.test("`readLines()` reads a pipe through /dev/stdin, whose size is 0 to stat", async () => {
  const code = `import { readLines } from ${
    JSON.stringify(new URL("./line_reader.ts", import.meta.url).href)
  };
let n = 0, last = "";
for await (const l of readLines("/dev/stdin")) { n++; last = l; }
console.log(n, last);`;
  const child = new Deno.Command(Deno.execPath(), {
    args: ["eval", code],
    stdin: "piped",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const w = child.stdin.getWriter();
  for (let i = 0; i < 1000; i++) await w.write(new TextEncoder().encode(`line ${i}\r`));
  await w.close();
  const out = await child.output();
  deepStrictEqual(
    new TextDecoder().decode(out.stdout).trim(),
    "1000 line 999",
    new TextDecoder().decode(out.stderr),
  );
});

Deno.test("`readLines()` names the file and line of invalid UTF-8, and a missing file", async () => {
  const dir = await Deno.makeTempDir();
  await Deno.writeFile(`${dir}/bad.txt`, new Uint8Array([0x61, 0x0a, 0x62, 0x0a, 0xff, 0x0a]));
  await rejects(collect(`${dir}/bad.txt`), /bad\.txt:3: file is not valid UTF-8 text/);
  await rejects(collect(`${dir}/none.txt`), /none\.txt: file not found/);
  await rejects(collect(dir), /is a directory/);
  await Deno.remove(dir, { recursive: true });
});
