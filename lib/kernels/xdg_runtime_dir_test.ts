import { deepStrictEqual, ok } from "node:assert/strict";
import { removeOrphans } from "./xdg_runtime_dir.ts";

const MODULE = new URL("./xdg_runtime_dir.ts", import.meta.url).href;

/** Run a child Deno that calls ensureXdgRuntimeDir with TMPDIR=tmp, then `then` (code). */
async function child(
  tmp: string,
  then: string,
  xdgRuntimeDir = "",
): Promise<{ code: number; stdout: string }> {
  const code = `import { ensureXdgRuntimeDir } from ${JSON.stringify(MODULE)};
ensureXdgRuntimeDir();
console.log(Deno.env.get("XDG_RUNTIME_DIR"));
${then}`;
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["eval", code],
    env: { TMPDIR: tmp, XDG_RUNTIME_DIR: xdgRuntimeDir },
    stdout: "piped",
    stderr: "inherit",
  }).output();
  return { code: out.code, stdout: new TextDecoder().decode(out.stdout).trim() };
}

const names = (dir: string) => [...Deno.readDirSync(dir)].map((e) => e.name).sort();

Deno.test("XDG_RUNTIME_DIR: a private folder, removed at exit, and a killed process's removed by the next", {
  ignore: Deno.build.os !== "linux",
}, async () => {
  const tmp = await Deno.makeTempDir({ prefix: "xdg_test_" });
  try {
    // a normal exit removes the folder it made (mode 0700)
    const normal = await child(
      tmp,
      `console.log((Deno.statSync(Deno.env.get("XDG_RUNTIME_DIR")).mode & 0o777).toString(8));`,
    );
    const [dir, mode] = normal.stdout.split("\n");
    ok(dir.startsWith(`${tmp}/simcse-xdg-`), dir);
    deepStrictEqual(mode, "700");
    deepStrictEqual(names(tmp), []);

    // SIGKILL leaves it behind
    const killed = await child(tmp, `Deno.kill(Deno.pid, "SIGKILL");`);
    deepStrictEqual(killed.code, 137);
    const orphan = killed.stdout.slice(tmp.length + 1);
    deepStrictEqual(names(tmp), [orphan]);

    // what the next process must leave: a live process's folder, a non-empty one, and other names
    const live = `simcse-xdg-${Deno.pid}-live`;
    const full = `simcse-xdg-999999999-full`; // no such process, but something is inside
    const other = "simcse-xdg-abc";
    for (const d of [live, full, other]) Deno.mkdirSync(`${tmp}/${d}`);
    Deno.writeTextFileSync(`${tmp}/${full}/keep`, "");
    const next = await child(tmp, "");
    deepStrictEqual(next.code, 0);
    deepStrictEqual(names(tmp), [full, live, other].sort(), "the orphan is gone, the rest stay");

    // a process killed while another runs: the one still running removes its folder when it ends
    const late = await child(tmp, `Deno.mkdirSync(Deno.env.get("TMPDIR") + "/simcse-xdg-999999998-late");`);
    deepStrictEqual(late.code, 0);
    deepStrictEqual(names(tmp), [full, live, other].sort(), "removed at exit");
  } finally {
    await Deno.remove(tmp, { recursive: true });
  }
});

Deno.test("XDG_RUNTIME_DIR: a folder already named is kept as it is", async () => {
  const tmp = await Deno.makeTempDir({ prefix: "xdg_test_" });
  try {
    deepStrictEqual((await child(tmp, "", tmp)).stdout, tmp);
    deepStrictEqual(names(tmp), []);
  } finally {
    await Deno.remove(tmp, { recursive: true });
  }
});

Deno.test("XDG_RUNTIME_DIR: no folder is removed where /proc does not show this process", {
  ignore: Deno.build.os !== "linux",
}, async () => {
  const tmp = await Deno.makeTempDir({ prefix: "xdg_test_" });
  try {
    const proc = `${tmp}/proc`; // a /proc that shows no process, this one neither
    Deno.mkdirSync(proc);
    Deno.mkdirSync(`${tmp}/simcse-xdg-${Deno.pid}-mine`);
    removeOrphans(tmp, proc);
    deepStrictEqual(names(tmp), ["proc", `simcse-xdg-${Deno.pid}-mine`]);
    Deno.mkdirSync(`${proc}/${Deno.pid}`); // now it shows this one only: the folder is kept, others' go
    Deno.mkdirSync(`${tmp}/simcse-xdg-1-other`);
    removeOrphans(tmp, proc);
    deepStrictEqual(names(tmp), ["proc", `simcse-xdg-${Deno.pid}-mine`]);
  } finally {
    await Deno.remove(tmp, { recursive: true });
  }
});
