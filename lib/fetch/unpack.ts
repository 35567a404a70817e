/**
 * Unpack a downloaded archive (tar, or zip for `senteval_cn`) into the data folder, safely:
 *
 * - every member name is checked ({@link safeMemberPath}): one absolute path or `..` anywhere in the
 *   archive rejects the whole archive, even for members that would not be extracted;
 * - links are never created; a symlink or hard link pointing outside the archive root rejects the
 *   archive, one inside it is skipped (and reported);
 * - sizes are bounded per member and in total, so a hostile archive cannot fill the disk;
 * - members go to a staging folder inside the data folder first (hashed as they are written); only
 *   after the whole archive has been read without error is each file renamed into place. On any
 *   error the staging folder is removed: nothing half-written is left behind.
 *
 * `map` chooses which members are extracted and where (a data-relative path), e.g. SentEval's
 * `STS/…` → `senteval/STS/…`.
 *
 * @example
 * ```ts
 * import { unpackTar } from "./unpack.ts";
 * const dataDir = await Deno.makeTempDir();
 * const r = await unpackTar("testdata/fetch/senteval_mini.tar", dataDir, {
 *   map: (p) => (p.startsWith("SICK/") ? `senteval/${p}` : null),
 * });
 * console.log(r.files.map((f) => f.rel));
 * ```
 * @module
 */
import { FetchError } from "./fetch_error.ts";
import { linkEscapes, safeMemberPath } from "./safe_path.ts";
import { readTar } from "./tar_reader.ts";
import { newSha256 } from "./file_hash.ts";
import { extractZipEntry, readZipDirectory, type ZipEntry } from "../checkpoint/zip_reader.ts";
import { InputError } from "../runtime/errors.ts";

export interface UnpackOptions {
  /** Data-relative destination of a (safe, normalised) member path, or null to skip it. */
  map: (memberPath: string) => string | null;
  /** Largest extracted member (default 4 GiB). */
  maxEntryBytes?: number;
  /** Largest total of extracted members (default 16 GiB). */
  maxTotalBytes?: number;
  /** Largest zip archive read into memory (default 2 GiB). */
  maxZipBytes?: number;
  /** Notes about skipped links and special files (default: stderr). */
  log?: (line: string) => void;
}

/** One extracted file, now at `<dataDir>/<rel>`. */
export interface UnpackedFile {
  rel: string;
  /** The member it came from. */
  member: string;
  size: number;
  sha256: string;
}

export interface UnpackResult {
  files: UnpackedFile[];
  /** Members read but not extracted (not mapped, directories, skipped links). */
  skipped: number;
}

const GiB = 1024 ** 3;

function archiveError(archive: string, detail: string): FetchError {
  return new FetchError("archive", detail, { file: archive });
}

/** Bounds and duplicate checks shared by the tar and zip paths. */
class Plan {
  readonly files = new Map<string, UnpackedFile>();
  total = 0;
  skipped = 0;
  constructor(readonly archive: string, readonly opts: UnpackOptions) {}

  /** The destination of a member (validated), or null to skip; throws when over a bound. */
  target(member: string, size: number): string | null {
    const path = safeMemberPath(member, this.archive);
    const rel = path === "" ? null : this.opts.map(path);
    if (rel === null) {
      this.skipped++;
      return null;
    }
    const safe = safeMemberPath(rel, this.archive);
    if (safe === "" || safe.split("/").some((c) => c.startsWith(".fetch-staging"))) {
      throw archiveError(
        this.archive,
        `member ${JSON.stringify(member)} maps to an invalid path ${JSON.stringify(rel)}`,
      );
    }
    const maxEntry = this.opts.maxEntryBytes ?? 4 * GiB;
    if (size > maxEntry) {
      throw archiveError(
        this.archive,
        `member ${JSON.stringify(member)} is ${size} bytes, over the ${maxEntry}-byte limit`,
      );
    }
    this.total += size;
    const maxTotal = this.opts.maxTotalBytes ?? 16 * GiB;
    if (this.total > maxTotal) {
      throw archiveError(this.archive, `members add up to more than the ${maxTotal}-byte limit`);
    }
    return safe;
  }
}

async function makeStaging(dataDir: string): Promise<string> {
  await Deno.mkdir(dataDir, { recursive: true });
  return await Deno.makeTempDir({ dir: dataDir, prefix: ".fetch-staging-" });
}

function parentOf(path: string): string {
  return path.slice(0, path.lastIndexOf("/"));
}

/** Move staged files into place (each rename is atomic), then remove the staging folder. */
async function commit(staging: string, dataDir: string, files: Iterable<UnpackedFile>): Promise<void> {
  for (const f of files) {
    const dest = `${dataDir}/${f.rel}`;
    await Deno.mkdir(parentOf(dest), { recursive: true });
    await Deno.rename(`${staging}/${f.rel}`, dest);
  }
  await Deno.remove(staging, { recursive: true });
}

