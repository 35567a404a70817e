import { deepStrictEqual, ok, rejects, strictEqual } from "node:assert/strict";
import { fetchItems, type FetchOptions, resolveItems } from "./fetch_items.ts";
import { findItem, type ModelItem } from "./catalog.ts";
import { FetchError } from "./fetch_error.ts";
import { FetchLock, isAbsent } from "./lock_file.ts";
import { deadUrl, type Route, startTestServer, type TestServer } from "./test_server.ts";
import { sha256File } from "./file_hash.ts";
import { checkModelFolder } from "../model/model_folder.ts";
import { loadSickRelatedness, loadStsBenchmark } from "../eval/sts_data.ts";
import { InputError } from "../runtime/errors.ts";

const FIX = new URL("../../testdata/fetch/", import.meta.url).pathname;
const EXPECTED = JSON.parse(Deno.readTextFileSync(`${FIX}expected.json`));
const file = (n: string) => Deno.readFileSync(`${FIX}files/${n}`);
const BLOB = file("blob.bin");
const TINY = findItem("bert-tiny") as ModelItem;
const TINY_DIR = "models/bert_uncased_L-2_H-128_A-2";
const DATASETS = "/datasets/princeton-nlp/datasets-for-simcse/resolve/main";

/** A fake hub serving bert-tiny the way huggingface.co does: small files with git-sha1 ETags, the
 * weights (pytorch_model.bin only, no safetensors) through a redirect to a "CDN" with X-Linked headers. */
function hubRoutes(
  cdnUrl: string,
  revision = TINY.revision,
  weights: Partial<Route> = {},
): Record<string, Route> {
  const base = `/${TINY.repo}/resolve/${revision}`;
  const small = (n: string): Route => ({
    body: file(n),
    headers: { etag: `"${EXPECTED.files[n].git_sha1}"`, "x-repo-commit": "1234abcd" },
  });
  return {
    [`${base}/config.json`]: small("config.json"),
    [`${base}/vocab.txt`]: small("vocab.txt"),
    [`${base}/tokenizer_config.json`]: small("tokenizer_config.json"),
    [`${base}/pytorch_model.bin`]: {
      redirectTo: `${cdnUrl}/cdn/weights`,
      headers: {
        "x-linked-size": String(BLOB.length),
        "x-linked-etag": `"${EXPECTED.files["blob.bin"].sha256}"`,
        "x-repo-commit": "1234abcd",
      },
      ...weights,
    },
  };
}

async function setup(): Promise<{ hub: TestServer; cdn: TestServer; data: string; done(): Promise<void> }> {
  const cdn = startTestServer({ "/cdn/weights": { body: BLOB } });
  const hub = startTestServer(hubRoutes(cdn.url));
  const data = await Deno.makeTempDir();
  return {
    hub,
    cdn,
    data,
    async done() {
      await hub.close();
      await cdn.close();
      await Deno.remove(data, { recursive: true });
    },
  };
}

function opts(data: string, baseUrl: string | undefined, extra: Partial<FetchOptions> = {}): FetchOptions {
  return {
    dataDir: data,
    baseUrl,
    progress: false,
    log: () => {},
    retryDelayMs: 0,
    defaultDataDir: "data",
    env: {},
    ...extra,
  };
}

async function walk(dir: string, prefix = ""): Promise<string[]> {
  const out: string[] = [];
  for await (const e of Deno.readDir(prefix ? `${dir}/${prefix}` : dir)) {
    const rel = prefix ? `${prefix}/${e.name}` : e.name;
    if (e.isDirectory) out.push(...await walk(dir, rel));
    else out.push(rel);
  }
  return out.sort();
}

function fetchError(kind: string, ...fragments: (RegExp | string)[]) {
  return (e: unknown) => {
    ok(e instanceof FetchError, String(e));
    strictEqual(e.kind, kind, e.message);
    for (const f of fragments) {
      ok(typeof f === "string" ? e.message.includes(f) : f.test(e.message), `${f} not in:\n${e.message}`);
    }
    return true;
  };
}

