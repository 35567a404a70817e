/**
 * A training run owns its output folder. {@link claimRunFolder} takes the folder's lock (the same
 * pid-file lock as `deno task fetch`, `.train.pid`), so a second run into a busy folder stops with one
 * line; and it refuses to start a fresh run in a folder that already holds another run's resume state
 * or checkpoint, unless the run resumes it (`resume`) or replaces it (`overwrite`, which removes that
 * state and checkpoint first, so the folder never mixes two runs).
 *
 * @example
 * ```ts
 * import { claimRunFolder } from "./run_folder.ts";
 * const dir = await Deno.makeTempDir();
 * const release = await claimRunFolder(dir, {});
 * await release();
 * ```
 * @module
 */
import { InputError } from "../runtime/errors.ts";
import { acquireProcessLock } from "../fetch/process_lock.ts";

/** Lock file inside the run folder. */
export const RUN_LOCK_FILE = ".train.pid";

/** What a previous run leaves: its resume states and the best checkpoint's config and weights. */
const RESUME_DIRS = ["resume", "resume.old", "resume.tmp"];
const CHECKPOINT_FILES = ["config.json", "model.safetensors", "pytorch_model.bin"];

export interface ClaimOptions {
  /** The run continues the folder's resume state. */
  resume?: boolean;
  /** The run replaces whatever the folder holds. */
  overwrite?: boolean;
  /** The checkpoint the run starts from (never deleted by `overwrite`). */
  modelDir?: string;
}

async function samePath(a: string, b: string): Promise<boolean> {
  try {
    const [x, y] = await Promise.all([Deno.stat(a), Deno.stat(b)]);
    return x.dev === y.dev && x.ino === y.ino && x.ino !== null;
  } catch {
    return false;
  }
}

async function present(path: string): Promise<boolean> {
  try {
    await Deno.lstat(path);
    return true;
  } catch {
    return false;
  }
}

function parentOf(path: string): string {
  const slash = path.lastIndexOf("/");
  return slash > 0 ? path.slice(0, slash) : slash === 0 ? "/" : ".";
}

/** The previous run's state and checkpoint files present in `dir`. */
export async function previousRunFiles(dir: string): Promise<string[]> {
  const found: string[] = [];
  for (const name of [...RESUME_DIRS, ...CHECKPOINT_FILES]) {
    if (await present(`${dir}/${name}`)) found.push(name);
  }
  return found;
}

/**
 * Lock `outputDir` for this run and check that it may write there (see the module doc); returns the
 * function that releases the lock. Every refusal is an {@link InputError} of one line.
 */
export async function claimRunFolder(outputDir: string, opts: ClaimOptions): Promise<() => Promise<void>> {
  if (opts.resume && opts.overwrite) throw new InputError("--resume and --overwrite exclude each other");
  const dir = outputDir.replace(/\/+$/, "") || "/";
  // Folders this claim creates (deepest first) are removed again on release if the run left them empty.
  const created: string[] = [];
  for (let d = dir; d !== "" && d !== "." && d !== "/" && !(await present(d)); d = parentOf(d)) {
    created.push(d);
  }
  const unlock = await acquireProcessLock(dir, {
    file: RUN_LOCK_FILE,
    holder: "training run",
    place: `the run folder ${dir}`,
  });
  const release = async () => {
    await unlock();
    for (const d of created) {
      try {
        await Deno.remove(d); // only when empty
      } catch {
        break;
      }
    }
  };
  try {
    if (!opts.resume) {
      const found = await previousRunFiles(dir);
      if (found.length > 0 && !opts.overwrite) {
        const what = found.some((f) => f.startsWith("resume"))
          ? "another run's resume state"
          : "a checkpoint";
        throw new InputError(
          `holds ${what} (${
            found.join(", ")
          }); continue that run with --resume, or replace it with --overwrite`,
          { file: dir },
        );
      }
      if (found.length > 0 && opts.modelDir !== undefined && await samePath(opts.modelDir, dir)) {
        throw new InputError("is also the model the run starts from; --overwrite would delete it", {
          file: dir,
        });
      }
      for (const name of found) await Deno.remove(`${dir}/${name}`, { recursive: true });
    }
    return release;
  } catch (e) {
    await release();
    throw e;
  }
}
