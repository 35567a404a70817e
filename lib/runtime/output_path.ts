/**
 * Outputs never destroy inputs: before a command writes anything, {@link checkOutputPath} refuses an
 * output path that is the same file as one of its inputs (same device and inode, so symbolic and
 * hard links are caught), that is a folder, or that exists and is not a regular file (`/dev/full`,
 * a fifo, a socket). Each refusal is one {@link InputError} line naming the flag.
 *
 * @example
 * ```ts
 * import { checkOutputPath } from "./output_path.ts";
 * const dir = await Deno.makeTempDir();
 * await Deno.writeTextFile(`${dir}/in.txt`, "a\n");
 * await checkOutputPath(`${dir}/in.txt`, { flag: "output", inputs: [`${dir}/in.txt`] })
 *   .catch((e) => console.log(e.message)); // ".../in.txt: --output is the same file as the input ..."
 * ```
 * @module
 */
import { InputError } from "./errors.ts";
import { notRegularKind } from "./atomic_write.ts";

export interface OutputCheck {
  /** The flag that named the output (for the message), without dashes. */
  flag: string;
  /** Files or folders the command reads; a folder stands for every file under it. */
  inputs?: string[];
}

async function statOrNull(path: string): Promise<Deno.FileInfo | null> {
  try {
    return await Deno.stat(path);
  } catch {
    return null;
  }
}

function sameFile(a: Deno.FileInfo, b: Deno.FileInfo): boolean {
  return a.dev !== null && a.ino !== null && a.dev === b.dev && a.ino === b.ino;
}

/** Files looked at under one input folder, at most (a data folder holds a few hundred). */
const MAX_FILES = 20_000;

/** The files an input stands for: itself, or every file under a folder (links followed for files only). */
async function inputFiles(input: string): Promise<{ path: string; info: Deno.FileInfo }[]> {
  const info = await statOrNull(input);
  if (!info) return [];
  if (!info.isDirectory) return [{ path: input, info }];
  const out: { path: string; info: Deno.FileInfo }[] = [];
  const walk = async (dir: string): Promise<void> => {
    let entries: Deno.DirEntry[];
    try {
      entries = await Array.fromAsync(Deno.readDir(dir));
    } catch {
      return; // unreadable: the reader reports it
    }
    for (const e of entries) {
      if (out.length >= MAX_FILES) return;
      const p = `${dir}/${e.name}`;
      if (e.isDirectory) await walk(p);
      else {
        const i = await statOrNull(p);
        if (i && !i.isDirectory) out.push({ path: p, info: i });
      }
    }
  };
  await walk(input.replace(/\/+$/, "") || "/");
  return out;
}

/**
 * Throw an {@link InputError} when writing `output` could destroy an input or a device (see the
 * module doc); a path that does not exist yet is fine.
 */
export async function checkOutputPath(output: string, check: OutputCheck): Promise<void> {
  const info = await statOrNull(output);
  if (!info) return;
  const kind = notRegularKind(info);
  if (kind) {
    throw new InputError(`--${check.flag} is ${kind}; give a regular file or a new name`, { file: output });
  }
  for (const input of check.inputs ?? []) {
    for (const f of await inputFiles(input)) {
      if (sameFile(info, f.info)) {
        const what = f.path === input ? `the input ${input}` : `${f.path}, an input`;
        throw new InputError(
          `--${check.flag} is the same file as ${what}; writing it would destroy the input`,
          { file: output },
        );
      }
    }
  }
}

/**
 * A temporary or partial file a command creates next to its output must not be an existing link or
 * special file (a planted symlink would redirect the write): refuse anything but a regular file.
 */
export async function checkScratchPath(path: string): Promise<void> {
  let info: Deno.FileInfo;
  try {
    info = await Deno.lstat(path);
  } catch {
    return;
  }
  if (!info.isFile) {
    throw new InputError(
      `is ${notRegularKind(info) ?? "not a regular file"}; remove it (it is this command's scratch file)`,
      { file: path },
    );
  }
}
