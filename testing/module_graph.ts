/**
 * The layering rules of docs/ARCHITECTURE.md, checked on the module graph that `deno info --json`
 * reports. Test files (`*_test.ts`) may reach anywhere to check what they check; the rules bind the
 * code they test.
 *
 * - no import cycle (type-only imports count: a type cycle is still two files that need each other);
 * - `lib/` imports nothing from `cli/`, `experiments/`, `bench/`, `notebooks/`, `tools/` or `testing/`;
 * - `experiments/` imports nothing from `cli/` (both sit on `lib/app/`);
 * - `lib/model/` imports nothing from `lib/train/`;
 * - a backend's internals (`lib/kernels/*` but its public face `lib/kernels/mod.ts` and the backend
 *   selection `lib/kernels/backend.ts`) are imported only from inside `lib/kernels/`.
 *
 * @module
 */

/** One module and the local modules it imports (repo-relative paths). */
export interface ModuleNode {
  path: string;
  imports: string[];
}

const APP_DIRS = ["cli/", "experiments/", "bench/", "notebooks/", "tools/", "testing/"];

/**
 * Is `p` a backend internal? Anything in lib/kernels/ but its public face (`mod.ts`) and backend
 * selection (`backend.ts`, for entry points: importing it registers every backend).
 */
function isKernelInternal(p: string): boolean {
  return p.startsWith("lib/kernels/") && p !== "lib/kernels/mod.ts" && p !== "lib/kernels/backend.ts";
}

/** Every rule broken by `graph`, one line each (empty when the graph is clean). */
export function layeringViolations(graph: ModuleNode[]): string[] {
  const out: string[] = [];
  const nodes = graph.filter((n) => !n.path.endsWith("_test.ts"));
  for (const { path, imports } of nodes) {
    for (const dep of imports) {
      const edge = `${path} imports ${dep}`;
      if (path.startsWith("lib/") && APP_DIRS.some((d) => dep.startsWith(d))) {
        out.push(`${edge}: lib/ never imports an app or tool folder`);
      }
      if (path.startsWith("experiments/") && dep.startsWith("cli/")) {
        out.push(`${edge}: experiments share code with cli/ through lib/app/, not cli/`);
      }
      if (path.startsWith("lib/model/") && dep.startsWith("lib/train/")) {
        out.push(`${edge}: the model layer sits below training`);
      }
      if (isKernelInternal(dep) && !path.startsWith("lib/kernels/")) {
        out.push(`${edge}: backend internals are reached through lib/kernels/mod.ts`);
      }
    }
  }
  for (const cycle of findCycles(nodes)) out.push(`import cycle: ${cycle.join(" -> ")}`);
  return out;
}

/** The cycles of the graph, one per strongly connected component (shown as one closed path). */
export function findCycles(graph: ModuleNode[]): string[][] {
  const adj = new Map(graph.map((n) => [n.path, n.imports.filter((d) => d !== n.path)]));
  const index = new Map<string, number>(), low = new Map<string, number>();
  const stack: string[] = [], onStack = new Set<string>();
  const cycles: string[][] = [];
  let next = 0;
  // Tarjan's algorithm, iterative so that deep graphs cannot overflow the stack.
  for (const root of adj.keys()) {
    if (index.has(root)) continue;
    const work: [string, number][] = [[root, 0]];
    while (work.length > 0) {
      const top = work[work.length - 1];
      const [v, i] = top;
      if (i === 0 && !index.has(v)) {
        index.set(v, next);
        low.set(v, next++);
        stack.push(v);
        onStack.add(v);
      }
      const deps = adj.get(v) ?? [];
      if (i < deps.length) {
        top[1]++;
        const w = deps[i];
        if (!adj.has(w)) continue;
        if (!index.has(w)) work.push([w, 0]);
        else if (onStack.has(w)) low.set(v, Math.min(low.get(v)!, index.get(w)!));
        continue;
      }
      work.pop();
      if (work.length > 0) {
        const parent = work[work.length - 1][0];
        low.set(parent, Math.min(low.get(parent)!, low.get(v)!));
      }
      if (low.get(v) === index.get(v)) {
        const comp: string[] = [];
        let w: string;
        do {
          w = stack.pop()!;
          onStack.delete(w);
          comp.push(w);
        } while (w !== v);
        if (comp.length > 1) cycles.push(closedPath(comp, adj));
      }
    }
  }
  return cycles;
}

/** A closed path through a strongly connected component, starting at its first member in sort order. */
function closedPath(comp: string[], adj: Map<string, string[]>): string[] {
  const inComp = new Set(comp);
  const start = [...comp].sort()[0];
  // Breadth-first from start back to start inside the component.
  const prev = new Map<string, string>();
  const queue = [start];
  while (queue.length > 0) {
    const v = queue.shift()!;
    for (const w of adj.get(v) ?? []) {
      if (!inComp.has(w)) continue;
      if (w === start) {
        const path = [start];
        for (let u = v; u !== start; u = prev.get(u)!) path.splice(1, 0, u);
        return [...path, start];
      }
      if (!prev.has(w)) {
        prev.set(w, v);
        queue.push(w);
      }
    }
  }
  return [...comp, comp[0]];
}

/**
 * The repository's module graph from `deno info --json`, over every tracked TypeScript file under
 * the given folders (one synthetic root importing them all), with paths relative to `root`.
 */
export async function repoModuleGraph(root: string, folders: string[]): Promise<ModuleNode[]> {
  const files: string[] = [];
  const walk = async (dir: string) => {
    for await (const e of Deno.readDir(`${root}/${dir}`)) {
      const p = `${dir}/${e.name}`;
      if (e.isDirectory && e.name !== "node_modules" && !e.name.startsWith(".")) await walk(p);
      else if (e.isFile && e.name.endsWith(".ts")) files.push(p);
    }
  };
  for (const f of folders) await walk(f);
  const entry = await Deno.makeTempFile({ dir: root, prefix: ".module-graph-", suffix: ".ts" });
  try {
    await Deno.writeTextFile(entry, files.map((f) => `import "./${f}";`).join("\n") + "\n");
    const r = await new Deno.Command(Deno.execPath(), { args: ["info", "--json", entry], cwd: root })
      .output();
    if (!r.success) throw new Error(`deno info failed: ${new TextDecoder().decode(r.stderr)}`);
    const info = JSON.parse(new TextDecoder().decode(r.stdout)) as {
      modules: {
        specifier: string;
        dependencies?: { code?: { specifier: string }; type?: { specifier: string } }[];
      }[];
    };
    const base = new URL(`file://${await Deno.realPath(root)}/`).href;
    const rel = (s: string) => (s.startsWith(base) ? s.slice(base.length) : null);
    const entryRel = rel(new URL(`file://${await Deno.realPath(entry)}`).href);
    const out: ModuleNode[] = [];
    for (const m of info.modules) {
      const path = rel(m.specifier);
      if (path === null || path === entryRel) continue;
      const deps = new Set<string>();
      for (const d of m.dependencies ?? []) {
        for (const s of [d.code?.specifier, d.type?.specifier]) {
          const r = s ? rel(s) : null;
          if (r) deps.add(r);
        }
      }
      out.push({ path, imports: [...deps] });
    }
    return out;
  } finally {
    await Deno.remove(entry).catch(() => {});
  }
}
