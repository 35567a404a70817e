/**
 * A private `XDG_RUNTIME_DIR` for Deno's WebGPU start-up. Its Vulkan loader's window-system probing prints
 * "XDG_RUNTIME_DIR is invalid or not set" twice when that variable does not name a folder, which is common
 * in containers and CI. The probe needs no display; a private empty folder (mode 0700) silences it. We set
 * one rather than skip probing so that `auto` still finds a real GPU on such machines (docs/GPU.md).
 *
 * The folder is `simcse-xdg-<pid>-<random>` in the temporary folder, removed when the process ends
 * normally. A process that is killed (SIGKILL, a crash) cannot remove it, so each one also removes, on
 * Linux, the empty folders of that form whose process no longer runs, when it starts and when it ends.
 *
 * @module
 */

const PREFIX = "simcse-xdg-";
const ORPHAN = new RegExp(`^${PREFIX}(\\d+)-`);

/** Point `XDG_RUNTIME_DIR` at a private folder unless it already names one (no-op without permissions). */
export function ensureXdgRuntimeDir(): void {
  try {
    const cur = Deno.env.get("XDG_RUNTIME_DIR");
    if (cur && Deno.statSync(cur).isDirectory) return;
  } catch { /* unset or missing: make one below */ }
  try {
    const dir = Deno.makeTempDirSync({ prefix: `${PREFIX}${Deno.pid}-` });
    Deno.chmodSync(dir, 0o700);
    Deno.env.set("XDG_RUNTIME_DIR", dir);
    const parent = dir.slice(0, dir.lastIndexOf("/"));
    globalThis.addEventListener("unload", () => {
      try {
        Deno.removeSync(dir, { recursive: true });
      } catch { /* already gone */ }
      removeOrphans(parent); // those of processes killed since this one started
    });
    removeOrphans(parent);
  } catch { /* no env/write permission: the message is harmless */ }
}

/**
 * Remove the empty `simcse-xdg-<pid>-*` folders in `parent` whose process is gone (`/proc/<pid>` missing;
 * nothing where this process has no `/proc/<pid>` itself).
 * Only empty folders go (the removal is not recursive), and another user's fail quietly. `proc` is for
 * the tests.
 */
export function removeOrphans(parent: string, proc = "/proc"): void {
  // without /proc (not Linux, or not mounted) every process would look gone, this one too
  if (Deno.build.os !== "linux" || !isRunning(proc, String(Deno.pid))) return;
  let entries: Deno.DirEntry[];
  try {
    entries = [...Deno.readDirSync(parent)];
  } catch {
    return; // no read permission there
  }
  for (const entry of entries) {
    const pid = ORPHAN.exec(entry.name)?.[1];
    if (!entry.isDirectory || pid === undefined || isRunning(proc, pid)) continue;
    try {
      Deno.removeSync(`${parent}/${entry.name}`);
    } catch { /* not empty, not ours, or removed meanwhile */ }
  }
}

function isRunning(proc: string, pid: string): boolean {
  try {
    Deno.statSync(`${proc}/${pid}`);
    return true;
  } catch {
    return false;
  }
}
