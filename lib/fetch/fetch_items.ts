/**
 * `deno task fetch <name…>` as a library call: bring catalog items (models, data sets) into the
 * data folder, skipping what is already there, resuming what was interrupted, verifying what the
 * server publishes (or what `fetch.lock.json` recorded), and unpacking archives safely.
 *
 * An item counts as present when its required files exist (downloaded earlier, or placed by hand;
 * the latter are accepted without verification). Files fetch wrote are checked against the lock
 * file's size on every run, and sha256 with `verify`. Model files are tried in order of preference
 * (`model.safetensors`, then `pytorch_model.bin`); optional files the repository lacks are recorded
 * as absent. Small files come first and weights last, so a folder with weights is complete.
 *
 * When something fails, the error names the URL, the files still missing and the exact command
 * to run again (with `--data-dir`, `--revision`, `--base-url` as given); partial downloads stay as
 * `.part` files that the next run resumes.
 *
 * @example
 * ```ts
 * import { fetchItems } from "./fetch_items.ts";
 * await fetchItems(["bert-tiny", "senteval"], { dataDir: "data" }).catch((e) => console.log(e.message));
 * ```
 * @module
 */
import { InputError } from "../runtime/errors.ts";
import { FetchError } from "./fetch_error.ts";
import {
  type CatalogItem,
  type DataItem,
  fetchCommand,
  findItem,
  modelFiles,
  modelFolder,
  type ModelItem,
  undeclaredSizeCap,
} from "./catalog.ts";
import { hubEndpoint, resolveUrl } from "./hf_urls.ts";
import { downloadFile, type Expected, probe, type RemoteInfo } from "./download.ts";
import type { ProgressSink } from "./byte_progress.ts";
import { FetchLock, type HashSource, isAbsent, type LockEntry } from "./lock_file.ts";
import { sha256File } from "./file_hash.ts";
import { unpackTar, unpackZip } from "./unpack.ts";
import { acquireProcessLock } from "./process_lock.ts";
import { isFile as exists } from "../runtime/fs.ts";

export interface FetchOptions {
  /** The data folder (created if needed). */
  dataDir: string;
  /** An explicit mirror of the hub (`--base-url`); else `$HF_ENDPOINT`, else huggingface.co. */
  baseUrl?: string;
  /** Revision for the (single) hub item requested, instead of the catalog's pin. */
  revision?: string;
  /** Replacement URLs for non-hub downloads, keyed by item name or file name (`--url NAME=URL`). */
  urlOverrides?: Record<string, string>;
  /** Download again even when the files are present. */
  force?: boolean;
  /** Recompute the sha256 of present files that fetch wrote and compare with the lock file. */
  verify?: boolean;
  /** Keep downloaded archives under `.downloads/` after unpacking. */
  keepArchives?: boolean;
  /** Progress bars (default stderr; false for none). */
  progress?: ProgressSink | false;
  /** Status lines (default stderr). */
  log?: (line: string) => void;
  retries?: number;
  retryDelayMs?: number;
  stallTimeoutMs?: number;
  /** Archive bounds (see `unpack.ts`). */
  maxEntryBytes?: number;
  /** Override of {@link undeclaredSizeCap}'s byte limit for downloads of undeclared size (tests). */
  maxUndeclaredBytes?: number;
  maxTotalBytes?: number;
  /** The default data folder, for the commands printed in messages (tests). */
  defaultDataDir?: string;
  /** Environment for `HF_ENDPOINT` (tests). */
  env?: { HF_ENDPOINT?: string };
}

/** What happened to one item. */
export interface ItemReport {
  name: string;
  status: "present" | "fetched";
  /** Data-relative files of the item now present. */
  files: string[];
  /** Present files that were not verified (placed by hand, not in the lock file). */
  unverified: string[];
}

