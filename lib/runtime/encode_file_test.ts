import { deepStrictEqual, ok, rejects } from "node:assert/strict";
import { encodeToFile, partialPaths } from "./encode_file.ts";

/** A fake embedding: [index of the sentence's first char code, its length, 0.1]. */
const fakeEmbed = (s: string[]) =>
  Promise.resolve(s.map((x) => new Float32Array([x.charCodeAt(0) || 0, x.length, 0.1])));

const exists = (p: string) => Deno.stat(p).then(() => true, () => false);

Deno.test("`encodeToFile()` writes one JSON array per line, in input order, as JSON.stringify writes them", async () => {
  const dir = await Deno.makeTempDir();
  await Deno.writeTextFile(`${dir}/in.txt`, "bb\rc\r\n\ndddd");
  const r = await encodeToFile({
    input: `${dir}/in.txt`,
    output: `${dir}/out.jsonl`,
    embed: fakeEmbed,
    identity: {},
    windowSize: 2,
  });
  deepStrictEqual(r, { lines: 4, dim: 3, resumedLines: 0, complete: true });
  // Float32 0.1 is 0.10000000149011612 as a double.
  deepStrictEqual(
    await Deno.readTextFile(`${dir}/out.jsonl`),
    "[98,2,0.10000000149011612]\n[99,1,0.10000000149011612]\n[0,0,0.10000000149011612]\n[100,4,0.10000000149011612]\n",
  );
  ok(!(await exists(partialPaths(`${dir}/out.jsonl`).data)), "no partial file left");
  ok(!(await exists(partialPaths(`${dir}/out.jsonl`).state)), "no state file left");
  await rejects(
    encodeToFile({
      input: `${dir}/in.txt`,
      output: `${dir}/x.jsonl`,
      embed: fakeEmbed,
      identity: {},
      resume: true,
    }),
    /x\.jsonl\.partial\.json: no partial encode to resume/,
  );
  await Deno.remove(dir, { recursive: true });
});

Deno.test("an interrupted `encodeToFile()` keeps the previous output, and resume gives the uninterrupted file byte for byte", async () => {
  const dir = await Deno.makeTempDir();
  const lines = Array.from({ length: 103 }, (_, i) => `sentence ${"x".repeat(i % 7)} ${i}`);
  await Deno.writeTextFile(`${dir}/in.txt`, lines.join("\n") + "\n");
  const base = {
    input: `${dir}/in.txt`,
    embed: fakeEmbed,
    identity: { model: "m", pooler: "avg" },
    windowSize: 10,
  };
  await encodeToFile({ ...base, output: `${dir}/full.jsonl` });
  const full = await Deno.readFile(`${dir}/full.jsonl`);

  const out = `${dir}/out.jsonl`;
  await Deno.writeTextFile(out, "previous\n");
  // A crash in the fifth window (after four were flushed).
  let calls = 0;
  const crashing = (s: string[]) => {
    if (++calls === 5) return Promise.reject(new Error("simulated crash"));
    return fakeEmbed(s);
  };
  await rejects(encodeToFile({ ...base, output: out, embed: crashing }), /simulated crash/);
  deepStrictEqual(await Deno.readTextFile(out), "previous\n", "the previous output is untouched");
  const state = JSON.parse(await Deno.readTextFile(partialPaths(out).state));
  deepStrictEqual(state.lines, 40);
  // A torn tail after the last flush (as a kill in the middle of a write leaves it).
  const f = await Deno.open(partialPaths(out).data, { append: true });
  await f.write(new TextEncoder().encode("[1,2,"));
  f.close();

  // Resume is refused for another model, pooler or input...
  await rejects(
    encodeToFile({ ...base, output: out, identity: { model: "m2", pooler: "avg" }, resume: true }),
    /different model; resume with the same model and flags/,
  );
  await Deno.writeTextFile(`${dir}/other.txt`, ["changed", ...lines.slice(1)].join("\n"));
  await rejects(
    encodeToFile({ ...base, output: out, input: `${dir}/other.txt`, resume: true }),
    /other\.txt: this input is not the one the partial encode of 40 lines was made from/,
  );
  await Deno.writeTextFile(`${dir}/short.txt`, lines.slice(0, 30).join("\n"));
  await rejects(
    encodeToFile({ ...base, output: out, input: `${dir}/short.txt`, resume: true }),
    /short\.txt: this input is not the one/,
  );
  // ...and continues the same one, embedding only the lines not yet written.
  let embedded = 0;
  const r = await encodeToFile({
    ...base,
    output: out,
    resume: true,
    embed: (s) => {
      embedded += s.length;
      return fakeEmbed(s);
    },
  });
  deepStrictEqual(r, { lines: 103, dim: 3, resumedLines: 40, complete: true });
  deepStrictEqual(embedded, 63);
  deepStrictEqual(await Deno.readFile(out), full, "resumed file equals the uninterrupted one");
  ok(!(await exists(partialPaths(out).state)));
  await Deno.remove(dir, { recursive: true });
});

