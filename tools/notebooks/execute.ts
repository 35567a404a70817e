/**
 * Execute a committed notebook headless (`jupyter nbconvert --execute` on the Deno kernel) into a
 * temporary folder and compare its outputs with the committed ones ({@link compareNotebooks}). The
 * notebook runs with `notebooks/` as its working folder, as in a front end. Nothing is written next
 * to the committed notebook; the temporary folder is removed afterwards, also on Ctrl-C.
 *
 * @module
 */
import { type CellDiff, cleanExecuted, compareNotebooks, type Notebook } from "./compare.ts";
import { InputError } from "../../lib/runtime/errors.ts";
import { cpuFlags, hasSkylakeXFlags } from "../../lib/kernels/mod.ts";

/**
 * OpenBLAS's kernels for the committed notebook outputs. OpenBLAS's sgemm sums in a different order
 * per kernel family, and a 15-step run from random weights carries that into the second decimal of a
 * score (notebook 02's PAWS-X Spearman: 4.53 and 5.09 with the AVX-512 kernels, 4.52 and 5.07 with
 * the Haswell ones, which this workplace's `OPENBLAS_CORETYPE=Haswell` selects and which Debian's
 * OpenBLAS 0.3.21 falls back to on CPUs it does not know). The outputs were made with the AVX-512
 * family (`SkylakeX` and `Cooperlake` gave notebook 02 the same sums).
 */
export const NOTEBOOK_OPENBLAS_CORETYPE = "SkylakeX";

/**
 * The environment the kernel gets beyond the caller's: on an AVX-512 CPU, `OPENBLAS_CORETYPE` set to
 * {@link NOTEBOOK_OPENBLAS_CORETYPE}, whatever the caller's environment says (this workplace's
 * machines export `OPENBLAS_CORETYPE=Haswell`): the committed outputs are reproduced with their own
 * kernels. `info` says when a caller's setting was replaced; `note` says, for a failure message, when
 * the sums cannot match those of the committed outputs (no AVX-512). `sys` stands in for the CPU's
 * flags and the caller's `OPENBLAS_CORETYPE` (null: unset) in tests.
 */
export function kernelEnv(
  sys: { flags?: string; coretype?: string | null } = {},
): { env: Record<string, string>; info: string | null; note: string | null } {
  const flags = sys.flags ?? cpuFlags();
  const coretype = sys.coretype === undefined ? Deno.env.get("OPENBLAS_CORETYPE") ?? null : sys.coretype;
  if (!hasSkylakeXFlags(flags)) {
    return {
      env: { NO_COLOR: "1" },
      info: null,
      note: `this CPU lacks AVX-512, so OpenBLAS cannot run the ${NOTEBOOK_OPENBLAS_CORETYPE} kernels ` +
        "the committed outputs were computed with: scores may differ in the last digits",
    };
  }
  return {
    env: { NO_COLOR: "1", OPENBLAS_CORETYPE: NOTEBOOK_OPENBLAS_CORETYPE },
    info: coretype && coretype !== NOTEBOOK_OPENBLAS_CORETYPE
      ? `the notebooks run with OPENBLAS_CORETYPE=${NOTEBOOK_OPENBLAS_CORETYPE}, the kernels of their ` +
        `committed outputs, not this environment's ${coretype}`
      : null,
    note: null,
  };
}

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
  /** Wall-clock seconds of the execution (all attempts). */
  seconds: number;
  /** Executions it took (more than 1 when the kernel dropped an output; see {@link runNotebook}). */
  attempts: number;
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

/**
 * Execute `notebooks/<name>` into a temporary folder and compare it with the committed file. The Deno
 * kernel occasionally delivers a cell's output to nbclient after the cell is reported done, which
 * then drops it (seen a few times per full run on a loaded 2-core machine, each time a different
 * cell): a run whose only differences are such `missing` outputs is executed again, up to `attempts`
 * times in all, and the run reports how many it took. Any other difference is returned at once.
 */
export async function runNotebook(
  name: string,
  opts: { dir?: string; timeoutS?: number; attempts?: number } = {},
): Promise<NotebookRun> {
  const attempts = opts.attempts ?? 3;
  let run = await executeOnce(name, opts);
  let attempt = 1;
  while (attempt < attempts && run.diffs.length > 0 && run.diffs.every((d) => d.kind === "missing")) {
    const cells = run.diffs.map((d) => d.cell).join(", ");
    console.error(`${name}: the kernel dropped an output of cell ${cells}; executing again`);
    const next = await executeOnce(name, opts);
    run = { ...next, seconds: run.seconds + next.seconds };
    attempt++;
  }
  return { ...run, attempts: attempt };
}

async function executeOnce(
  name: string,
  opts: { dir?: string; timeoutS?: number },
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
        // After a cell's reply nbclient waits 4 s (by default) for the kernel's remaining output, then
        // drops it with a warning; wait longer on a loaded machine, and fail rather than drop.
        `--ExecutePreprocessor.iopub_timeout=${IOPUB_TIMEOUT_S}`,
        "--ExecutePreprocessor.raise_on_iopub_timeout=True",
      ],
      env: kernelEnv().env,
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
    }).spawn();
    children.add(child);
    const r = await child.output().finally(() => children.delete(child));
    const seconds = (performance.now() - t0) / 1000;
    if (!r.success) {
      const tail = new TextDecoder().decode(r.stderr).trim().split("\n").slice(-30).join("\n");
      throw new InputError(`${name} failed to execute (the end of its output follows):\n${tail}`);
    }
    const raw = JSON.parse(await Deno.readTextFile(`${out}/${name}`)) as Notebook;
    const executed = cleanExecuted(raw, committed);
    return { committed, executed, diffs: compareNotebooks(committed, executed), seconds, attempts: 1 };
  } finally {
    await Deno.remove(out, { recursive: true }).catch(() => {});
    temps.delete(out);
  }
}
