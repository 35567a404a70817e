/**
 * The setup every notebook runs first: pick a backend, find the evaluation data, and say both on
 * one line. Notebooks run with `notebooks/` as the working folder.
 *
 * @module
 */
import { type BackendName, useBackend } from "../lib/kernels/backend.ts";
import { InputError } from "../lib/runtime/errors.ts";

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
  const candidates = [Deno.env.get("SIMCSE_DATA_DIR"), `${REPO}/data`].filter((d): d is string => !!d);
  const found = candidates.find((d) => existsSync(`${d}/senteval`));
  if (!found) {
    throw new InputError(
      `no evaluation data in ${
        candidates.join(" or ")
      }: run \`deno task fetch senteval\` or set SIMCSE_DATA_DIR`,
    );
  }
  return found;
}

/** Select `backend` (default auto), find the data, print both; returns them. */
export async function notebookSetup(
  backend: BackendName = "auto",
): Promise<{ backend: string; DATA: string }> {
  const DATA = dataDir();
  const chosen = await useBackend(backend);
  console.log(`backend: ${chosen}, data: ${DATA}`);
  return { backend: chosen, DATA };
}
