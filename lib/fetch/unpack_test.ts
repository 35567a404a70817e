import { deepStrictEqual, ok, rejects } from "node:assert/strict";
import { unpackTar, unpackZip } from "./unpack.ts";
import { mapSentevalCnMember, mapSentevalMember } from "./catalog.ts";
import { FetchError } from "./fetch_error.ts";
import { sha256File } from "./file_hash.ts";

const FIX = new URL("../../testdata/fetch/", import.meta.url).pathname;
const EXPECTED = JSON.parse(Deno.readTextFileSync(`${FIX}expected.json`));
const quiet = { log: () => {} };

/** Every file under `dir` (relative paths), sorted. */
async function walk(dir: string, prefix = ""): Promise<string[]> {
  const out: string[] = [];
  for await (const e of Deno.readDir(`${dir}/${prefix}`)) {
    const rel = prefix ? `${prefix}/${e.name}` : e.name;
    if (e.isDirectory) out.push(...await walk(dir, rel));
    else out.push(rel);
  }
  return out.sort();
}

function archiveError(...fragments: RegExp[]) {
  return (e: unknown) => {
    ok(e instanceof FetchError && e.kind === "archive", String(e));
    for (const f of fragments) ok(f.test(e.message), `${f} not in ${e.message}`);
    return true;
  };
}

Deno.test("`unpackTar()` puts SentEval's STS/ and SICK/ under senteval/ with the bytes tarfile reads", async () => {
  const data = await Deno.makeTempDir();
  try {
    const notes: string[] = [];
    const r = await unpackTar(`${FIX}senteval_mini.tar`, data, {
      map: mapSentevalMember,
      log: (l) => notes.push(l),
    });
    // Expected from Python's tarfile: every regular file under STS/ or SICK/, nothing else.
    const want =
      (EXPECTED.tars["senteval_mini.tar"].members as { name: string; type: string; sha256?: string }[])
        .filter((m) => m.type === "file" && /^(STS|SICK)\//.test(m.name));
    deepStrictEqual(await walk(data), want.map((m) => `senteval/${m.name}`).sort());
    for (const m of want) deepStrictEqual(await sha256File(`${data}/senteval/${m.name}`), m.sha256, m.name);
    deepStrictEqual(r.files.length, want.length);
    ok(notes.some((n) => /skipped symlink SICK\/readme_link -> readme\.txt/.test(n)), notes.join("\n"));
  } finally {
    await Deno.remove(data, { recursive: true });
  }
});

Deno.test("`unpackTar()` accepts GNU long names and ./ prefixes", async () => {
  const data = await Deno.makeTempDir();
  try {
    await unpackTar(`${FIX}gnu_dotslash.tar`, data, { map: mapSentevalMember, ...quiet });
    const want = (EXPECTED.tars["gnu_dotslash.tar"].members as { name: string; type: string }[])
      .filter((m) => m.type === "file").map((m) => `senteval/${m.name.replace(/^\.\//, "")}`);
    deepStrictEqual(await walk(data), want.sort());
  } finally {
    await Deno.remove(data, { recursive: true });
  }
});

Deno.test("`unpackTar()` rejects ../, absolute paths and escaping links, leaving nothing behind", async () => {
  const parent = await Deno.makeTempDir();
  const data = `${parent}/data`;
  await Deno.mkdir(data);
  const cases: [string, RegExp][] = [
    ["evil_dotdot.tar", /unsafe member "STS\/\.\.\/\.\.\/evil\.txt": '\.\.' path component/],
    ["evil_abs.tar", /absolute path/],
    ["evil_symlink.tar", /symlink to "\.\.\/\.\.\/\.\.\/\.\.\/etc\/passwd" points outside/],
    ["evil_hardlink.tar", /hardlink to "\/etc\/passwd" points outside/],
    ["truncated.tar", /truncated archive/],
    ["bad_header.tar", /checksum mismatch/],
  ];
  try {
    for (const [name, re] of cases) {
      // Map everything, so that only the safety checks stand between the archive and the disk.
      await rejects(unpackTar(`${FIX}${name}`, data, { map: (p) => p, ...quiet }), archiveError(re), name);
      deepStrictEqual(await walk(parent), [], `${name}: nothing written, no staging folder left`);
    }
    ok(!(await Deno.stat("/tmp/simcse_fetch_evil.txt").then(() => true, () => false)));
  } finally {
    await Deno.remove(parent, { recursive: true });
  }
});

Deno.test("`unpackTar()` enforces the member and total size bounds", async () => {
  const data = await Deno.makeTempDir();
  try {
    await rejects(
      unpackTar(`${FIX}senteval_mini.tar`, data, { map: mapSentevalMember, maxEntryBytes: 50, ...quiet }),
      archiveError(/over the 50-byte limit/),
    );
    await rejects(
      unpackTar(`${FIX}senteval_mini.tar`, data, { map: mapSentevalMember, maxTotalBytes: 1000, ...quiet }),
      archiveError(/more than the 1000-byte limit/),
    );
    deepStrictEqual(await walk(data), []);
  } finally {
    await Deno.remove(data, { recursive: true });
  }
});

Deno.test("`unpackZip()` maps senteval_cn members to zh/<task>/ with the bytes zipfile reads", async () => {
  const data = await Deno.makeTempDir();
  try {
    await unpackZip(`${FIX}senteval_cn_mini.zip`, data, { map: mapSentevalCnMember, ...quiet });
    const members = EXPECTED.zips["senteval_cn_mini.zip"].members as Record<string, { sha256: string }>;
    const want = Object.keys(members).filter((n) => n.endsWith(".data"));
    const dest = (n: string) => {
      const base = n.slice(n.lastIndexOf("/") + 1);
      return `zh/${base.split(".")[0].toLowerCase()}/${base}`;
    };
    deepStrictEqual(await walk(data), want.map(dest).sort());
    for (const n of want) deepStrictEqual(await sha256File(`${data}/${dest(n)}`), members[n].sha256, n);
  } finally {
    await Deno.remove(data, { recursive: true });
  }
});

Deno.test("`unpackZip()` rejects a zip with ../ in a member name and leaves nothing behind", async () => {
  const data = await Deno.makeTempDir();
  try {
    await rejects(
      unpackZip(`${FIX}evil_dotdot.zip`, data, { map: mapSentevalCnMember, ...quiet }),
      archiveError(/evil_dotdot\.zip: unsafe member "senteval_cn\/\.\.\/\.\.\/evil\.data"/),
    );
    await rejects(
      unpackZip(`${FIX}senteval_mini.tar`, data, { map: (p) => p, ...quiet }),
      archiveError(/not a ZIP archive/),
    );
    deepStrictEqual(await walk(data), []);
  } finally {
    await Deno.remove(data, { recursive: true });
  }
});
