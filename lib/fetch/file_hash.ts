/**
 * Streaming hashes of files on disk: sha256 (what the hub publishes for LFS files and what
 * `fetch.lock.json` records) and the git blob sha1 (the hub's `ETag` of small, non-LFS files:
 * sha1 of `"blob <size>\0" + content`). Files are read in chunks, never whole.
 *
 * @example
 * ```ts
 * import { sha256File } from "./file_hash.ts";
 * const p = await Deno.makeTempFile();
 * await Deno.writeTextFile(p, "abc");
 * console.log(await sha256File(p)); // "ba7816bf…"
 * ```
 * @module
 */
import { createHash, type Hash } from "node:crypto";

/** An incremental sha256 (node:crypto), for hashing a download while it is written. */
export function newSha256(): Hash {
  return createHash("sha256");
}

/** Feed the first `limit` bytes (default: all) of `path` into `hash`; returns the byte count read. */
export async function hashFileInto(hash: Hash, path: string, limit = Infinity): Promise<number> {
  const file = await Deno.open(path, { read: true });
  try {
    const buf = new Uint8Array(1 << 20);
    let total = 0;
    while (total < limit) {
      const want = Math.min(buf.length, limit - total);
      const n = await file.read(want === buf.length ? buf : buf.subarray(0, want));
      if (n === null) break;
      hash.update(buf.subarray(0, n));
      total += n;
    }
    return total;
  } finally {
    file.close();
  }
}

/** Hex sha256 of a file. */
export async function sha256File(path: string): Promise<string> {
  const h = newSha256();
  await hashFileInto(h, path);
  return h.digest("hex");
}

/** Hex git blob sha1 of a file (`sha1("blob <size>\0" + content)`). */
export async function gitBlobSha1File(path: string): Promise<string> {
  const size = (await Deno.stat(path)).size;
  const h = createHash("sha1");
  h.update(new TextEncoder().encode(`blob ${size}\0`));
  await hashFileInto(h, path);
  return h.digest("hex");
}