/** Resolve names to catalog items (duplicates dropped); unknown names are an InputError. */
export function resolveItems(names: string[]): CatalogItem[] {
  const out: CatalogItem[] = [];
  const unknown: string[] = [];
  for (const n of names) {
    const item = findItem(n);
    if (!item) unknown.push(n);
    else if (!out.includes(item)) out.push(item);
  }
  if (unknown.length > 0) {
    throw new InputError(
      `unknown ${unknown.length === 1 ? "name" : "names"} ${unknown.map((u) => `'${u}'`).join(", ")}; ` +
        "`deno task fetch --list` shows what can be fetched (models by hub id, e.g. bert-base-uncased, " +
        "princeton-nlp/unsup-simcse-bert-base-uncased; data: senteval, wiki1m, nli, senteval_cn)",
    );
  }
  return out;
}

function isHubItem(item: CatalogItem): boolean {
  return item.kind === "model" || item.source.type === "hub";
}

/** Runs the fetch of a list of items; one instance per call of {@link fetchItems}. */
class Fetcher {
  readonly endpoint: string;
  readonly log: (line: string) => void;
  constructor(readonly opts: FetchOptions, readonly lock: FetchLock, readonly items: CatalogItem[]) {
    this.endpoint = hubEndpoint(opts.baseUrl, opts.env ?? { HF_ENDPOINT: Deno.env.get("HF_ENDPOINT") });
    this.log = opts.log ?? ((l: string) => console.error(l));
  }

  get dataDir(): string {
    return this.opts.dataDir.replace(/\/+$/, "") || ".";
  }

  command(items: CatalogItem[]): string {
    return fetchCommand(items.map((i) => i.name), {
      dataDir: this.opts.dataDir,
      revision: this.opts.revision,
      baseUrl: this.opts.baseUrl,
      defaultDataDir: this.opts.defaultDataDir,
    });
  }

  /** Check present files against the lock (size; sha256 with `verify`); returns the unverified ones. */
  async checkPresent(rels: string[]): Promise<string[]> {
    const unverified: string[] = [];
    for (const rel of rels) {
      const entry = this.lock.get(rel);
      const path = `${this.dataDir}/${rel}`;
      if (entry === undefined || isAbsent(entry)) {
        unverified.push(rel);
        continue;
      }
      const size = (await Deno.stat(path)).size;
      let bad = size !== entry.size ? `size ${size} bytes, the lock file says ${entry.size}` : undefined;
      if (!bad && this.opts.verify) {
        const sha = await sha256File(path);
        if (sha !== entry.sha256) bad = `sha256 ${sha}, the lock file says ${entry.sha256}`;
      }
      if (bad) {
        throw new FetchError(
          "integrity",
          `differs from what fetch downloaded (${bad}); delete it and run the command again ` +
            "(or re-run with --force to download everything again)",
          { file: path },
        );
      }
    }
    return unverified;
  }

  /** Download one file into `<dataDir>/<rel>`, verifying and recording it; null when the server lacks it. */
  async downloadOne(
    url: string,
    rel: string,
    revision: string | undefined,
    useProbe: boolean,
    item: CatalogItem,
  ): Promise<LockEntry | null> {
    const cap = undeclaredSizeCap(item, rel);
    const prior = this.lock.get(rel);
    if (isAbsent(prior) && prior.url === url && !this.opts.force) return null;
    let info: RemoteInfo = {};
    try {
      if (useProbe) info = await this.probeWithRetry(url);
      const recorded = prior && !isAbsent(prior) && prior.url === url ? prior : undefined;
      const expected: Expected = { size: info.size, gitSha1: info.gitSha1 };
      let source: HashSource = "first-download";
      if (info.sha256) {
        expected.sha256 = info.sha256;
        expected.sha256Source = "published by the server";
        source = "published";
      } else if (recorded) {
        expected.sha256 = recorded.sha256;
        expected.sha256Source = `recorded in ${this.lock.path} on first download`;
        expected.size ??= recorded.size;
        source = recorded.source;
      } else if (info.gitSha1) source = "etag-verified";
      const r = await downloadFile(url, `${this.dataDir}/${rel}`, {
        expected,
        progress: this.opts.progress,
        label: rel,
        retries: this.opts.retries,
        retryDelayMs: this.opts.retryDelayMs,
        stallTimeoutMs: this.opts.stallTimeoutMs,
        log: this.log,
        maxBytes: this.opts.maxUndeclaredBytes ?? cap.bytes,
        maxBytesWhat: cap.what,
      });
      const entry: LockEntry = { url, size: r.size, sha256: r.sha256, source };
      const rev = info.commit ?? revision;
      if (rev) entry.revision = rev;
      this.lock.set(rel, entry);
      await this.lock.save();
      return entry;
    } catch (e) {
      if (e instanceof FetchError && e.kind === "http" && e.status === 404) {
        this.lock.set(rel, { url, absent: true });
        await this.lock.save();
        return null;
      }
      throw e;
    }
  }

