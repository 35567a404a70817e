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
import { InputError } from "../runtime/errors.ts";

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

/** Which lock: its file name in the folder and the work it guards (for the message). */
export interface LockKind {
  /** Lock file name inside the folder (default {@link PID_FILE}). */
  file: string;
  /** The other process, in words (default "`deno task fetch`"). */
  holder: string;
  /** Where it works, in words (default "this data folder"). */
  place: string;
}

/** Take the lock (creating the data folder); returns the function that releases it. */
export async function acquireProcessLock(
  dataDir: string,
  kind: LockKind = { file: PID_FILE, holder: "`deno task fetch`", place: "this data folder" },
): Promise<() => Promise<void>> {
  await Deno.mkdir(dataDir, { recursive: true });
  const path = `${dataDir.replace(/\/+$/, "")}/${kind.file}`;
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
      `another ${kind.holder} (pid ${pid}) is working in ${kind.place}; wait for it to finish, ` +
        `or delete this file if that process is gone`,
      { file: path },
    );
  }
  throw new InputError(`could not take the lock of ${kind.place}`, { file: path });
}