Deno.test("`fetchItems()` brings a model folder (pytorch_model.bin fallback), records it, then skips it", async () => {
  const t = await setup();
  try {
    const [r] = await fetchItems(["bert-tiny"], opts(t.data, t.hub.url));
    strictEqual(r.status, "fetched");
    deepStrictEqual(await walk(t.data), [
      "fetch.lock.json",
      ...["config.json", "pytorch_model.bin", "tokenizer_config.json", "vocab.txt"].map((f) =>
        `${TINY_DIR}/${f}`
      ),
    ]);
    for (const f of ["config.json", "vocab.txt", "tokenizer_config.json"]) {
      strictEqual(await sha256File(`${t.data}/${TINY_DIR}/${f}`), EXPECTED.files[f].sha256, f);
    }
    strictEqual(
      await sha256File(`${t.data}/${TINY_DIR}/pytorch_model.bin`),
      EXPECTED.files["blob.bin"].sha256,
    );
    await checkModelFolder(`${t.data}/${TINY_DIR}`);
    const lock = await FetchLock.open(t.data);
    const w = lock.get(`${TINY_DIR}/pytorch_model.bin`);
    ok(w && !isAbsent(w) && w.source === "published" && w.revision === "1234abcd", JSON.stringify(w));
    const c = lock.get(`${TINY_DIR}/config.json`);
    ok(c && !isAbsent(c) && c.source === "etag-verified", JSON.stringify(c));
    for (const f of ["model.safetensors", "tokenizer.json", "special_tokens_map.json"]) {
      ok(isAbsent(lock.get(`${TINY_DIR}/${f}`)), f);
    }
    // The pinned revision is in every URL.
    ok(t.hub.requests.every((q) => q.path.includes(`/resolve/${TINY.revision}/`)));
    const before = t.hub.requests.length + t.cdn.requests.length;
    const [again] = await fetchItems(["bert_uncased_L-2_H-128_A-2"], opts(t.data, t.hub.url));
    strictEqual(again.status, "present");
    deepStrictEqual(again.unverified, []);
    strictEqual(t.hub.requests.length + t.cdn.requests.length, before, "no request for a complete folder");
  } finally {
    await t.done();
  }
});

Deno.test("`fetchItems()` cut mid-weights: the error names URL, missing file and command; a rerun resumes", async () => {
  const t = await setup();
  t.cdn.routes["/cdn/weights"] = { body: BLOB, cutAfter: 30_000 };
  try {
    await rejects(
      fetchItems(["bert-tiny"], opts(t.data, t.hub.url, { retries: 0 })),
      fetchError(
        "network",
        `${t.hub.url}/${TINY.repo}/resolve/${TINY.revision}/pytorch_model.bin`,
        /connection (lost|closed) after 30000 of 98304 bytes/,
        `Still missing: ${t.data}/${TINY_DIR}/ model.safetensors (or pytorch_model.bin)`,
        `\`deno task fetch google/bert_uncased_L-2_H-128_A-2 --data-dir ${t.data} --base-url ${t.hub.url}\``,
        /partial downloads resume/,
      ),
    );
    strictEqual((await Deno.stat(`${t.data}/${TINY_DIR}/pytorch_model.bin.part`)).size, 30_000);
    await rejects(
      checkModelFolder(`${t.data}/${TINY_DIR}`),
      /missing model\.safetensors \(or pytorch_model\.bin\)/,
    );
    const [r] = await fetchItems(["bert-tiny"], opts(t.data, t.hub.url));
    strictEqual(r.status, "fetched");
    strictEqual(t.cdn.gets("/cdn/weights").at(-1)!.range, "bytes=30000-");
    strictEqual(
      await sha256File(`${t.data}/${TINY_DIR}/pytorch_model.bin`),
      EXPECTED.files["blob.bin"].sha256,
    );
    ok(!(await walk(t.data)).some((f) => f.endsWith(".part")));
  } finally {
    await t.done();
  }
});

