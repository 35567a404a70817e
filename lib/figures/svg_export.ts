/**
 * Static SVG export of Plotly figure specs with headless Chromium (no network): the Plotly bundle
 * from the npm package `plotly.js-dist-min` (read from `node_modules`, never fetched from the web)
 * is inlined into a temporary HTML page with the figures; the page draws each one and converts it
 * with `Plotly.toImage(gd, {format: "svg"})`; Chromium's `--dump-dom` hands the SVGs back. All
 * figures of one call share one Chromium start (about 1–2 s).
 *
 * Chromium is looked up as `$SIMCSE_CHROMIUM`, then `chromium-headless-shell`, `chromium`,
 * `chromium-browser`, `google-chrome` on `PATH` (Debian: `apt-get install -y
 * --no-install-recommends chromium-headless-shell`). When none is found, {@link exportSvgs} writes
 * nothing and returns `skipped` with the reason (it does not fail).
 *
 * @example
 * ```ts
 * import { exportSvgs } from "./svg_export.ts";
 * const r = await exportSvgs([{ name: "demo", figure: { data: [{ type: "bar", x: ["a"], y: [1] }], layout: {} } }], "/tmp/figs");
 * console.log(r.skipped ?? r.written);
 * ```
 * @module
 */
import { writeFileAtomic } from "../runtime/atomic_write.ts";
import type { NamedFigure } from "./plotly_figure.ts";

/** The npm package (exact version) whose minified bundle renders the figures. */
export const PLOTLY_PACKAGE = "npm:plotly.js-dist-min@3.7.0";

/** What an export did. */
export interface SvgExportResult {
  /** Paths written. */
  written: string[];
  /** Why nothing was written (no Chromium), when so. */
  skipped?: string;
}

/** Options of {@link renderSvgs} and {@link exportSvgs}. */
export interface SvgOptions {
  /** The Chromium binary (default: found by {@link findChromium}); `null` = none (skip). */
  chromium?: string | null;
  /** Give up after this long (default 120 s). */
  timeoutMs?: number;
}

const CANDIDATES = ["chromium-headless-shell", "chromium", "chromium-browser", "google-chrome"];

/** The Chromium binary to use, or null when there is none. */
export async function findChromium(): Promise<string | null> {
  let env: string | undefined;
  try {
    env = Deno.env.get("SIMCSE_CHROMIUM");
  } catch { /* no env permission */ }
  if (env) return env;
  let path = "";
  try {
    path = Deno.env.get("PATH") ?? "";
  } catch { /* no env permission */ }
  for (const name of CANDIDATES) {
    for (const dir of path.split(":").filter(Boolean)) {
      try {
        const st = await Deno.stat(`${dir}/${name}`);
        if (st.isFile && ((st.mode ?? 0o111) & 0o111) !== 0) return `${dir}/${name}`;
      } catch { /* not here */ }
    }
  }
  return null;
}

/** The path of `plotly.min.js` inside `node_modules` (Deno installs the package on first use of this module). */
export function plotlyBundlePath(): string {
  const url = import.meta.resolve(PLOTLY_PACKAGE);
  if (!url.startsWith("file:")) {
    throw new Error(
      `${PLOTLY_PACKAGE} is not installed in node_modules (resolved to ${url}); run \`deno install\``,
    );
  }
  return new URL(url).pathname;
}

// Never executed (the bundle needs a browser); its presence makes Deno install the package, so that
// `import.meta.resolve` above finds it in node_modules.
// deno-lint-ignore no-import-prefix
if (Math.random() < 0) await import("npm:plotly.js-dist-min@3.7.0");

/** The page that draws every figure and leaves its SVG (URL-encoded) in `<pre id="svg-i">`. */
function page(bundle: string, figs: NamedFigure[]): string {
  const specs = JSON.stringify(
    figs.map((f) => ({
      data: f.figure.data,
      layout: f.figure.layout,
      width: f.width ?? 800,
      height: f.height ?? 450,
    })),
  ).replace(/</g, "\\u003c"); // no "</script>" inside the script
  return `<!DOCTYPE html><html><head><meta charset="utf-8"><script>${
    bundle.replace(/<\/script/gi, "<\\/script")
  }</script></head>
<body><div id="out"></div><script>
(async () => {
  const specs = ${specs};
  const out = document.getElementById("out");
  try {
    for (let i = 0; i < specs.length; i++) {
      const s = specs[i];
      const div = document.createElement("div");
      document.body.appendChild(div);
      await Plotly.newPlot(div, s.data, { ...s.layout, width: s.width, height: s.height }, { staticPlot: true });
      const url = await Plotly.toImage(div, { format: "svg", width: s.width, height: s.height });
      const pre = document.createElement("pre");
      pre.id = "svg-" + i;
      pre.textContent = url.slice(url.indexOf(",") + 1);
      out.appendChild(pre);
      Plotly.purge(div);
      div.remove();
    }
    const done = document.createElement("pre");
    done.id = "done";
    out.appendChild(done);
  } catch (e) {
    const err = document.createElement("pre");
    err.id = "error";
    err.textContent = String(e && e.stack || e);
    out.appendChild(err);
  }
})();
</script></body></html>`;
}

