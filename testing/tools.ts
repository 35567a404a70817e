/**
 * Optional tools the tests use when a machine has them: one check per tool, answering `null` (the
 * tool is there) or the skip reason `needs TOOL (INSTALL COMMAND)`. A test file asks once, prints
 * the reason on one line with {@link reportSkip} and passes `ignore: reason !== null` to `Deno.test`,
 * so `deno task test` passes on a machine with Node.js only and says what each skipped test needs.
 *
 * Python is `$SIMCSE_PYTHON`, else `/usr/bin/python3` (Debian's, where `python3-numpy` and
 * `python3-torch` install; a `python3` earlier on `PATH`, e.g. pyenv's, usually has neither).
 * `.ci/hide_tools.sh` hides every tool named here to check that the suite still passes without them.
 *
 * @example
 * ```ts
 * import { reportSkip, requireTool } from "./tools.ts";
 * const skip = await requireTool("numpy");
 * reportSkip("the numpy cross-check", skip); // prints "skipped the numpy cross-check: needs numpy (...)"
 * Deno.test({ name: "...", ignore: skip !== null, fn: () => {} });
 * ```
 * @module
 */
import { loadBlas, loadNativeKernels, nativeKernelsUnavailableReason } from "../lib/kernels/mod.ts";
import { findChromium } from "../lib/figures/svg_export.ts";

/** The tools a test may need. */
export type Tool = "python3" | "numpy" | "scipy" | "torch" | "jupyter" | "cc" | "openblas" | "chromium";

/** How to install each tool on Debian/Ubuntu. */
export const INSTALL: Record<Tool, string> = {
  python3: "apt-get install python3",
  numpy: "apt-get install python3-numpy",
  scipy: "apt-get install python3-scipy",
  torch: "apt-get install python3-torch",
  jupyter: "apt-get install jupyter-nbconvert python3-nbclient jupyter-client, then deno jupyter --install",
  cc: "apt-get install gcc libc6-dev",
  openblas: "apt-get install libopenblas0",
  chromium: "apt-get install --no-install-recommends chromium-headless-shell, or set SIMCSE_CHROMIUM",
};

/** The Python interpreter the reference checks run: `$SIMCSE_PYTHON`, else `/usr/bin/python3`. */
export const PYTHON: string = (() => {
  try {
    return Deno.env.get("SIMCSE_PYTHON") || "/usr/bin/python3";
  } catch {
    return "/usr/bin/python3";
  }
})();

/** Runs `cmd args`; null when it cannot be started (not installed), else whether it succeeded and its stdout. */
async function tryRun(cmd: string, args: string[]): Promise<{ ok: boolean; stdout: string } | null> {
  try {
    const r = await new Deno.Command(cmd, { args, stdout: "piped", stderr: "null", stdin: "null" }).output();
    return { ok: r.success, stdout: new TextDecoder().decode(r.stdout) };
  } catch {
    return null; // Deno.Command throws NotFound synchronously from output() when the binary is missing
  }
}

const need = (tool: Tool, what: string = tool) => `needs ${what} (${INSTALL[tool]})`;
const cache = new Map<Tool, Promise<string | null>>();

/** `null` when `tool` is usable here, else one line `needs TOOL (INSTALL)` saying why a test skips. */
export function requireTool(tool: Tool): Promise<string | null> {
  let p = cache.get(tool);
  if (!p) cache.set(tool, p = check(tool));
  return p;
}

/** {@link requireTool} for several tools: the first missing one, or null. */
export async function requireTools(...tools: Tool[]): Promise<string | null> {
  for (const t of tools) {
    const r = await requireTool(t);
    if (r) return r;
  }
  return null;
}

async function check(tool: Tool): Promise<string | null> {
  switch (tool) {
    case "python3":
      return (await tryRun(PYTHON, ["-c", "pass"]))?.ok ? null : need("python3", `${PYTHON}`);
    case "numpy":
    case "scipy":
    case "torch": {
      const py = await requireTool("python3");
      if (py) return py;
      return (await tryRun(PYTHON, ["-c", `import ${tool}`]))?.ok ? null : need(tool, `${tool} in ${PYTHON}`);
    }
    case "jupyter": {
      const r = await tryRun("jupyter", ["kernelspec", "list"]);
      if (!r?.ok) return need("jupyter");
      return r.stdout.includes("deno") ? null : "needs the Deno Jupyter kernel (deno jupyter --install)";
    }
    case "cc":
      if (loadNativeKernels()) return null;
      return nativeKernelsUnavailableReason() === "SIMCSE_NATIVE_KERNELS=off"
        ? "the C kernels are switched off (SIMCSE_NATIVE_KERNELS=off)"
        : need("cc", "a C compiler");
    case "openblas":
      if (loadBlas()) return null;
      return Deno.env.get("SIMCSE_BLAS_LIB")
        ? `needs OpenBLAS (SIMCSE_BLAS_LIB=${Deno.env.get("SIMCSE_BLAS_LIB")} could not be opened; ` +
          `unset it and ${INSTALL.openblas})`
        : need("openblas", "OpenBLAS");
    case "chromium":
      return (await findChromium()) ? null : need("chromium", "headless Chromium");
  }
}

/** Prints `skipped WHAT: REASON` on one line when `reason` is not null (once per test file). */
export function reportSkip(what: string, reason: string | null): void {
  if (reason) console.log(`skipped ${what}: ${reason}`);
}