Deno.test("`fetchItems()` offline: the error names the URL, every missing file and the exact command", async () => {
  const data = await Deno.makeTempDir();
  const url = await deadUrl();
  try {
    await rejects(
      fetchItems(["bert-tiny", "senteval"], opts(data, url, { retries: 0 })),
      fetchError(
        "network",
        `${url}/${TINY.repo}/resolve/${TINY.revision}/config.json: cannot connect`,
        `${data}/${TINY_DIR}/ config.json, vocab.txt, model.safetensors (or pytorch_model.bin)`,
        `senteval: ${data}/senteval/STS/, ${data}/senteval/SICK/ (54 files)`,
        `\`deno task fetch google/bert_uncased_L-2_H-128_A-2 senteval --data-dir ${data} --base-url ${url}\``,
        /place the files there by hand/,
      ),
    );
    deepStrictEqual(await walk(data), [], "nothing written");
  } finally {
    await Deno.remove(data, { recursive: true });
  }
});

Deno.test("`fetchItems()` takes HF_ENDPOINT when there is no --base-url, and --revision overrides the pin", async () => {
  const cdn = startTestServer({ "/cdn/weights": { body: BLOB } });
  const hub = startTestServer(hubRoutes(cdn.url, "v2"));
  const data = await Deno.makeTempDir();
  try {
    await fetchItems(
      ["bert-tiny"],
      opts(data, undefined, { env: { HF_ENDPOINT: `${hub.url}/` }, revision: "v2" }),
    );
    ok(hub.requests.length > 0 && hub.requests.every((q) => q.path.includes("/resolve/v2/")));
    await checkModelFolder(`${data}/${TINY_DIR}`);
  } finally {
    await hub.close();
    await cdn.close();
    await Deno.remove(data, { recursive: true });
  }
});

Deno.test("`fetchItems()` a 404 for a required file names the repo, file and revision", async () => {
  const t = await setup();
  delete t.hub.routes[`/${TINY.repo}/resolve/${TINY.revision}/vocab.txt`];
  try {
    await rejects(
      fetchItems(["bert-tiny"], opts(t.data, t.hub.url)),
      fetchError(
        "http",
        `google/bert_uncased_L-2_H-128_A-2 has no vocab.txt at revision ${TINY.revision}`,
        /--revision main/,
      ),
    );
    ok(!(await walk(t.data)).some((f) => f.endsWith(".part")));
  } finally {
    await t.done();
  }
});

Deno.test("`fetchItems()` unpacks senteval into the layout the eval loaders read, and drops the tar", async () => {
  const srv = startTestServer({
    [`${DATASETS}/senteval.tar`]: { body: Deno.readFileSync(`${FIX}senteval_mini.tar`) },
  });
  const data = await Deno.makeTempDir();
  try {
    const [r] = await fetchItems(["senteval"], opts(data, srv.url, { log: () => {} }));
    strictEqual(r.status, "fetched");
    const files = await walk(data);
    ok(!files.some((f) => f.startsWith(".downloads/") || f.startsWith(".fetch")), files.join("\n"));
    const sts = await loadStsBenchmark(data, "dev", { checkCounts: false });
    deepStrictEqual(sts, { s1: ["A plane is taking off."], s2: ["An air plane is taking off."], gold: [5] });
    const sick = await loadSickRelatedness(data, "test", { checkCounts: false });
    deepStrictEqual(sick.gold, [4.5]);
    const lock = await FetchLock.open(data);
    const e = lock.get("senteval/SICK/SICK_trial.txt");
    ok(
      e && !isAbsent(e) && e.source === "archive" && e.from === ".downloads/senteval.tar",
      JSON.stringify(e),
    );
    const [again] = await fetchItems(["sts"], opts(data, srv.url, { verify: true }));
    strictEqual(again.status, "present");
  } finally {
    await srv.close();
    await Deno.remove(data, { recursive: true });
  }
});

Deno.test("`fetchItems()` a senteval.tar with ../ paths is refused and deleted; nothing lands in the data folder", async () => {
  const srv = startTestServer({
    [`${DATASETS}/senteval.tar`]: { body: Deno.readFileSync(`${FIX}evil_dotdot.tar`) },
  });
  const parent = await Deno.makeTempDir();
  const data = `${parent}/data`;
  try {
    await rejects(
      fetchItems(["senteval"], opts(data, srv.url)),
      fetchError(
        "archive",
        /unsafe member "STS\/\.\.\/\.\.\/evil\.txt"/,
        /the archive was deleted/,
        "Still missing",
      ),
    );
    deepStrictEqual(await walk(parent), ["data/fetch.lock.json"]);
    const lock = await FetchLock.open(data);
    deepStrictEqual(lock.paths(), []);
  } finally {
    await srv.close();
    await Deno.remove(parent, { recursive: true });
  }
});

