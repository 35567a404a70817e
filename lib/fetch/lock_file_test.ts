import { deepStrictEqual, ok, rejects, strictEqual } from "node:assert/strict";
import { FetchLock, isAbsent, LOCK_FILE } from "./lock_file.ts";
import { InputError } from "../runtime/errors.ts";

const SHA = "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"; // sha256("abc")

Deno.test("`FetchLock` round-trips entries and absent markers through fetch.lock.json", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const lock = await FetchLock.open(dir);
    deepStrictEqual(lock.paths(), []);
    lock.set("wiki/w.txt", { url: "http://127.0.0.1/w", size: 3, sha256: SHA, source: "first-download" });
    lock.set("models/m/tokenizer.json", { url: "http://127.0.0.1/t", absent: true });
    await lock.save();
    const again = await FetchLock.open(dir);
    deepStrictEqual(again.paths(), ["models/m/tokenizer.json", "wiki/w.txt"]);
    const e = again.get("wiki/w.txt");
    ok(e && !isAbsent(e) && e.sha256 === SHA && e.size === 3 && typeof e.fetchedAt === "string");
    ok(isAbsent(again.get("models/m/tokenizer.json")));
    const json = JSON.parse(await Deno.readTextFile(`${dir}/${LOCK_FILE}`));
    strictEqual(json.format, "simcse-fetch-lock");
    deepStrictEqual(Object.keys(json.files), ["models/m/tokenizer.json", "wiki/w.txt"]);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("`FetchLock.open()` rejects a malformed lock file, naming it and the way out", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const bad = [
      "{not json",
      JSON.stringify({ format: "other", version: 1, files: {} }),
      JSON.stringify({ format: "simcse-fetch-lock", version: 1, files: [] }),
      JSON.stringify({
        format: "simcse-fetch-lock",
        version: 1,
        files: { a: { url: "u", size: -1, sha256: SHA } },
      }),
      JSON.stringify({
        format: "simcse-fetch-lock",
        version: 1,
        files: { a: { url: "u", size: 1, sha256: "xyz" } },
      }),
    ];
    for (const text of bad) {
      await Deno.writeTextFile(`${dir}/${LOCK_FILE}`, text);
      await rejects(FetchLock.open(dir), (e) => {
        ok(e instanceof InputError, String(e));
        ok(e.message.startsWith(`${dir}/${LOCK_FILE}: `) && /delete it/.test(e.message), e.message);
        return true;
      }, text);
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