  /** HEAD with one retry (a dead network should fail fast; a blip should not stop a long fetch). */
  async probeWithRetry(url: string): Promise<RemoteInfo> {
    const tries = Math.min(this.opts.retries ?? 3, 1);
    for (let i = 0;; i++) {
      try {
        return await probe(url, { stallTimeoutMs: this.opts.stallTimeoutMs });
      } catch (e) {
        if (!(e instanceof FetchError) || !e.retryable || i >= tries) throw e;
        this.log(`${e.detail}; retrying`);
        await new Promise((r) => setTimeout(r, this.opts.retryDelayMs ?? 1000));
      }
    }
  }

  /** Required files of a model that are missing (for messages), and whether it is complete. */
  async modelMissing(item: ModelItem): Promise<string[]> {
    const folder = `${this.dataDir}/${modelFolder(item)}`;
    const missing: string[] = [];
    for (const spec of modelFiles(item.family)) {
      if (spec.optional) continue;
      const have = await Promise.all(spec.names.map((n) => exists(`${folder}/${n}`)));
      if (!have.some(Boolean)) missing.push(spec.names.join(" (or ") + (spec.names.length > 1 ? ")" : ""));
    }
    return missing;
  }

  async dataMissing(item: DataItem): Promise<string[]> {
    const missing: string[] = [];
    for (const rel of item.outputs) if (!(await exists(`${this.dataDir}/${rel}`))) missing.push(rel);
    return missing;
  }

  /** "data/models/x: a, b" or "data: senteval/…, … and 40 more" for one item. */
  async describeMissing(item: CatalogItem): Promise<string | null> {
    if (item.kind === "model") {
      const m = await this.modelMissing(item);
      return m.length ? `${this.dataDir}/${modelFolder(item)}/ ${m.join(", ")}` : null;
    }
    const m = await this.dataMissing(item);
    if (m.length === 0) return null;
    if (m.length > 3 && m.length === item.outputs.length) {
      return `${item.name}: ${
        item.covers.map((c) => `${this.dataDir}/${c}/`).join(", ")
      } (${m.length} files)`;
    }
    const shown = m.slice(0, 3).map((r) => `${this.dataDir}/${r}`).join(", ");
    return `${item.name}: ${shown}${m.length > 3 ? ` and ${m.length - 3} more` : ""}`;
  }

  async fetchModel(item: ModelItem): Promise<ItemReport> {
    const folderRel = modelFolder(item);
    const folder = `${this.dataDir}/${folderRel}`;
    const revision = this.opts.revision ?? item.revision;
    const present: string[] = [];
    for (const spec of modelFiles(item.family)) {
      for (const n of spec.names) if (await exists(`${folder}/${n}`)) present.push(`${folderRel}/${n}`);
    }
    if (!this.opts.force && (await this.modelMissing(item)).length === 0) {
      const unverified = await this.checkPresent(present);
      return { name: item.name, status: "present", files: present, unverified };
    }
    this.log(
      `${item.name}: ${item.repo === item.name ? "" : `${item.repo} `}@ ${revision}${
        this.opts.revision ? " (--revision)" : item.pinned ? "" : " (unpinned)"
      } from ${this.endpoint}`,
    );
    const files: string[] = [];
    const kept: string[] = [];
    for (const spec of modelFiles(item.family)) {
      const have = spec.names.find((n) => present.includes(`${folderRel}/${n}`));
      if (have && !this.opts.force) {
        kept.push(`${folderRel}/${have}`);
        files.push(`${folderRel}/${have}`);
        continue;
      }
      let got: string | undefined;
      for (const n of spec.names) {
        const url = resolveUrl(this.endpoint, { repo: item.repo, revision, path: n });
        if (await this.downloadOne(url, `${folderRel}/${n}`, revision, true, item)) {
          got = n;
          break;
        }
      }
      if (got) files.push(`${folderRel}/${got}`);
      else if (!spec.optional) {
        const url = resolveUrl(this.endpoint, { repo: item.repo, revision, path: spec.names[0] });
        throw new FetchError(
          "http",
          `${item.repo} has no ${
            spec.names.join(" or ")
          } at revision ${revision} (HTTP 404); check the name and ` +
            "revision (`deno task fetch --list`; `--revision main` takes the latest), or place the file by hand",
          { url, status: 404 },
        );
      }
    }
    const unverified = await this.checkPresent(kept);
    return { name: item.name, status: "fetched", files, unverified };
  }

