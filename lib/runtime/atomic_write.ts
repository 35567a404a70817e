/**
 * Atomic file writes: data goes to a temporary name in the same folder, is flushed to disk, and is
 * renamed over the target, whose folder is then flushed too; so a crash at any instant leaves either
 * the old file or the new one, never half of one. A target that exists and is not a regular file
 * (a folder, a device such as `/dev/full`, a fifo, a socket) is refused rather than replaced, and
 * the temporary file is removed on every failure.
 *
 * @example
 * ```ts
 * import { writeFileAtomic } from "./atomic_write.ts";
 * const dir = await Deno.makeTempDir();
 * await writeFileAtomic(`${dir}/a.json`, '{"ok":true}');
 * ```
 * @module
 */
import { InputError } from "./errors.ts";

/** What `info` is, in words, when it is not a regular file; null for a regular file. */
export function notRegularKind(info: Deno.FileInfo): string | null {
  if (info.isFile) return null;
  if (info.isDirectory) return "a directory";
  if (info.isSymlink) return "a symbolic link";
  if (info.isFifo) return "a fifo";
  if (info.isSocket) return "a socket";
  if (info.isCharDevice) return "a character device";
  if (info.isBlockDevice) return "a block device";
  return "not a regular file";
}

/** Throw an InputError when `path` exists (following links) and is not a regular file. */
function refuseNonRegularSync(path: string): void {
  let info: Deno.FileInfo;
  try {
    info = Deno.statSync(path);
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) return;
    throw e;
  }
  const kind = notRegularKind(info);
  if (kind) {
    throw new InputError(`is ${kind}; an output must be a regular file or a new name`, { file: path });
  }
}

function parentOf(path: string): string {
  const slash = path.lastIndexOf("/");
  return slash > 0 ? path.slice(0, slash) : slash === 0 ? "/" : ".";
}

/** Flush a folder's entries (a rename inside it) to disk; a no-op where folders cannot be opened. */
export async function fsyncDir(dir: string): Promise<void> {
  let f: Deno.FsFile | undefined;
  try {
    f = await Deno.open(dir, { read: true });
    await f.sync();
  } catch {
    /* not supported here (e.g. Windows) */
  } finally {
    f?.close();
  }
}

/** Synchronous {@link fsyncDir}. */
export function fsyncDirSync(dir: string): void {
  let f: Deno.FsFile | undefined;
  try {
    f = Deno.openSync(dir, { read: true });
    f.syncSync();
  } catch {
    /* not supported here */
  } finally {
    f?.close();
  }
}

function tempName(path: string): string {
  return `${path}.${Deno.pid}.${crypto.randomUUID().slice(0, 8)}.tmp`;
}

/** Write `data` (bytes or UTF-8 text) to `path` atomically, creating parent folders. */
export async function writeFileAtomic(path: string, data: Uint8Array | string): Promise<void> {
  refuseNonRegularSync(path);
  const dir = parentOf(path);
  await Deno.mkdir(dir, { recursive: true });
  const tmp = tempName(path);
  try {
    const bytes = typeof data === "string" ? new TextEncoder().encode(data) : data;
    const f = await Deno.open(tmp, { write: true, createNew: true });
    try {
      let off = 0;
      while (off < bytes.length) off += await f.write(bytes.subarray(off));
      await f.sync();
    } finally {
      f.close();
    }
    refuseNonRegularSync(path); // it may have appeared meanwhile
    await Deno.rename(tmp, path);
  } catch (e) {
    await Deno.remove(tmp).catch(() => {});
    throw e;
  }
  await fsyncDir(dir);
}

/** Synchronous variant, for exit handlers. */
export function writeFileAtomicSync(path: string, data: Uint8Array | string): void {
  refuseNonRegularSync(path);
  const dir = parentOf(path);
  Deno.mkdirSync(dir, { recursive: true });
  const tmp = tempName(path);
  try {
    const bytes = typeof data === "string" ? new TextEncoder().encode(data) : data;
    const f = Deno.openSync(tmp, { write: true, createNew: true });
    try {
      let off = 0;
      while (off < bytes.length) off += f.writeSync(bytes.subarray(off));
      f.syncSync();
    } finally {
      f.close();
    }
    refuseNonRegularSync(path);
    Deno.renameSync(tmp, path);
  } catch (e) {
    try {
      Deno.removeSync(tmp);
    } catch { /* already gone */ }
    throw e;
  }
  fsyncDirSync(dir);
}
