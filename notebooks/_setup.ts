/**
 * The setup every notebook runs first: pick a backend, find the evaluation data, and say both on
 * one line. Notebooks run with `notebooks/` as the working folder. What this prints ends up in the
 * committed outputs, so it names where the data came from, never a machine's absolute path.
 *
 * @module
 */
import { type BackendName, InputError, useBackend } from "@simcse/lib";

/** The repository root, as a path. */
export const REPO = decodeURIComponent(new URL("..", import.meta.url).pathname).replace(/\/$/, "");

/** True when `path` exists (synchronous, for cell-level checks). */
export function existsSync(path: string): boolean {
  try {
    Deno.statSync(path);
    return true;
  } catch {
    return false;
  }
}

/**
 * The evaluation data folder: `$SIMCSE_DATA_DIR`, else the repository's `data/`; an error saying how
 * to get it when neither holds `senteval/`.
 */
export function dataDir(): string {
  return findData().dir;
}

function findData(): { dir: string; label: string } {
  const env = Deno.env.get("SIMCSE_DATA_DIR");
  const candidates = [
    ...(env ? [{ dir: env, label: "$SIMCSE_DATA_DIR" }] : []),
    { dir: `${REPO}/data`, label: "data/" },
  ];
  const found = candidates.find((c) => existsSync(`${c.dir}/senteval`));
  if (!found) {
    throw new InputError(
      `no evaluation data in ${
        candidates.map((c) => c.label).join(" or ")
      }: run \`deno task fetch senteval\` or set SIMCSE_DATA_DIR`,
    );
  }
  return found;
}

/** Select `backend` (default auto), find the data, print both; returns them. */
export async function notebookSetup(
  backend: BackendName = "auto",
): Promise<{ backend: string; DATA: string }> {
  const { dir: DATA, label } = findData();
  const chosen = await useBackend(backend);
  console.log(`backend: ${chosen}, data: ${label}`);
  return { backend: chosen, DATA };
}