  dataUrl(item: DataItem): { url: string; fileName: string; hub: boolean } {
    const src = item.source;
    if (src.type === "hub") {
      const revision = this.opts.revision ?? src.revision;
      const fileName = src.path.slice(src.path.lastIndexOf("/") + 1);
      const override = this.opts.urlOverrides?.[item.name] ?? this.opts.urlOverrides?.[fileName];
      return { url: override ?? resolveUrl(this.endpoint, { ...src, revision }), fileName, hub: !override };
    }
    const override = this.opts.urlOverrides?.[item.name] ?? this.opts.urlOverrides?.[src.fileName];
    return { url: override ?? src.url, fileName: src.fileName, hub: false };
  }

  async fetchData(item: DataItem): Promise<ItemReport> {
    if (!this.opts.force && (await this.dataMissing(item)).length === 0) {
      const unverified = await this.checkPresent(item.outputs);
      return { name: item.name, status: "present", files: [...item.outputs], unverified };
    }
    const { url, fileName, hub } = this.dataUrl(item);
    const revision = item.source.type === "hub" ? this.opts.revision ?? item.source.revision : undefined;
    this.log(`${item.name}: ${url}`);
    if (!item.archive) {
      const rel = item.dest!;
      if (!(await this.downloadOne(url, rel, revision, hub, item))) throw this.notFound(url);
      return { name: item.name, status: "fetched", files: [rel], unverified: [] };
    }
    const archiveRel = `.downloads/${fileName}`;
    const archivePath = `${this.dataDir}/${archiveRel}`;
    let entry = this.lock.get(archiveRel);
    const reuse = !this.opts.force && entry && !isAbsent(entry) && entry.url === url &&
      (await exists(archivePath)) &&
      (await Deno.stat(archivePath)).size === entry.size && (await sha256File(archivePath)) === entry.sha256;
    if (!reuse) {
      entry = await this.downloadOne(url, archiveRel, revision, hub, item) ?? undefined;
      if (!entry) throw this.notFound(url);
    }
    const archiveEntry = entry as LockEntry;
    this.log(`${item.name}: unpacking ${archivePath}`);
    const unpackOpts = {
      map: item.archive.map,
      log: this.log,
      maxEntryBytes: this.opts.maxEntryBytes,
      maxTotalBytes: this.opts.maxTotalBytes,
    };
    let result;
    try {
      result = item.archive.format === "tar"
        ? await unpackTar(archivePath, this.dataDir, unpackOpts)
        : await unpackZip(archivePath, this.dataDir, unpackOpts);
    } catch (e) {
      if (e instanceof FetchError && e.kind === "archive") {
        await this.removeArchive(archivePath);
        this.lock.delete(archiveRel);
        await this.lock.save();
        throw new FetchError("archive", `${e.message}; the archive was deleted`, { url });
      }
      throw e;
    }
    for (const f of result.files) {
      this.lock.set(f.rel, {
        url: archiveEntry.url,
        from: archiveRel,
        size: f.size,
        sha256: f.sha256,
        source: "archive",
      });
    }
    await this.lock.save();
    const missing = await this.dataMissing(item);
    if (missing.length > 0) {
      throw new FetchError(
        "archive",
        `the archive lacks ${missing.length} expected file(s): ${missing.slice(0, 5).join(", ")}` +
          `${missing.length > 5 ? " …" : ""} (a different version of the archive? place them by hand)`,
        { url },
      );
    }
    if (!this.opts.keepArchives) await this.removeArchive(archivePath);
    return { name: item.name, status: "fetched", files: result.files.map((f) => f.rel), unverified: [] };
  }

