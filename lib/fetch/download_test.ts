import { deepStrictEqual, ok, rejects, strictEqual } from "node:assert/strict";
import { downloadFile, probe, remoteInfoFromHeaders } from "./download.ts";
import { FetchError } from "./fetch_error.ts";
import { deadUrl, startTestServer } from "./test_server.ts";
import { sha256File } from "./file_hash.ts";
import { exists } from "../runtime/fs.ts";

const FIX = new URL("../../testdata/fetch/", import.meta.url).pathname;
const EXPECTED = JSON.parse(Deno.readTextFileSync(`${FIX}expected.json`));
const BLOB = Deno.readFileSync(`${FIX}files/blob.bin`);
const BLOB_SHA = EXPECTED.files["blob.bin"].sha256 as string; // hashlib
const CONFIG = Deno.readFileSync(`${FIX}files/config.json`);
const quiet = { progress: false as const, log: () => {}, retryDelayMs: 0 };

async function listDir(dir: string): Promise<string[]> {
  const out: string[] = [];
  for await (const e of Deno.readDir(dir)) out.push(e.name);
  return out.sort();
}

function isFetchError(kind: string, ...fragments: RegExp[]) {
  return (e: unknown) => {
    ok(e instanceof FetchError, String(e));
    strictEqual(e.kind, kind, e.message);
    for (const f of fragments) ok(f.test(e.message), `${f} not in: ${e.message}`);
    return true;
  };
}

