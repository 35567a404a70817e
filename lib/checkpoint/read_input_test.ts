import { deepStrictEqual as assertEquals } from "node:assert/strict";
import { readInputFile, readInputText } from "./read_input.ts";
import { assertInputError } from "./test_fixtures.ts";

Deno.test("`readInputFile()` returns the exact bytes and names a missing file or a folder", async () => {
  const dir = await Deno.makeTempDir();
  const bytes = Uint8Array.from({ length: 70000 }, (_, i) => (i * 31) & 255);
  await Deno.writeFile(`${dir}/a.bin`, bytes);
  assertEquals(await readInputFile(`${dir}/a.bin`), bytes);
  await Deno.writeFile(`${dir}/empty`, new Uint8Array(0));
  assertEquals((await readInputFile(`${dir}/empty`)).length, 0);
  await readInputFile(`${dir}/nope`).then(() => {
    throw new Error("no error");
  }, (e) => assertInputError(e, `${dir}/nope`, "file not found"));
  await readInputFile(dir).then(() => {
    throw new Error("no error");
  }, (e) => assertInputError(e, dir, "is a directory"));
  await Deno.writeFile(`${dir}/t.txt`, new Uint8Array([0x61, 0xff]));
  await readInputText(`${dir}/t.txt`).then(() => {
    throw new Error("no error");
  }, (e) => assertInputError(e, `${dir}/t.txt`, "not valid UTF-8"));
  await Deno.remove(dir, { recursive: true });
});
