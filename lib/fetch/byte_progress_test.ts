import { ok, strictEqual } from "node:assert/strict";
import { ByteProgress, formatBytes } from "./byte_progress.ts";

Deno.test("`formatBytes()` uses binary units with one decimal", () => {
  strictEqual(formatBytes(0), "0 B");
  strictEqual(formatBytes(1023), "1023 B");
  strictEqual(formatBytes(1536), "1.5 KiB");
  strictEqual(formatBytes(440_473_133), "420.1 MiB");
  strictEqual(formatBytes(3 * 1024 ** 3), "3.0 GiB");
});

Deno.test("`ByteProgress` shows bytes of total, rate and ETA; resumes count from the offset", () => {
  const out: string[] = [];
  const bar = new ByteProgress("model.safetensors", 4096, 1024, { write: (t) => out.push(t), tty: false });
  bar.update(2048);
  bar.finish("done");
  strictEqual(out.length, 2);
  ok(/^model\.safetensors \[#{12}\.{12}\] 2\.0 KiB\/4\.0 KiB .*\/s ETA \d+:\d\d\n$/.test(out[0]), out[0]);
  ok(out[1].endsWith(" done\n"), out[1]);
  // Unknown total: no bar, no ETA.
  const out2: string[] = [];
  const b2 = new ByteProgress("x", undefined, 0, { write: (t) => out2.push(t), tty: true });
  b2.update(10);
  ok(out2[0].startsWith("\r\u001b[Kx 10 B ") && out2[0].endsWith("/s"), JSON.stringify(out2[0]));
});
