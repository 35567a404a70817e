/**
 * Execute a committed notebook headless (`jupyter nbconvert --execute` on the Deno kernel) into a
 * temporary folder and compare its outputs with the committed ones ({@link compareNotebooks}). The
 * notebook runs with `notebooks/` as its working folder, as in a front end. Nothing is written next
 * to the committed notebook; the temporary folder is removed afterwards, also on Ctrl-C.
 *
 * @module
 */
import { type CellDiff, cleanExecuted, compareNotebooks, type Notebook } from "./compare.ts";

/** The repository's notebooks folder. */
export const NOTEBOOKS_DIR: string = decodeURIComponent(
  new URL("../../notebooks/", import.meta.url).pathname,
);

/** The notebooks of `dir` (file names, sorted). */
export function listNotebooks(dir: string = NOTEBOOKS_DIR): string[] {
  return [...Deno.readDirSync(dir)].filter((e) => e.isFile && e.name.endsWith(".ipynb")).map((e) => e.name)
    .sort();
}

/** Seconds nbclient waits for a cell's outputs after the kernel's reply. */
export const IOPUB_TIMEOUT_S = 120;

/** One notebook executed and compared. */
export interface NotebookRun {
  /** The committed notebook as read. */
  committed: Notebook;
  /** The executed notebook, cleaned as `deno task notebooks` writes it. */
  executed: Notebook;
  /** Differences of the executed outputs from the committed ones (empty: up to date). */
  diffs: CellDiff[];
  /** Wall-clock seconds of the execution. */
  seconds: number;
}

const temps = new Set<string>();
const children = new Set<Deno.ChildProcess>();
let listening = false;

/** On Ctrl-C: stop the executions in progress, remove their temporary folders, exit 130. */
function cleanUpOnInterrupt(): void {
  if (listening || Deno.build.os === "windows") return;
  listening = true;
  Deno.addSignalListener("SIGINT", () => {
    for (const c of children) {
      try {
        c.kill("SIGINT"); // nbconvert then shuts its kernel down
      } catch { /* already exited */ }
    }
    for (const t of temps) {
      try {
        Deno.removeSync(t, { recursive: true });
      } catch { /* already gone */ }
    }
    console.error("interrupted: no notebook was changed");
    Deno.exit(130);
  });
}

/** Execute `notebooks/<name>` into a temporary folder and compare it with the committed file. */
export async function runNotebook(
  name: string,
  opts: { dir?: string; timeoutS?: number } = {},
): Promise<NotebookRun> {
  const dir = (opts.dir ?? NOTEBOOKS_DIR).replace(/\/$/, "");
  const committed = JSON.parse(await Deno.readTextFile(`${dir}/${name}`)) as Notebook;
  const out = await Deno.makeTempDir({ prefix: "simcse-notebooks-" });
  temps.add(out);
  cleanUpOnInterrupt();
  try {
    const t0 = performance.now();
    const child = new Deno.Command("jupyter", {
      args: [
        "nbconvert",
        "--to",
        "notebook",
        "--execute",
        `${dir}/${name}`,
        "--output-dir",
        out,
        `--ExecutePreprocessor.timeout=${opts.timeoutS ?? 900}`,
        // After a cell's reply, nbclient waits only 4 s (by default) for the kernel's remaining output
        // and then drops it with a warning: on a loaded machine whole outputs went missing. Wait
        // longer, and fail loudly rather than record a notebook with an output lost.
        `--ExecutePreprocessor.iopub_timeout=${IOPUB_TIMEOUT_S}`,
        "--ExecutePreprocessor.raise_on_iopub_timeout=True",
      ],
      env: { NO_COLOR: "1" },
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
    }).spawn();
    children.add(child);
    const r = await child.output().finally(() => children.delete(child));
    const seconds = (performance.now() - t0) / 1000;
    if (!r.success) {
      const tail = new TextDecoder().decode(r.stderr).trim().split("\n").slice(-30).join("\n");
      throw new Error(`${name} failed to execute:\n${tail}`);
    }
    const raw = JSON.parse(await Deno.readTextFile(`${out}/${name}`)) as Notebook;
    const executed = cleanExecuted(raw, committed);
    return { committed, executed, diffs: compareNotebooks(committed, executed), seconds };
  } finally {
    await Deno.remove(out, { recursive: true }).catch(() => {});
    temps.delete(out);
  }
}