/**
 * Render figures to SVG strings in one Chromium run. Throws when Chromium is missing or fails (use
 * {@link exportSvgs} for the skip-when-absent behaviour).
 */
export async function renderSvgs(figs: NamedFigure[], opts: SvgOptions = {}): Promise<string[]> {
  if (figs.length === 0) return [];
  const chromium = opts.chromium === undefined ? await findChromium() : opts.chromium;
  if (!chromium) {
    throw new Error("no Chromium found (install chromium-headless-shell or set SIMCSE_CHROMIUM)");
  }
  const bundle = await Deno.readTextFile(plotlyBundlePath());
  const dir = await Deno.makeTempDir({ prefix: "simcse-figures-" });
  try {
    const html = `${dir}/figures.html`;
    await Deno.writeTextFile(html, page(bundle, figs));
    const out = await new Deno.Command(chromium, {
      args: [
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-dev-shm-usage",
        "--no-first-run",
        "--allow-file-access-from-files",
        `--user-data-dir=${dir}/profile`,
        "--virtual-time-budget=60000",
        "--dump-dom",
        `file://${html}`,
      ],
      stdout: "piped",
      stderr: "piped",
      signal: AbortSignal.timeout(opts.timeoutMs ?? 120_000),
    }).output();
    const dom = new TextDecoder().decode(out.stdout);
    const err = /<pre id="error">([\s\S]*?)<\/pre>/.exec(dom);
    if (err) throw new Error(`Plotly failed in Chromium: ${unescapeHtml(err[1])}`);
    if (!dom.includes('<pre id="done">')) {
      const tail = new TextDecoder().decode(out.stderr).trim().split("\n").slice(-5).join("\n");
      throw new Error(
        `Chromium (${chromium}) did not finish drawing the figures (exit ${out.code}): ${tail}`,
      );
    }
    return figs.map((_, i) => {
      const m = new RegExp(`<pre id="svg-${i}">([^<]*)</pre>`).exec(dom);
      if (!m) throw new Error(`figure ${i}: no SVG in Chromium's output`);
      return stableIds(decodeURIComponent(unescapeHtml(m[1])));
    });
  } finally {
    await Deno.remove(dir, { recursive: true }).catch(() => {});
  }
}

/**
 * Write `<outDir>/<name>.svg` for every figure (atomically). Without Chromium, writes nothing and
 * returns `skipped` with the reason, which it also prints.
 */
export async function exportSvgs(
  figs: NamedFigure[],
  outDir: string,
  opts: SvgOptions = {},
): Promise<SvgExportResult> {
  const chromium = opts.chromium === undefined ? await findChromium() : opts.chromium;
  if (!chromium) {
    const skipped = "SVG export skipped: no headless Chromium found. Install it with " +
      "`apt-get install -y --no-install-recommends chromium-headless-shell` (or set SIMCSE_CHROMIUM to a Chrome/Chromium binary); " +
      "the interactive notebook figures do not need it.";
    console.error(skipped);
    return { written: [], skipped };
  }
  const svgs = await renderSvgs(figs, { ...opts, chromium });
  const written: string[] = [];
  for (const [i, f] of figs.entries()) {
    const path = `${outDir}/${f.name}.svg`;
    await writeFileAtomic(path, svgs[i].endsWith("\n") ? svgs[i] : svgs[i] + "\n");
    written.push(path);
  }
  return { written, skipped: undefined };
}

function unescapeHtml(s: string): string {
  return s.replace(/&lt;/g, "<").replace(/&gt;/g, ">").replace(/&quot;/g, '"').replace(/&#39;/g, "'")
    .replace(/&amp;/g, "&");
}

/** Plotly names clip paths etc. after a random per-plot id; fix it so re-exports give identical files. */
export function stableIds(svg: string): string {
  const ids = new Set<string>();
  for (const m of svg.matchAll(/id="clip([0-9a-f]{6})/g)) ids.add(m[1]);
  let out = svg;
  [...ids].forEach((id, i) => (out = out.replaceAll(id, `fig${String(i).padStart(3, "0")}`)));
  return out;
}
