/**
 * `deno task fetch <name…> [--data-dir DIR] [--base-url URL] [--revision R] [--url NAME=URL]
 *   [--force] [--verify] [--keep-archives] [--retries N] [--list]`
 *
 * Downloads models (Hugging Face checkpoint folders into `<data>/models/<name>/`) and data sets
 * (`senteval`, `wiki1m`, `nli`, `senteval_cn`) into the data folder's layout, with progress bars,
 * resume of interrupted downloads, checksums (published, or recorded in `<data>/fetch.lock.json`)
 * and safe unpacking. `--list` prints the catalog. The hub is `--base-url`, else `$HF_ENDPOINT`,
 * else https://huggingface.co; the data folder is `--data-dir`, else `$SIMCSE_DATA_DIR`, else `data`.
 *
 * @module
 */
import { describeWikiSample, ensureWikiSample } from "../lib/data/wiki_sample.ts";
import { main, nonNegativeInt, parseFlags } from "../lib/app/cli.ts";
import { InputError } from "../lib/runtime/errors.ts";
import { resolveDataDir } from "../lib/eval/sts_data.ts";
import { CATALOG, modelFolder } from "../lib/fetch/catalog.ts";
import { fetchItems } from "../lib/fetch/fetch_items.ts";
import { hubEndpoint } from "../lib/fetch/hf_urls.ts";
import { formatBytes } from "../lib/fetch/byte_progress.ts";

const USAGE = `usage: deno task fetch <name...> [--data-dir DIR] [--base-url URL] [--revision R]
       [--url NAME=URL ...] [--force] [--verify] [--keep-archives] [--retries N]
       deno task fetch --list
names: models by hub id or alias (bert-base-uncased, gpt2, princeton-nlp/unsup-simcse-bert-base-uncased,
       bert-tiny, ...) and data sets (senteval, wiki1m, nli, senteval_cn); --list shows them all.
--base-url URL   a Hugging Face mirror (default $HF_ENDPOINT, else https://huggingface.co)
--revision R     commit, tag or branch instead of the catalog's pin (one hub item at a time)
--url NAME=URL   another URL for a download (e.g. senteval_cn=https://mirror/senteval_cn.zip)
--force          download again even when the files are present
--verify         recompute the sha256 of present files against fetch.lock.json
--keep-archives  keep senteval.tar / senteval_cn.zip under <data>/.downloads/
--retries N      retries after a network failure, each resuming (default 3)`;

/** The catalog as printed by `--list`. */
export function renderCatalog(endpoint: string, dataDir: string): string {
  const lines: string[] = [
    `hub: ${endpoint}    data folder: ${dataDir}`,
    "",
    "models (into <data>/models/<name>/):",
  ];
  const size = (n: number) => (Number.isFinite(n) ? `~${formatBytes(n)}` : "size ?");
  const models = CATALOG.filter((i) => i.kind === "model");
  const w = Math.max(...models.map((m) => m.name.length));
  for (const m of models) {
    const rev = m.pinned ? m.revision.slice(0, 10) : "main (unpinned)";
    const alias = m.aliases.filter((a) => !a.includes("/") && a !== m.name.split("/").pop()).join(", ");
    lines.push(
      `  ${m.name.padEnd(w)}  ${size(m.approxBytes).padStart(11)}  ${rev.padEnd(15)}  ${m.description}` +
        (alias ? ` [alias: ${alias}]` : ""),
    );
  }
  lines.push("", "data sets:");
  for (const d of CATALOG) {
    if (d.kind !== "data") continue;
    const where = d.dest ?? d.covers.map((c) => `${c}/`).join(", ");
    lines.push(`  ${d.name.padEnd(12)}  ${size(d.approxBytes).padStart(11)}  -> ${where}  ${d.description}`);
  }
  lines.push(
    "",
    "Revisions are commit hashes found in public snapshot paths; they could not be checked against the hub",
    "from the machine that wrote this catalog. --revision R overrides (--revision main takes the latest).",
  );
  return lines.join("\n");
}

function parseUrlOverrides(list: string[] | undefined): Record<string, string> {
  const out: Record<string, string> = {};
  for (const s of list ?? []) {
    const eq = s.indexOf("=");
    if (eq <= 0 || !/^https?:\/\//.test(s.slice(eq + 1))) {
      throw new InputError(`--url expects NAME=http(s)://…, got '${s}'`);
    }
    out[s.slice(0, eq)] = s.slice(eq + 1);
  }
  return out;
}

if (import.meta.main) {
  await main(async () => {
    const { values, positionals } = parseFlags(
      Deno.args,
      {
        "data-dir": { type: "string" },
        "base-url": { type: "string" },
        revision: { type: "string" },
        url: { type: "string", multiple: true },
        force: { type: "boolean", default: false },
        verify: { type: "boolean", default: false },
        "keep-archives": { type: "boolean", default: false },
        retries: { type: "string" },
        list: { type: "boolean", default: false },
      },
      USAGE,
      { positionals: true },
    );
    const retries = nonNegativeInt(values.retries as string | undefined, "retries", 3);
    const dataDir = resolveDataDir(values["data-dir"] as string | undefined);
    const baseUrl = values["base-url"] as string | undefined;
    const endpoint = hubEndpoint(baseUrl);
    if (values.list) {
      console.log(renderCatalog(endpoint, dataDir));
      return;
    }
    if (positionals.length === 0) throw new InputError(`nothing to fetch\n${USAGE}`);
    const reports = await fetchItems(positionals, {
      dataDir,
      baseUrl,
      revision: values.revision as string | undefined,
      urlOverrides: parseUrlOverrides(values.url as string[] | undefined),
      force: values.force as boolean,
      verify: values.verify as boolean,
      keepArchives: values["keep-archives"] as boolean,
      retries,
    });
    for (const r of reports) {
      const item = CATALOG.find((i) => i.name === r.name)!;
      const where = item.kind === "model" ? `${dataDir}/${modelFolder(item)}` : dataDir;
      const use = item.kind === "model" ? `  (use --model ${where})` : "";
      console.log(
        `${r.name}: ${r.status === "present" ? "already present" : "fetched"}, ${r.files.length} files${use}`,
      );
      if (r.name === "wiki1m") {
        const note = describeWikiSample(await ensureWikiSample(dataDir));
        if (note) console.log(`wiki1m: ${note}`);
      }
    }
  });
}
