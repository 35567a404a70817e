/**
 * The wiki1m sample the `cpu` presets train on: the first 11,914 lines of SimCSE's
 * `wiki1m_for_simcse.txt`, byte for byte, as `wiki/wiki1m_for_simcse.head.txt` in the data folder.
 * `deno task fetch wiki1m` writes it next to the full file, and a run whose training file is the
 * sample derives it from the full file when only that is present. The file the committed `cpu`
 * runs used has SHA-256 {@link WIKI1M_SAMPLE_SHA256}; a derived file with another hash is still
 * used, with a note that the full file differs from the one those runs came from.
 *
 * @example
 * ```ts
 * import { ensureWikiSample } from "./wiki_sample.ts";
 * const r = await ensureWikiSample("data"); // { status: "written" | "present" | "no-source", ... }
 * ```
 * @module
 */
import { sha256File } from "../fetch/file_hash.ts";

/** The full corpus, relative to the data folder. */
export const WIKI1M_FILE = "wiki/wiki1m_for_simcse.txt";
/** The sample the `cpu` presets read, relative to the data folder. */
export const WIKI1M_SAMPLE_FILE = "wiki/wiki1m_for_simcse.head.txt";
/** Lines in the sample. */
export const WIKI1M_SAMPLE_LINES = 11914;
/** SHA-256 of the sample the committed `cpu` runs trained on (1,279,831 bytes). */
export const WIKI1M_SAMPLE_SHA256 = "423e56115d182ab21d4f413473f6f615888d140fec81f06a750297b5940aa190";

/** What {@link ensureWikiSample} did. */
export interface WikiSampleResult {
  /** "present": already there; "written": derived now; "no-source": neither file exists. */
  status: "present" | "written" | "no-source";
  /** The sample's path. */
  path: string;
  /** For "written": whether its SHA-256 is {@link WIKI1M_SAMPLE_SHA256}. */
  matchesCommittedRuns?: boolean;
}

const exists = (p: string) => Deno.stat(p).then(() => true, () => false);

/**
 * The first `lines` lines of `src` (each with its `\n`; all of it when shorter), streamed so memory
 * stays bounded, written to `dest` through a temporary file and a rename.
 */
export async function writeHeadLines(src: string, dest: string, lines: number): Promise<void> {
  const tmp = `${dest}.${Deno.pid}.tmp`;
  const input = await Deno.open(src, { read: true });
  const out = await Deno.open(tmp, { write: true, create: true, truncate: true });
  try {
    let seen = 0;
    const buf = new Uint8Array(1 << 16);
    while (seen < lines) {
      const n = await input.read(buf);
      if (n === null) break;
      let end = n;
      for (let i = 0; i < n; i++) {
        if (buf[i] === 10 && ++seen === lines) {
          end = i + 1;
          break;
        }
      }
      let off = 0;
      while (off < end) off += await out.write(buf.subarray(off, end));
    }
  } catch (e) {
    out.close();
    input.close();
    await Deno.remove(tmp).catch(() => {});
    throw e;
  }
  out.close();
  input.close();
  await Deno.rename(tmp, dest);
}

/** Make `<dataDir>/wiki/wiki1m_for_simcse.head.txt` from the full corpus when it is missing. */
export async function ensureWikiSample(dataDir: string): Promise<WikiSampleResult> {
  const path = `${dataDir}/${WIKI1M_SAMPLE_FILE}`;
  if (await exists(path)) return { status: "present", path };
  const full = `${dataDir}/${WIKI1M_FILE}`;
  if (!(await exists(full))) return { status: "no-source", path };
  await writeHeadLines(full, path, WIKI1M_SAMPLE_LINES);
  return { status: "written", path, matchesCommittedRuns: (await sha256File(path)) === WIKI1M_SAMPLE_SHA256 };
}

/** One line describing a {@link ensureWikiSample} result that wrote a file (null otherwise). */
export function describeWikiSample(r: WikiSampleResult): string | null {
  if (r.status !== "written") return null;
  return `wrote the cpu presets' sample ${r.path} (first ${
    WIKI1M_SAMPLE_LINES.toLocaleString("en")
  } lines of ${WIKI1M_FILE})` +
    (r.matchesCommittedRuns ? "" : "; note: it differs from the sample the committed cpu runs used");
}