Deno.test("`fetchItems()` an archive lacking expected files fails and says which", async () => {
  const srv = startTestServer({
    [`${DATASETS}/senteval.tar`]: { body: Deno.readFileSync(`${FIX}gnu_dotslash.tar`) },
  });
  const data = await Deno.makeTempDir();
  try {
    await rejects(
      fetchItems(["senteval"], opts(data, srv.url)),
      fetchError(
        "archive",
        /the archive lacks 53 expected file\(s\): senteval\/STS\/STS12-en-test\/STS\.input\.MSRpar\.txt/,
      ),
    );
  } finally {
    await srv.close();
    await Deno.remove(data, { recursive: true });
  }
});

Deno.test("`fetchItems()` senteval_cn from a --url override lands in zh/<task>/", async () => {
  const srv = startTestServer({
    "/mirror/cn.zip": { body: Deno.readFileSync(`${FIX}senteval_cn_mini.zip`) },
  });
  const data = await Deno.makeTempDir();
  try {
    await fetchItems(
      ["senteval_cn"],
      opts(data, undefined, { urlOverrides: { senteval_cn: `${srv.url}/mirror/cn.zip` } }),
    );
    const files = (await walk(data)).filter((f) => f.startsWith("zh/"));
    deepStrictEqual(files, [
      "zh/lcqmc/LCQMC.test.data",
      "zh/lcqmc/LCQMC.train.data",
      "zh/lcqmc/LCQMC.valid.data",
      "zh/pawsx/PAWSX.test.data",
      "zh/pawsx/PAWSX.train.data",
      "zh/pawsx/PAWSX.valid.data",
    ]);
    strictEqual(srv.requests.filter((q) => q.method === "HEAD").length, 0, "no HEAD to non-hub hosts");
  } finally {
    await srv.close();
    await Deno.remove(data, { recursive: true });
  }
});

Deno.test("`fetchItems()` checks a re-download against the sha256 recorded on first download", async () => {
  const wiki = file("wiki.txt");
  const srv = startTestServer({ [`${DATASETS}/wiki1m_for_simcse.txt`]: { body: wiki } });
  const data = await Deno.makeTempDir();
  try {
    await fetchItems(["wiki1m"], opts(data, srv.url));
    const e = (await FetchLock.open(data)).get("wiki/wiki1m_for_simcse.txt");
    ok(e && !isAbsent(e) && e.source === "first-download" && e.sha256 === EXPECTED.files["wiki.txt"].sha256);
    // The file is lost; the server now has different bytes of the same length.
    await Deno.remove(`${data}/wiki/wiki1m_for_simcse.txt`);
    const changed = wiki.slice();
    changed[0] ^= 1;
    srv.routes[`${DATASETS}/wiki1m_for_simcse.txt`] = { body: changed };
    await rejects(
      fetchItems(["wiki1m"], opts(data, srv.url)),
      fetchError("integrity", /sha256 mismatch/, /recorded in .*fetch\.lock\.json on first download/),
    );
    deepStrictEqual(await walk(data), ["fetch.lock.json"]);
  } finally {
    await srv.close();
    await Deno.remove(data, { recursive: true });
  }
});

