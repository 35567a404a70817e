import { deepStrictEqual, rejects } from "node:assert/strict";
import { checkOutputPath, checkScratchPath } from "./output_path.ts";
import { writeFileAtomic, writeFileAtomicSync } from "./atomic_write.ts";

async function mkfifo(path: string): Promise<void> {
  const r = await new Deno.Command("mkfifo", { args: [path] }).output();
  if (!r.success) throw new Error("mkfifo failed");
}

Deno.test("`checkOutputPath()` refuses the input itself, a symlink or hard link to it, and a file in an input folder", async () => {
  const dir = await Deno.makeTempDir();
  await Deno.writeTextFile(`${dir}/in.txt`, "keep me\n");
  await Deno.symlink(`${dir}/in.txt`, `${dir}/sym.txt`);
  await Deno.link(`${dir}/in.txt`, `${dir}/hard.txt`);
  await Deno.mkdir(`${dir}/model/sub`, { recursive: true });
  await Deno.writeTextFile(`${dir}/model/sub/config.json`, "{}");
  for (const out of [`${dir}/in.txt`, `${dir}/sym.txt`, `${dir}/hard.txt`, `${dir}/./in.txt`]) {
    await rejects(
      checkOutputPath(out, { flag: "output", inputs: [`${dir}/in.txt`] }),
      /--output is the same file as the input .*in\.txt; writing it would destroy the input/,
    );
  }
  // The input named through a link is caught the same way.
  await rejects(
    checkOutputPath(`${dir}/in.txt`, { flag: "output", inputs: [`${dir}/sym.txt`] }),
    /same file/,
  );
  await rejects(
    checkOutputPath(`${dir}/model/sub/config.json`, { flag: "json", inputs: [`${dir}/model`] }),
    /--json is the same file as .*config\.json, an input/,
  );
  // Different files, and names that do not exist yet, are fine.
  await Deno.writeTextFile(`${dir}/other.txt`, "");
  await checkOutputPath(`${dir}/other.txt`, { flag: "output", inputs: [`${dir}/in.txt`, `${dir}/model`] });
  await checkOutputPath(`${dir}/new/x.txt`, { flag: "output", inputs: [`${dir}/in.txt`, `${dir}/missing`] });
  deepStrictEqual(await Deno.readTextFile(`${dir}/in.txt`), "keep me\n");
  await Deno.remove(dir, { recursive: true });
});

Deno.test("`checkOutputPath()` refuses a folder, a fifo and a device; `checkScratchPath()` a planted symlink", async () => {
  const dir = await Deno.makeTempDir();
  await mkfifo(`${dir}/fifo`);
  await rejects(checkOutputPath(dir, { flag: "output" }), /--output is a directory; give a regular file/);
  await rejects(checkOutputPath(`${dir}/fifo`, { flag: "output" }), /--output is a fifo/);
  await rejects(
    checkOutputPath("/dev/full", { flag: "index" }),
    /\/dev\/full: --index is a character device/,
  );
  await Deno.symlink("/etc/hostname", `${dir}/out.partial`);
  await rejects(checkScratchPath(`${dir}/out.partial`), /out\.partial: is a symbolic link/);
  await Deno.remove(dir, { recursive: true });
});

Deno.test("`writeFileAtomic()` refuses to rename over a folder or a fifo and leaves no temporary file", async () => {
  const dir = await Deno.makeTempDir();
  await Deno.mkdir(`${dir}/target`);
  await mkfifo(`${dir}/fifo`);
  await rejects(writeFileAtomic(`${dir}/target`, "x"), /target: is a directory/);
  await rejects(writeFileAtomic(`${dir}/fifo`, "x"), /fifo: is a fifo/);
  let threw = false;
  try {
    writeFileAtomicSync(`${dir}/target`, "x");
  } catch (e) {
    threw = /is a directory/.test((e as Error).message);
  }
  deepStrictEqual(threw, true);
  // A target whose parent is a file fails cleanly too.
  await Deno.writeTextFile(`${dir}/plain`, "");
  await rejects(writeFileAtomic(`${dir}/plain/x.json`, "x"));
  const names = (await Array.fromAsync(Deno.readDir(dir))).map((e) => e.name).sort();
  deepStrictEqual(names, ["fifo", "plain", "target"]);
  deepStrictEqual((await Array.fromAsync(Deno.readDir(`${dir}/target`))).length, 0);
  await writeFileAtomic(`${dir}/ok.json`, "{}");
  deepStrictEqual(await Deno.readTextFile(`${dir}/ok.json`), "{}");
  await Deno.remove(dir, { recursive: true });
});