Deno.test("`downloadFile()` verifies the published sha256 and leaves only the final file", async () => {
  const srv = startTestServer({ "/blob.bin": { body: BLOB, headers: { "x-linked-etag": `"${BLOB_SHA}"` } } });
  const dir = await Deno.makeTempDir();
  try {
    const info = await probe(`${srv.url}/blob.bin`);
    deepStrictEqual(info, { size: BLOB.length, sha256: BLOB_SHA });
    const r = await downloadFile(`${srv.url}/blob.bin`, `${dir}/sub/blob.bin`, { ...quiet, expected: info });
    strictEqual(r.sha256, BLOB_SHA);
    deepStrictEqual(r.checked, { size: true, sha256: true, gitSha1: false });
    strictEqual(await sha256File(`${dir}/sub/blob.bin`), BLOB_SHA);
    deepStrictEqual(await listDir(`${dir}/sub`), ["blob.bin"]);
  } finally {
    await srv.close();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("`downloadFile()` keeps a cut download as .part and the next call resumes it with Range", async () => {
  const cutAt = 40_000;
  const srv = startTestServer({ "/blob.bin": { body: BLOB, cutAfter: cutAt } });
  const dir = await Deno.makeTempDir();
  const dest = `${dir}/blob.bin`;
  try {
    await rejects(
      downloadFile(`${srv.url}/blob.bin`, dest, { ...quiet, retries: 0 }),
      isFetchError(
        "network",
        /127\.0\.0\.1:\d+\/blob\.bin/,
        /connection (lost|closed) after 40000 of 98304 bytes/,
        /resumes/,
      ),
    );
    ok(!(await exists(dest)), "no file that looks complete");
    strictEqual((await Deno.stat(`${dest}.part`)).size, cutAt);
    const r = await downloadFile(`${srv.url}/blob.bin`, dest, { ...quiet, expected: { sha256: BLOB_SHA } });
    strictEqual(r.resumedFrom, cutAt);
    strictEqual(srv.gets("/blob.bin")[1].range, `bytes=${cutAt}-`);
    strictEqual(await sha256File(dest), BLOB_SHA);
    deepStrictEqual(await listDir(dir), ["blob.bin"]);
  } finally {
    await srv.close();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("`downloadFile()` retries a cut connection by itself, resuming each time", async () => {
  const srv = startTestServer({ "/blob.bin": { body: BLOB, cutAfter: 10_000, cutTimes: 1 } });
  const dir = await Deno.makeTempDir();
  try {
    const notes: string[] = [];
    const r = await downloadFile(`${srv.url}/blob.bin`, `${dir}/b`, {
      ...quiet,
      retries: 2,
      log: (l) => notes.push(l),
      expected: { size: BLOB.length, sha256: BLOB_SHA },
    });
    strictEqual(r.attempts, 2);
    strictEqual(r.resumedFrom, 10_000);
    ok(notes.some((n) => /retrying/.test(n)), notes.join("\n"));
    strictEqual(await sha256File(`${dir}/b`), BLOB_SHA);
  } finally {
    await srv.close();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("`downloadFile()` restarts from byte 0 when the server ignores Range", async () => {
  const srv = startTestServer({ "/blob.bin": { body: BLOB, ignoreRange: true } });
  const dir = await Deno.makeTempDir();
  try {
    await Deno.writeFile(`${dir}/b.part`, BLOB.subarray(0, 5000));
    const notes: string[] = [];
    const r = await downloadFile(`${srv.url}/blob.bin`, `${dir}/b`, {
      ...quiet,
      log: (l) => notes.push(l),
      expected: { sha256: BLOB_SHA },
    });
    strictEqual(r.restarts, 1);
    strictEqual(r.resumedFrom, 0);
    strictEqual(srv.gets("/blob.bin")[0].range, "bytes=5000-");
    ok(notes.some((n) => /ignored the Range request/.test(n)), notes.join("\n"));
    strictEqual(await sha256File(`${dir}/b`), BLOB_SHA);
    deepStrictEqual(await listDir(dir), ["b"]);
  } finally {
    await srv.close();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("`downloadFile()` with a wrong published sha256 fails naming both hashes and leaves nothing", async () => {
  const wrong = "0".repeat(64);
  const srv = startTestServer({ "/blob.bin": { body: BLOB, headers: { "x-linked-etag": wrong } } });
  const dir = await Deno.makeTempDir();
  try {
    const info = await probe(`${srv.url}/blob.bin`);
    await rejects(
      downloadFile(`${srv.url}/blob.bin`, `${dir}/b`, {
        ...quiet,
        expected: { ...info, sha256Source: "published" },
      }),
      isFetchError("integrity", new RegExp(`got ${BLOB_SHA}`), new RegExp(`expected ${wrong}`), /published/),
    );
    deepStrictEqual(await listDir(dir), []);
  } finally {
    await srv.close();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("`downloadFile()` checks the git blob sha1 ETag of small hub files", async () => {
  const sha1 = EXPECTED.files["config.json"].git_sha1 as string; // hashlib
  const srv = startTestServer({
    "/good": { body: CONFIG, headers: { etag: `"${sha1}"`, "x-repo-commit": "abc" } },
    "/bad": { body: CONFIG, headers: { etag: `W/"${"1".repeat(40)}"`, "x-repo-commit": "abc" } },
  });
  const dir = await Deno.makeTempDir();
  try {
    const info = await probe(`${srv.url}/good`);
    deepStrictEqual(info, { size: CONFIG.length, gitSha1: sha1, commit: "abc" });
    const r = await downloadFile(`${srv.url}/good`, `${dir}/c`, { ...quiet, expected: info });
    ok(r.checked.gitSha1);
    await rejects(
      downloadFile(`${srv.url}/bad`, `${dir}/d`, { ...quiet, expected: await probe(`${srv.url}/bad`) }),
      isFetchError("integrity", /git blob sha1 mismatch/, new RegExp(`got ${sha1}`)),
    );
    deepStrictEqual(await listDir(dir), ["c"]);
  } finally {
    await srv.close();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("`downloadFile()` turns 404 into an http FetchError with the URL and writes nothing", async () => {
  const srv = startTestServer({});
  const dir = await Deno.makeTempDir();
  try {
    await rejects(
      downloadFile(`${srv.url}/missing.bin`, `${dir}/m`, quiet),
      (e) =>
        isFetchError("http", /missing\.bin: HTTP 404/, /--revision main/)(e) &&
        (e as FetchError).status === 404,
    );
    await rejects(probe(`${srv.url}/missing.bin`), isFetchError("http", /HTTP 404/));
    deepStrictEqual(await listDir(dir), []);
  } finally {
    await srv.close();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("`downloadFile()` retries 500 and then fails; an HTML page is refused", async () => {
  const srv = startTestServer({
    "/e": { status: 503 },
    "/page": {
      body: new TextEncoder().encode("<html>login</html>"),
      contentType: "text/html; charset=utf-8",
    },
  });
  const dir = await Deno.makeTempDir();
  try {
    await rejects(
      downloadFile(`${srv.url}/e`, `${dir}/e`, { ...quiet, retries: 2 }),
      isFetchError("http", /HTTP 503/),
    );
    strictEqual(srv.gets("/e").length, 3);
    await rejects(downloadFile(`${srv.url}/page`, `${dir}/p.zip`, quiet), isFetchError("http", /HTML page/));
    deepStrictEqual(await listDir(dir), []);
  } finally {
    await srv.close();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("`downloadFile()` finishes a complete .part on 416 and drops an oversized one", async () => {
  const srv = startTestServer({ "/blob.bin": { body: BLOB } });
  const dir = await Deno.makeTempDir();
  try {
    await Deno.writeFile(`${dir}/a.part`, BLOB);
    const r = await downloadFile(`${srv.url}/blob.bin`, `${dir}/a`, {
      ...quiet,
      expected: { sha256: BLOB_SHA },
    });
    strictEqual(r.resumedFrom, BLOB.length);
    strictEqual(r.sha256, BLOB_SHA);
    await Deno.writeFile(`${dir}/b.part`, new Uint8Array(BLOB.length + 7));
    const r2 = await downloadFile(`${srv.url}/blob.bin`, `${dir}/b`, {
      ...quiet,
      expected: { size: BLOB.length },
    });
    strictEqual(r2.resumedFrom, 0);
    strictEqual(await sha256File(`${dir}/b`), BLOB_SHA);
    deepStrictEqual(await listDir(dir), ["a", "b"]);
  } finally {
    await srv.close();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("`downloadFile()` gives up on a stalled server after the stall timeout", async () => {
  const srv = startTestServer({ "/slow": { body: BLOB, stall: true } });
  const dir = await Deno.makeTempDir();
  try {
    await rejects(
      downloadFile(`${srv.url}/slow`, `${dir}/s`, { ...quiet, retries: 0, stallTimeoutMs: 150 }),
      isFetchError("network", /slow/, /no data received in time/),
    );
    ok(!(await exists(`${dir}/s`)));
  } finally {
    await srv.close();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("`downloadFile()` against a closed port names the URL", async () => {
  const url = `${await deadUrl()}/config.json`;
  const dir = await Deno.makeTempDir();
  try {
    await rejects(
      downloadFile(url, `${dir}/c`, { ...quiet, retries: 0 }),
      isFetchError("network", new RegExp(url.replace(/[.:/]/g, "\\$&")), /cannot connect/),
    );
    await rejects(probe(url), isFetchError("network", /cannot connect/));
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("`probe()` follows same-host redirects and reads the CDN redirect's X-Linked headers", async () => {
  const cdn = startTestServer({ "/cdn/blob": { body: BLOB } });
  const hub = startTestServer({
    "/old-name/resolve/main/blob.bin": { redirectTo: "/new/name/resolve/main/blob.bin" },
    "/new/name/resolve/main/blob.bin": {
      redirectTo: `${cdn.url}/cdn/blob`,
      headers: {
        "x-linked-size": String(BLOB.length),
        "x-linked-etag": `"${BLOB_SHA}"`,
        "x-repo-commit": "c0ffee",
      },
    },
  });
  const dir = await Deno.makeTempDir();
  try {
    const url = `${hub.url}/old-name/resolve/main/blob.bin`;
    const info = await probe(url);
    deepStrictEqual(info, { size: BLOB.length, sha256: BLOB_SHA, commit: "c0ffee" });
    deepStrictEqual(cdn.requests.length, 0, "HEAD stops at the cross-host redirect");
    const r = await downloadFile(url, `${dir}/b`, { ...quiet, expected: info });
    strictEqual(r.sha256, BLOB_SHA);
  } finally {
    await hub.close();
    await cdn.close();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("`remoteInfoFromHeaders()` ignores Content-Length of compressed answers and arbitrary ETags", () => {
  deepStrictEqual(
    remoteInfoFromHeaders(new Headers({ "content-length": "10", "content-encoding": "gzip" })),
    {},
  );
  deepStrictEqual(remoteInfoFromHeaders(new Headers({ etag: '"5f3a-1b"', "content-length": "7" })), {
    size: 7,
  });
  // A 40-hex ETag is a git sha1 only when the server is a hub (X-Repo-Commit).
  deepStrictEqual(remoteInfoFromHeaders(new Headers({ etag: `"${"a".repeat(40)}"` })), {});
});

Deno.test("`downloadFile()` of a file sent without any declared size stops at `maxBytes` and keeps nothing", async () => {
  const big = new Uint8Array(3000).fill(7);
  const srv = startTestServer({
    "/big.json": { body: big, noLength: true },
    "/ok.json": { body: CONFIG, noLength: true },
  });
  const dir = await Deno.makeTempDir();
  try {
    deepStrictEqual(await probe(`${srv.url}/big.json`), {}, "the server declares no size");
    await rejects(
      downloadFile(`${srv.url}/big.json`, `${dir}/big.json`, {
        ...quiet,
        maxBytes: 1024,
        maxBytesWhat: "a .json file",
      }),
      isFetchError(
        "integrity",
        /declared no size and sent more than 1024 bytes, the most accepted for a \.json file/,
      ),
    );
    deepStrictEqual(await listDir(dir), [], "no .part file, no destination");
    // Under the cap, and without a cap, an undeclared size downloads whole.
    const r = await downloadFile(`${srv.url}/ok.json`, `${dir}/ok.json`, { ...quiet, maxBytes: 1024 * 1024 });
    strictEqual(r.size, CONFIG.length);
    strictEqual((await downloadFile(`${srv.url}/big.json`, `${dir}/big.json`, quiet)).size, 3000);
    // A declared size is checked against itself, not against the cap.
    srv.routes["/big.json"] = { body: big };
    strictEqual(
      (await downloadFile(`${srv.url}/big.json`, `${dir}/big2.json`, { ...quiet, maxBytes: 1024 })).size,
      3000,
    );
  } finally {
    await srv.close();
    await Deno.remove(dir, { recursive: true });
  }
});