async function writeStaged(staging: string, rel: string): Promise<Deno.FsFile> {
  const path = `${staging}/${rel}`;
  await Deno.mkdir(parentOf(path), { recursive: true });
  return await Deno.open(path, { write: true, create: true, truncate: true });
}

/** Unpack a tar archive (see the module doc). Throws {@link FetchError} (`archive`). */
export async function unpackTar(
  archivePath: string,
  dataDir: string,
  opts: UnpackOptions,
): Promise<UnpackResult> {
  const log = opts.log ?? ((l: string) => console.error(l));
  const plan = new Plan(archivePath, opts);
  const staging = await makeStaging(dataDir);
  const archive = await Deno.open(archivePath, { read: true });
  let open: Deno.FsFile | undefined;
  try {
    await readTar(archive, archivePath, async (e) => {
      if (e.type === "symlink" || e.type === "hardlink") {
        const path = safeMemberPath(e.name, archivePath);
        if (linkEscapes(path, e.linkname, e.type)) {
          throw archiveError(
            archivePath,
            `unsafe member ${JSON.stringify(e.name)}: ${e.type} to ${
              JSON.stringify(e.linkname)
            } points outside ` +
              "the archive; nothing was unpacked",
          );
        }
        log(`${archivePath}: skipped ${e.type} ${e.name} -> ${e.linkname} (links are never created)`);
        plan.skipped++;
        return undefined;
      }
      if (e.type !== "file") {
        safeMemberPath(e.name, archivePath);
        if (e.type === "other") log(`${archivePath}: skipped special member ${e.name} (type ${e.typeflag})`);
        plan.skipped++;
        return undefined;
      }
      const rel = plan.target(e.name, e.size);
      if (rel === null) return undefined;
      const file = await writeStaged(staging, rel);
      open = file;
      const hash = newSha256();
      let size = 0;
      return {
        async write(chunk: Uint8Array) {
          let w = 0;
          while (w < chunk.length) w += await file.write(chunk.subarray(w));
          hash.update(chunk);
          size += chunk.length;
        },
        end() {
          file.close();
          open = undefined;
          plan.files.set(rel, { rel, member: e.name, size, sha256: hash.digest("hex") });
        },
      };
    });
    archive.close();
    await commit(staging, dataDir, plan.files.values());
    return { files: [...plan.files.values()], skipped: plan.skipped };
  } catch (e) {
    try {
      archive.close();
    } catch { /* closed */ }
    try {
      (open as Deno.FsFile | undefined)?.close();
    } catch { /* closed */ }
    await Deno.remove(staging, { recursive: true }).catch(() => {});
    throw e;
  }
}

/** Unpack a zip archive (see the module doc); the archive is read into memory (bounded). */
export async function unpackZip(
  archivePath: string,
  dataDir: string,
  opts: UnpackOptions,
): Promise<UnpackResult> {
  const maxZip = opts.maxZipBytes ?? 2 * GiB;
  const size = (await Deno.stat(archivePath)).size;
  if (size > maxZip) throw archiveError(archivePath, `zip of ${size} bytes is over the ${maxZip}-byte limit`);
  const bytes = await Deno.readFile(archivePath);
  const plan = new Plan(archivePath, opts);
  const staging = await makeStaging(dataDir);
  try {
    let dir: Map<string, ZipEntry>;
    try {
      dir = readZipDirectory(bytes, archivePath);
    } catch (e) {
      if (e instanceof InputError) throw new FetchError("archive", e.message);
      throw e;
    }
    const todo: [string, ZipEntry][] = [];
    for (const [name, entry] of dir) {
      if (name.endsWith("/")) {
        safeMemberPath(name, archivePath);
        plan.skipped++;
        continue;
      }
      const rel = plan.target(name, entry.size);
      if (rel !== null) todo.push([rel, entry]);
    }
    for (const [rel, entry] of todo) {
      let data: Uint8Array;
      try {
        data = extractZipEntry(bytes, entry, archivePath);
      } catch (e) {
        if (e instanceof InputError) throw new FetchError("archive", e.message);
        throw e;
      }
      const file = await writeStaged(staging, rel);
      try {
        let w = 0;
        while (w < data.length) w += await file.write(data.subarray(w));
      } finally {
        file.close();
      }
      const h = newSha256();
      h.update(data);
      plan.files.set(rel, { rel, member: entry.name, size: data.length, sha256: h.digest("hex") });
    }
    await commit(staging, dataDir, plan.files.values());
    return { files: [...plan.files.values()], skipped: plan.skipped };
  } catch (e) {
    await Deno.remove(staging, { recursive: true }).catch(() => {});
    throw e;
  }
}
