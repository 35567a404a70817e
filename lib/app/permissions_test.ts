import { deepStrictEqual, ok } from "node:assert/strict";

const MODULE = new URL("./permissions.ts", import.meta.url).href;

async function statesAfter(backend: string): Promise<{ dropped: string[]; ffi: string; run: string }> {
  const code = `import { dropUnusedPermissions } from ${JSON.stringify(MODULE)};
const dropped = await dropUnusedPermissions(${JSON.stringify(backend)});
const ffi = (await Deno.permissions.query({ name: "ffi" })).state;
const run = (await Deno.permissions.query({ name: "run" })).state;
console.log(JSON.stringify({ dropped, ffi, run }));`;
  const r = await new Deno.Command(Deno.execPath(), {
    args: ["eval", "--allow-ffi", "--allow-run", "--allow-read", code],
    stdout: "piped",
    stderr: "piped",
  }).output();
  ok(r.success, new TextDecoder().decode(r.stderr));
  return JSON.parse(new TextDecoder().decode(r.stdout));
}

Deno.test("`dropUnusedPermissions()` revokes FFI and subprocesses off the cpu backend and keeps them on it", async () => {
  const wasm = await statesAfter("wasm");
  deepStrictEqual(wasm.dropped, ["ffi", "run"]);
  ok(wasm.ffi !== "granted" && wasm.run !== "granted", JSON.stringify(wasm));
  deepStrictEqual(await statesAfter("cpu"), { dropped: [], ffi: "granted", run: "granted" });
});