Deno.test("`fetchItems()` present files: size checked always, sha256 with verify; hand-placed ones accepted offline", async () => {
  const wiki = file("wiki.txt");
  const srv = startTestServer({ [`${DATASETS}/wiki1m_for_simcse.txt`]: { body: wiki } });
  const data = await Deno.makeTempDir();
  const dead = await deadUrl();
  try {
    await fetchItems(["wiki1m"], opts(data, srv.url));
    const path = `${data}/wiki/wiki1m_for_simcse.txt`;
    const flipped = wiki.slice();
    flipped[3] ^= 1;
    await Deno.writeFile(path, flipped);
    const [r] = await fetchItems(["wiki1m"], opts(data, dead));
    strictEqual(r.status, "present");
    await rejects(
      fetchItems(["wiki1m"], opts(data, dead, { verify: true })),
      fetchError("integrity", path, /sha256 [0-9a-f]{64}, the lock file says/, /--force/),
    );
    await Deno.writeFile(path, wiki.subarray(1));
    await rejects(
      fetchItems(["wiki1m"], opts(data, dead)),
      fetchError("integrity", /size 68 bytes, the lock file says 69/),
    );
    // A model folder placed by hand: accepted without any request, reported as unverified.
    const dir = `${data}/${TINY_DIR}`;
    await Deno.mkdir(dir, { recursive: true });
    for (const f of ["config.json", "vocab.txt"]) await Deno.writeFile(`${dir}/${f}`, file(f));
    await Deno.writeFile(`${dir}/model.safetensors`, new Uint8Array(8));
    const [m] = await fetchItems(["bert-tiny"], opts(data, dead));
    strictEqual(m.status, "present");
    deepStrictEqual(
      m.unverified,
      ["config.json", "vocab.txt", "model.safetensors"].map((f) => `${TINY_DIR}/${f}`),
    );
  } finally {
    await srv.close();
    await Deno.remove(data, { recursive: true });
  }
});

Deno.test("`resolveItems()` and option checks fail before any work with a pointer to --list", async () => {
  deepStrictEqual(
    resolveItems(["SentEval", "unsup-simcse-bert-base-uncased", "senteval"]).map((i) => i.name),
    [
      "senteval",
      "princeton-nlp/unsup-simcse-bert-base-uncased",
    ],
  );
  try {
    resolveItems(["bert-base-uncasd", "x"]);
    ok(false);
  } catch (e) {
    ok(
      e instanceof InputError && /unknown names 'bert-base-uncasd', 'x'/.test(e.message) &&
        /--list/.test(e.message),
    );
  }
  const data = await Deno.makeTempDir();
  try {
    await rejects(
      fetchItems(["gpt2", "wiki1m"], opts(data, undefined, { revision: "main" })),
      /one item at a time/,
    );
    deepStrictEqual(await walk(data), []);
  } finally {
    await Deno.remove(data, { recursive: true });
  }
});

Deno.test("`fetchItems()` refuses to run beside a live fetch in the same data folder, and takes over a stale lock", async () => {
  const data = await Deno.makeTempDir();
  const dead = await deadUrl();
  try {
    await Deno.writeTextFile(`${data}/.fetch.pid`, `${Deno.pid}\n`);
    await rejects(
      fetchItems(["wiki1m"], opts(data, dead)),
      /another `deno task fetch` \(pid \d+\) is working/,
    );
    await Deno.writeTextFile(`${data}/.fetch.pid`, "2147483646\n");
    await rejects(
      fetchItems(["wiki1m"], opts(data, dead, { retries: 0 })),
      fetchError("network", /cannot connect/),
    );
    deepStrictEqual(await walk(data), [], "lock released");
  } finally {
    await Deno.remove(data, { recursive: true });
  }
});

Deno.test("`fetchItems()` refuses a 60 MiB config.json sent without a declared size, keeping nothing of it", async () => {
  const t = await setup();
  try {
    const base = `/${TINY.repo}/resolve/${TINY.revision}`;
    t.hub.routes[`${base}/config.json`] = {
      body: new Uint8Array(60 * 1024 * 1024).fill(0x20),
      noLength: true,
    };
    await rejects(
      fetchItems(["bert-tiny"], opts(t.data, t.hub.url)),
      (e) =>
        e instanceof FetchError && e.kind === "integrity" &&
        /config\.json: the server declared no size and sent more than 33554432 bytes, the most accepted for a model's \.json file/
          .test(e.message),
    );
    deepStrictEqual((await walk(t.data)).filter((f) => f.includes("config.json")), []);
    // A small config.json without a declared size is accepted as before.
    t.hub.routes[`${base}/config.json`] = { body: file("config.json"), noLength: true };
    const [r] = await fetchItems(["bert-tiny"], opts(t.data, t.hub.url));
    strictEqual(r.status, "fetched");
    strictEqual(await sha256File(`${t.data}/${TINY_DIR}/config.json`), EXPECTED.files["config.json"].sha256);
  } finally {
    await t.done();
  }
});