  /** Delete a downloaded archive, and `.downloads/` when that leaves it empty. */
  async removeArchive(path: string): Promise<void> {
    await Deno.remove(path).catch(() => {});
    await Deno.remove(path.slice(0, path.lastIndexOf("/"))).catch(() => {}); // fails unless empty
  }

  notFound(url: string): FetchError {
    return new FetchError(
      "http",
      "HTTP 404 (the file is not at this URL; check --revision / --base-url / --url, or place the file by hand)",
      { url, status: 404 },
    );
  }

  /** Wrap a failure with what is still missing and the exact command to run again. */
  async explain(e: FetchError, failed: CatalogItem, rest: CatalogItem[]): Promise<FetchError> {
    const missing: string[] = [];
    const pending = [failed, ...rest];
    for (const item of pending) {
      const m = await this.describeMissing(item).catch(() => null);
      if (m) missing.push(m);
    }
    const cmd = this.command(pending);
    let advice: string;
    if (e.kind === "network" || e.retryable) {
      advice =
        `Run \`${cmd}\` again when the network is back (partial downloads resume from their .part files)` +
        `, use a mirror (--base-url URL or HF_ENDPOINT=URL${
          pending.some((i) => !isHubItem(i)) ? "; --url NAME=URL" : ""
        })` +
        ", or place the files there by hand.";
    } else if (e.kind === "integrity") {
      advice =
        `Run \`${cmd}\` again to download afresh; if it fails the same way, the server's copy differs ` +
        `from the published or recorded checksum.`;
    } else {
      advice = `Then run \`${cmd}\`, or place the files there by hand.`;
    }
    const where = missing.length > 0 ? `\nStill missing: ${missing.join("; ")}.` : "";
    return new FetchError(e.kind, `${e.detail}${where}\n${advice}`, {
      url: e.url,
      status: e.status,
      file: e.location.file,
    });
  }
}

/** Fetch the named items into `opts.dataDir` (see the module doc). */
export async function fetchItems(names: string[], opts: FetchOptions): Promise<ItemReport[]> {
  const items = resolveItems(names);
  if (opts.revision !== undefined && items.filter(isHubItem).length > 1) {
    throw new InputError("--revision applies to one item at a time; fetch the others separately");
  }
  if (opts.revision !== undefined && items.every((i) => !isHubItem(i))) {
    throw new InputError("--revision applies to Hugging Face items only");
  }
  const release = await acquireProcessLock(opts.dataDir);
  try {
    // Staging folders left by a killed unpack (no other fetch runs now: we hold the lock).
    for await (const e of Deno.readDir(opts.dataDir)) {
      if (e.isDirectory && e.name.startsWith(".fetch-staging-")) {
        await Deno.remove(`${opts.dataDir}/${e.name}`, { recursive: true }).catch(() => {});
      }
    }
    const lock = await FetchLock.open(opts.dataDir);
    const f = new Fetcher(opts, lock, items);
    const reports: ItemReport[] = [];
    for (let i = 0; i < items.length; i++) {
      const item = items[i];
      try {
        const r = item.kind === "model" ? await f.fetchModel(item) : await f.fetchData(item);
        reports.push(r);
        const extra = r.unverified.length ? ` (${r.unverified.length} placed by hand, not verified)` : "";
        f.log(`${item.name}: ${r.status === "present" ? "already present" : "done"}${extra}`);
      } catch (e) {
        if (e instanceof FetchError) throw await f.explain(e, item, items.slice(i + 1));
        throw e;
      }
    }
    return reports;
  } finally {
    await release();
  }
}
