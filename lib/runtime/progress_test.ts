import { ok, strictEqual } from "node:assert/strict";
import { formatDuration, ProgressBar } from "./progress.ts";

function sink(tty: boolean) {
  const out: string[] = [];
  return { out, sink: { tty, write: (t: string) => void out.push(t) } };
}

Deno.test("a bar that reaches its total ends its line, so the next message starts on its own line (tty)", () => {
  for (const total of [1, 2]) {
    const s = sink(true);
    const bar = new ProgressBar("encode", total, "sent", 100, true, s.sink);
    for (let i = 1; i <= total; i++) bar.update(i); // one or two batches, no finish()
    const text = s.out.join("");
    ok(text.endsWith("\n"), `line left open: ${JSON.stringify(text)}`);
    ok(text.includes(`${total}/${total}`), text);
    const before = s.out.length;
    bar.finish();
    strictEqual(s.out.length, before, "finish() after the total prints nothing more");
  }
});

Deno.test("off a terminal the final state is printed once, whether or not finish() is called", () => {
  const s = sink(false);
  const bar = new ProgressBar("train", 3, "step", 10_000, true, s.sink);
  bar.update(1);
  bar.update(3);
  bar.finish();
  const lines = s.out.join("").split("\n").filter(Boolean);
  strictEqual(lines.filter((l) => l.includes("3/3")).length, 1, lines.join("\n"));
  // a bar finished early ends its line too
  const t = sink(true);
  const early = new ProgressBar("eval", 10, "pair", 100, true, t.sink);
  early.update(4);
  early.finish();
  ok(t.out.join("").endsWith("\n"));
  // disabled: silent
  const q = sink(true);
  const off = new ProgressBar("x", 2, "it", 100, false, q.sink);
  off.update(2);
  off.finish();
  strictEqual(q.out.join(""), "");
});

Deno.test("`formatDuration()` writes m:ss and h:mm:ss", () => {
  strictEqual(formatDuration(83), "1:23");
  strictEqual(formatDuration(3725), "1:02:05");
  strictEqual(formatDuration(Infinity), "?");
});

Deno.test("a bar with nothing done yet shows an unknown rate, not a billion seconds per item", () => {
  for (const total of [2000, NaN]) {
    const s = sink(false);
    const bar = new ProgressBar("encode", total, "sent", 0, true, s.sink);
    bar.update(0);
    const line = s.out.join("");
    ok(line.includes(" ? sent/s"), line);
    ok(!/s\/sent/.test(line), line);
  }
});
