/**
 * One `deno task fetch` at a time per data folder: `<dataDir>/.fetch.pid` is created exclusively
 * and holds the owner's process id. A file left by a process that no longer runs (checked through
 * `/proc` on Linux) is taken over; otherwise the second fetch stops with a message, rather than
 * appending to the same `.part` files as the first.
 *
 * @example
 * ```ts
 * import { acquireProcessLock } from "./process_lock.ts";
 * const dir = await Deno.makeTempDir();
 * const release = await acquireProcessLock(dir);
 * await release();
 * ```
 * @module
 */
import { InputError } from "../errors.ts";

/** Name of the lock file inside the data folder. */
export const PID_FILE = ".fetch.pid";

async function alive(pid: number): Promise<boolean | undefined> {
  try {
    await Deno.stat("/proc/self");
  } catch {
    return undefined; // cannot tell on this system
  }
  try {
    await Deno.stat(`/proc/${pid}`);
    return true;
  } catch {
    return false;
  }
}

/** Take the lock (creating the data folder); returns the function that releases it. */
export async function acquireProcessLock(dataDir: string): Promise<() => Promise<void>> {
  await Deno.mkdir(dataDir, { recursive: true });
  const path = `${dataDir.replace(/\/+$/, "")}/${PID_FILE}`;
  for (let tries = 0; tries < 2; tries++) {
    try {
      const f = await Deno.open(path, { write: true, createNew: true });
      await f.write(new TextEncoder().encode(`${Deno.pid}\n`));
      f.close();
      return async () => {
        await Deno.remove(path).catch(() => {});
      };
    } catch (e) {
      if (!(e instanceof Deno.errors.AlreadyExists)) throw e;
    }
    const pid = Number((await Deno.readTextFile(path).catch(() => "")).trim());
    const state = Number.isInteger(pid) && pid > 0 ? await alive(pid) : false;
    if (state === false) {
      await Deno.remove(path).catch(() => {});
      continue; // stale: the process that wrote it is gone
    }
    throw new InputError(
      `another \`deno task fetch\` (pid ${pid}) is working in this data folder; wait for it to finish, ` +
        `or delete this file if that process is gone`,
      { file: path },
    );
  }
  throw new InputError("could not take the fetch lock", { file: path });
}
