import { deepStrictEqual, ok, rejects, strictEqual } from "node:assert/strict";
import { createHash } from "node:crypto";
import { type ByteSource, readTar, type TarEntry } from "./tar_reader.ts";
import { FetchError } from "./fetch_error.ts";

const FIX = new URL("../../testdata/fetch/", import.meta.url).pathname;
const EXPECTED = JSON.parse(Deno.readTextFileSync(`${FIX}expected.json`));

interface Member {
  name: string;
  type: string;
  size: number;
  sha256?: string;
  linkname?: string;
}

/** An in-memory source that returns at most `chunk` bytes per read (exercises buffering). */
function memory(bytes: Uint8Array, chunk = 777): ByteSource {
  let p = 0;
  return {
    read(buf) {
      if (p >= bytes.length) return Promise.resolve(null);
      const n = Math.min(buf.length, chunk, bytes.length - p);
      buf.set(bytes.subarray(p, p + n));
      p += n;
      return Promise.resolve(n);
    },
  };
}

async function members(src: ByteSource, name: string): Promise<Member[]> {
  const out: Member[] = [];
  await readTar(src, name, (e: TarEntry) => {
    const m: Member = { name: e.name.replace(/\/$/, ""), type: e.type, size: e.size };
    if (e.linkname) m.linkname = e.linkname;
    out.push(m);
    if (e.type !== "file") return undefined;
    const h = createHash("sha256");
    return { write: (c) => void h.update(c), end: () => void (m.sha256 = h.digest("hex")) };
  });
  return out;
}

Deno.test("`readTar()` lists the members Python's tarfile lists (pax, GNU long names, links)", async () => {
  for (
    const name of [
      "senteval_mini.tar",
      "gnu_dotslash.tar",
      "evil_dotdot.tar",
      "evil_symlink.tar",
      "evil_hardlink.tar",
    ]
  ) {
    const want = EXPECTED.tars[name].members as Member[];
    const file = await Deno.open(`${FIX}${name}`);
    try {
      deepStrictEqual(await members(file, name), want, name);
    } finally {
      file.close();
    }
    const bytes = await Deno.readFile(`${FIX}${name}`);
    deepStrictEqual(await members(memory(bytes), name), want, `${name} in 777-byte reads`);
  }
});

function archiveError(...fragments: RegExp[]) {
  return (e: unknown) => {
    ok(e instanceof FetchError && e.kind === "archive", String(e));
    for (const f of fragments) ok(f.test(e.message), `${f} not in ${e.message}`);
    return true;
  };
}

Deno.test("`readTar()` reports a truncated archive with the member and offset", async () => {
  const bytes = await Deno.readFile(`${FIX}truncated.tar`);
  await rejects(
    members(memory(bytes), "truncated.tar"),
    archiveError(/^truncated\.tar: truncated archive/, /STS\.input\.MSRpar\.txt/, /ends at byte \d+/),
  );
  // Cut inside a header block (gnu_dotslash.tar: a directory header at 0, a file header at 512).
  const gnu = await Deno.readFile(`${FIX}gnu_dotslash.tar`);
  await rejects(
    members(memory(gnu.subarray(0, 700)), "t.tar"),
    archiveError(/header at byte 512 is cut short/),
  );
  // Cut inside a pax extended header (senteval_mini.tar starts with a global one).
  await rejects(members(memory(bytes.subarray(0, 700)), "t.tar"), archiveError(/extended header at byte 0/));
});

Deno.test("`readTar()` rejects a header whose checksum does not match, and non-tar input", async () => {
  await rejects(
    members(memory(await Deno.readFile(`${FIX}bad_header.tar`)), "bad_header.tar"),
    archiveError(/header checksum mismatch at byte \d+/),
  );
  await rejects(
    members(memory(await Deno.readFile(`${FIX}files/blob.bin`)), "blob.bin"),
    archiveError(/blob\.bin/),
  );
  await rejects(members(memory(new Uint8Array(0)), "empty.tar"), archiveError(/empty file/));
});

Deno.test("`readTar()` stops at the end-of-archive blocks and accepts a missing end marker", async () => {
  const bytes = await Deno.readFile(`${FIX}gnu_dotslash.tar`);
  const want = EXPECTED.tars["gnu_dotslash.tar"].members;
  // Drop the trailing zero blocks: the members are still all there.
  let end = bytes.length;
  while (end > 0 && bytes.subarray(end - 512, end).every((b) => b === 0)) end -= 512;
  deepStrictEqual(await members(memory(bytes.subarray(0, end)), "x.tar"), want);
  strictEqual(want.length, 3);
});
