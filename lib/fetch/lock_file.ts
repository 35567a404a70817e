/**
 * `data/fetch.lock.json`: what `deno task fetch` put into the data folder, file by file (paths
 * relative to the data folder): the URL, revision, size and sha256. The sha256 is the hub's
 * published one where there is one (LFS files), else the one computed on first download; either
 * way, later downloads of the same URL and `--verify` are checked against it. Optional files the
 * server does not have are recorded as `absent` so later runs do not ask again. Written atomically
 * after every file, so an interrupted fetch keeps what it finished.
 *
 * @example
 * ```ts
 * import { FetchLock } from "./lock_file.ts";
 * const dir = await Deno.makeTempDir();
 * const lock = await FetchLock.open(dir);
 * lock.set("wiki/a.txt", { url: "http://127.0.0.1/a.txt", size: 3, sha256: "ba78…", source: "first-download" });
 * await lock.save();
 * ```
 * @module
 */
import { InputError } from "../runtime/errors.ts";
import { writeFileAtomic } from "../runtime/atomic_write.ts";

/** File name of the lock file inside the data folder. */
export const LOCK_FILE = "fetch.lock.json";

/** How a recorded sha256 was established. */
export type HashSource =
  /** published by the server (`X-Linked-Etag` / sha256 `ETag`) and matched */
  | "published"
  /** the server's git blob sha1 `ETag` matched; sha256 computed here */
  | "etag-verified"
  /** nothing published: computed on first download, verified on later ones */
  | "first-download"
  /** unpacked from an archive whose own entry is recorded under `from` */
  | "archive";

/** A file fetch wrote. */
export interface LockEntry {
  url: string;
  revision?: string;
  size: number;
  sha256: string;
  source: HashSource;
  /** For files unpacked from an archive: the archive's URL. */
  from?: string;
  fetchedAt?: string;
}

/** An optional file the server did not have at that URL (404). */
export interface AbsentEntry {
  url: string;
  absent: true;
  checkedAt?: string;
}

interface LockJson {
  format: "simcse-fetch-lock";
  version: 1;
  files: Record<string, LockEntry | AbsentEntry>;
}

export function isAbsent(e: LockEntry | AbsentEntry | undefined): e is AbsentEntry {
  return e !== undefined && (e as AbsentEntry).absent === true;
}

function validEntry(v: unknown): v is LockEntry | AbsentEntry {
  if (typeof v !== "object" || v === null) return false;
  const e = v as Record<string, unknown>;
  if (typeof e.url !== "string") return false;
  if (e.absent === true) return true;
  return Number.isSafeInteger(e.size) && (e.size as number) >= 0 && typeof e.sha256 === "string" &&
    /^[0-9a-f]{64}$/.test(e.sha256) && typeof e.source === "string";
}

export class FetchLock {
  private constructor(
    /** Path of the lock file. */
    readonly path: string,
    private readonly files: Map<string, LockEntry | AbsentEntry>,
  ) {}

  /** Read `<dataDir>/fetch.lock.json` (an empty lock when there is none). */
  static async open(dataDir: string): Promise<FetchLock> {
    const path = `${dataDir.replace(/\/+$/, "")}/${LOCK_FILE}`;
    let text: string;
    try {
      text = await Deno.readTextFile(path);
    } catch (e) {
      if (e instanceof Deno.errors.NotFound) return new FetchLock(path, new Map());
      throw new InputError(`cannot read the fetch lock file: ${(e as Error).message}`, { file: path });
    }
    const fail = (why: string): never => {
      throw new InputError(
        `${why}; fix it or delete it (fetched files then count as placed by hand and are not verified)`,
        { file: path },
      );
    };
    let json: LockJson;
    try {
      json = JSON.parse(text);
    } catch (e) {
      return fail(`not valid JSON (${(e as Error).message})`);
    }
    if (
      typeof json !== "object" || json === null || json.format !== "simcse-fetch-lock" || json.version !== 1
    ) {
      return fail("not a simcse-fetch-lock version 1 file");
    }
    if (typeof json.files !== "object" || json.files === null || Array.isArray(json.files)) {
      return fail('"files" must be an object');
    }
    const files = new Map<string, LockEntry | AbsentEntry>();
    for (const [k, v] of Object.entries(json.files)) {
      if (!validEntry(v)) fail(`entry ${JSON.stringify(k)} is malformed`);
      files.set(k, v);
    }
    return new FetchLock(path, files);
  }

  /** The entry of a data-relative path. */
  get(rel: string): LockEntry | AbsentEntry | undefined {
    return this.files.get(rel);
  }

  /** Record a file (stamped with the time unless given). */
  set(rel: string, entry: LockEntry | AbsentEntry): void {
    const stamp = new Date().toISOString();
    if (isAbsent(entry)) this.files.set(rel, { checkedAt: stamp, ...entry });
    else this.files.set(rel, { fetchedAt: stamp, ...entry });
  }

  delete(rel: string): void {
    this.files.delete(rel);
  }

  /** All recorded paths. */
  paths(): string[] {
    return [...this.files.keys()].sort();
  }

  /** Write the lock file atomically (keys sorted, so diffs stay small). */
  async save(): Promise<void> {
    const files: Record<string, LockEntry | AbsentEntry> = {};
    for (const k of this.paths()) files[k] = this.files.get(k)!;
    const json: LockJson = { format: "simcse-fetch-lock", version: 1, files };
    await writeFileAtomic(this.path, JSON.stringify(json, null, 2) + "\n");
  }
}