Deno.test("`encodeToFile()` refuses a NaN or Inf embedding with the input line, and writes nothing", async () => {
  const dir = await Deno.makeTempDir();
  await Deno.writeTextFile(`${dir}/in.txt`, "a\nb\nc\n");
  const embed = (s: string[]) => Promise.resolve(s.map((x) => new Float32Array([x === "c" ? NaN : 1, 2])));
  await rejects(
    encodeToFile({ input: `${dir}/in.txt`, output: `${dir}/o.jsonl`, embed, identity: {}, windowSize: 2 }),
    /in\.txt:3: the embedding of this line has NaN values/,
  );
  deepStrictEqual((await Array.fromAsync(Deno.readDir(dir))).map((e) => e.name), ["in.txt"]);
  await Deno.remove(dir, { recursive: true });
});

Deno.test("`encodeToFile()` with signal.stop ends after the window in progress and keeps the partial file", async () => {
  const dir = await Deno.makeTempDir();
  await Deno.writeTextFile(`${dir}/in.txt`, "a\nb\nc\nd\ne\n");
  const signal = { stop: false };
  const r = await encodeToFile({
    input: `${dir}/in.txt`,
    output: `${dir}/o.jsonl`,
    embed: (s) => {
      signal.stop = true;
      return fakeEmbed(s);
    },
    identity: {},
    windowSize: 2,
    signal,
  });
  deepStrictEqual(r, { lines: 2, dim: 3, resumedLines: 0, complete: false });
  ok(!(await exists(`${dir}/o.jsonl`)));
  deepStrictEqual((await Deno.readTextFile(`${dir}/o.jsonl.partial`)).split("\n").length, 3);
  await Deno.remove(dir, { recursive: true });
});

Deno.test({
  name: "`encodeToFile()` writes more than V8's longest string (2**29 - 24 chars) of JSONL in bounded memory",
  fn: async () => {
    // 768-d vectors as a 768-d BERT gives: each line is ~14.6 kB, so 40,000 lines are ~585 MB of
    // text, past the 536,870,888 characters a V8 string can hold (building the output as one string
    // threw "Invalid string length" at ~35k such lines). Runs in a child process whose peak RSS
    // (VmHWM) is read from /proc.
    const dir = await Deno.makeTempDir();
    const N = 40_000, H = 768;
    const input = Array.from({ length: N }, (_, i) => `s${i}`).join("\n") + "\n";
    await Deno.writeTextFile(`${dir}/in.txt`, input);
    const code = `import { encodeToFile } from ${
      JSON.stringify(new URL("./encode_file.ts", import.meta.url).href)
    };
const H = ${H};
// Deterministic values with long decimal forms, as real embeddings have.
const embed = (s) => Promise.resolve(s.map((x) => {
  const i = Number(x.slice(1));
  const v = new Float32Array(H);
  for (let j = 0; j < H; j++) v[j] = Math.sin(i * 0.001 + j) * 0.987654321;
  return v;
}));
await encodeToFile({ input: ${JSON.stringify(`${dir}/in.txt`)}, output: ${
      JSON.stringify(`${dir}/out.jsonl`)
    }, embed, identity: {}, windowSize: 1024 });
const status = Deno.readTextFileSync("/proc/self/status");
console.log(status.match(/VmHWM:\\s+(\\d+) kB/)[1]);`;
    const out = await new Deno.Command(Deno.execPath(), {
      args: ["eval", code],
      stdout: "piped",
      stderr: "piped",
    }).output();
    const stderr = new TextDecoder().decode(out.stderr);
    ok(out.success, stderr);
    const peakMiB = Number(new TextDecoder().decode(out.stdout).trim()) / 1024;

    // Count lines and bytes without reading the file into one string.
    let lines = 0, bytes = 0, first = "", last = "";
    const f = await Deno.open(`${dir}/out.jsonl`);
    const buf = new Uint8Array(1 << 20);
    let tail = new Uint8Array(0);
    for (let n = await f.read(buf); n !== null; n = await f.read(buf)) {
      bytes += n;
      for (let i = 0; i < n; i++) if (buf[i] === 10) lines++;
      if (!first) first = new TextDecoder().decode(buf.subarray(0, buf.indexOf(10)));
      const both = new Uint8Array(tail.length + n);
      both.set(tail);
      both.set(buf.subarray(0, n), tail.length);
      tail = both.slice(-40_000);
    }
    f.close();
    const t = new TextDecoder().decode(tail).split("\n");
    last = t[t.length - 2];
    console.log(
      `  ${lines} lines, ${(bytes / 2 ** 20).toFixed(0)} MiB, child peak RSS ${peakMiB.toFixed(0)} MiB`,
    );
    deepStrictEqual(lines, N);
    ok(bytes > 2 ** 29 - 24, `output is ${bytes} bytes, not past the string limit`);
    // The first and last rows against values computed here, independently, in float32.
    for (const [row, i] of [[first, 0], [last, N - 1]] as const) {
      const want = Array.from({ length: H }, (_, j) => Math.fround(Math.sin(i * 0.001 + j) * 0.987654321));
      deepStrictEqual(JSON.parse(row), want, `row ${i}`);
    }
    ok(peakMiB < 300, `peak RSS ${peakMiB.toFixed(0)} MiB for ${(bytes / 2 ** 20).toFixed(0)} MiB written`);
    await Deno.remove(dir, { recursive: true });
  },
});
