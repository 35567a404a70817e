/**
 * Native code only from a trusted place: a library planted at the kernel cache path is neither
 * loaded nor executed (its constructor would write a marker file), an untrusted cache folder is not
 * used, and without HOME nothing is compiled into a shared path. Each case runs in a child process,
 * since a process opens the kernels once.
 */
import { deepStrictEqual, ok } from "node:assert/strict";
import { reportSkip, requireTool } from "../../testing/tools.ts";

const MODULE = new URL("./native_kernels.ts", import.meta.url).href;
const ccSkip = await requireTool("cc");
reportSkip("the native-kernel cache tests", ccSkip);
const haveCc = ccSkip === null;
const DENO_DIR = Deno.env.get("DENO_DIR") ??
  (Deno.env.get("HOME") ? `${Deno.env.get("HOME")}/.cache/deno` : undefined);

interface Loaded {
  path: string | null;
  reason: string | null;
  sum: number[];
  pathExists: boolean;
  stderr: string;
}

/** Open the kernels in a fresh process with exactly `env` (plus PATH), add [1,2]+[3,4] with them. */
async function loadIn(env: Record<string, string>): Promise<Loaded> {
  const code = `import { loadNativeKernels, nativeKernelsUnavailableReason } from ${JSON.stringify(MODULE)};
const k = loadNativeKernels();
const out = new Float32Array(2);
if (k) k.add(new Float32Array([1, 2]), new Float32Array([3, 4]), out, 2);
let pathExists = false;
try { Deno.statSync(k.path); pathExists = true; } catch { /* removed */ }
console.log(JSON.stringify({ path: k?.path ?? null, reason: nativeKernelsUnavailableReason(), sum: Array.from(out), pathExists }));`;
  const cwd = await Deno.makeTempDir();
  const r = await new Deno.Command(Deno.execPath(), {
    args: ["eval", "--no-config", code],
    cwd,
    clearEnv: true,
    env: {
      PATH: Deno.env.get("PATH") ?? "/usr/bin:/bin",
      NO_COLOR: "1",
      ...(DENO_DIR ? { DENO_DIR } : {}),
      ...env,
    },
    stdout: "piped",
    stderr: "piped",
  }).output();
  await Deno.remove(cwd, { recursive: true });
  const stderr = new TextDecoder().decode(r.stderr);
  if (!r.success) throw new Error(stderr);
  return { ...JSON.parse(new TextDecoder().decode(r.stdout)), stderr };
}

/** A shared library whose constructor writes `marker` when it is loaded. */
async function foreignLibrary(path: string, marker: string): Promise<void> {
  const src = `${path}.c`;
  await Deno.writeTextFile(
    src,
    `#include <stdio.h>
__attribute__((constructor)) static void planted(void) {
  FILE *f = fopen(${JSON.stringify(marker)}, "w");
  if (f) { fputs("foreign code ran\\n", f); fclose(f); }
}
void simcse_add(const float *a, const float *b, float *o, long n) { for (long i = 0; i < n; i++) o[i] = 666; }
`,
  );
  const r = await new Deno.Command("cc", { args: ["-shared", "-fPIC", "-o", path, src] }).output();
  if (!r.success) throw new Error(new TextDecoder().decode(r.stderr));
  await Deno.remove(src);
}

const exists = (p: string) => Deno.lstat(p).then(() => true, () => false);

async function sha256sum(path: string): Promise<string> {
  const r = await new Deno.Command("sha256sum", { args: [path], stdout: "piped" }).output();
  return new TextDecoder().decode(r.stdout).split(" ")[0];
}

Deno.test({
  name: "a library planted at the kernel cache path is refused, not executed, and rebuilt",
  ignore: !haveCc,
  fn: async () => {
    const root = await Deno.makeTempDir();
    const env = { XDG_CACHE_HOME: `${root}/xdg`, HOME: `${root}/home` };
    const first = await loadIn(env);
    ok(first.path?.startsWith(`${root}/xdg/simcse-ts/`), JSON.stringify(first));
    deepStrictEqual(first.sum, [4, 6]);
    deepStrictEqual(
      (await Deno.stat(`${root}/xdg/simcse-ts`)).mode! & 0o777,
      0o700,
      "cache folder is private",
    );
    const path = first.path!;
    deepStrictEqual(
      (await Deno.readTextFile(`${path}.sha256`)).trim(),
      await sha256sum(path),
      "hash recorded",
    );

    // Plant a foreign library where the cached one was (the recorded hash no longer matches it).
    const marker = `${root}/MARKER`;
    await foreignLibrary(path, marker);
    const second = await loadIn(env);
    ok(!(await exists(marker)), "the planted library's constructor did not run");
    deepStrictEqual(second.path, path);
    deepStrictEqual(second.sum, [4, 6], "the real kernels, rebuilt, are in use");
    ok(/is not the library this toolkit compiled \(its sha256 differs/.test(second.stderr), second.stderr);
    deepStrictEqual(second.stderr.trim().split("\n").length, 1, "one line");
    deepStrictEqual((await Deno.readTextFile(`${path}.sha256`)).trim(), await sha256sum(path));

    // Planted with its hash record removed: the same.
    await foreignLibrary(path, marker);
    await Deno.remove(`${path}.sha256`);
    const third = await loadIn(env);
    ok(!(await exists(marker)), "not executed");
    deepStrictEqual(third.sum, [4, 6]);
    ok(/no hash was recorded for it\); rebuilding it/.test(third.stderr), third.stderr);
    await Deno.remove(root, { recursive: true });
  },
});

Deno.test({
  name:
    "a cache folder others may write to (or owned by another user) is not used, even with a matching hash",
  ignore: !haveCc,
  fn: async () => {
    const root = await Deno.makeTempDir();
    const env = { SIMCSE_CACHE_DIR: `${root}/cache` };
    const first = await loadIn(env);
    const path = first.path!;
    ok(path.startsWith(`${root}/cache/`));
    // Someone who can write to the folder plants a library and its hash record.
    const marker = `${root}/MARKER`;
    await foreignLibrary(path, marker);
    await Deno.writeTextFile(`${path}.sha256`, `${await sha256sum(path)}\n`);
    await Deno.chmod(`${root}/cache`, 0o777);
    const r = await loadIn(env);
    ok(!(await exists(marker)), "the planted library's constructor did not run");
    deepStrictEqual(r.sum, [4, 6]);
    ok(/not using the kernel cache .*: others may write to it \(mode 777\)/.test(r.stderr), r.stderr);
    ok(
      !r.path!.startsWith(`${root}/cache`) && !r.pathExists,
      "built in a private folder, removed after loading",
    );
    if (Deno.uid() === 0) {
      await Deno.chmod(`${root}/cache`, 0o700);
      await Deno.chown(`${root}/cache`, 65534, 65534);
      const other = await loadIn(env);
      ok(!(await exists(marker)));
      ok(/belongs to uid 65534, not to this user/.test(other.stderr), other.stderr);
    }
    await Deno.remove(root, { recursive: true });
  },
});

Deno.test({
  name: "without HOME the kernels are compiled into a fresh private folder, removed after loading",
  ignore: !haveCc,
  fn: async () => {
    const tmp = await Deno.makeTempDir();
    // No HOME, XDG_CACHE_HOME or SIMCSE_CACHE_DIR (the old code then used the shared /tmp/.cache).
    const r = await loadIn({ TMPDIR: tmp });
    deepStrictEqual(r.sum, [4, 6]);
    ok(r.path!.startsWith(`${tmp}/simcse-kernels-`), JSON.stringify(r));
    ok(!r.pathExists, "the private folder is gone");
    deepStrictEqual(await Array.fromAsync(Deno.readDir(tmp)), [], "nothing left behind");
    deepStrictEqual(r.stderr, "");
    await Deno.remove(tmp, { recursive: true });
  },
});

Deno.test({
  name: "loading the C kernels leaves float32 denormals alone (no flush-to-zero from fast-math startup code)",
  ignore: !haveCc,
  fn: async () => {
    const cache = await Deno.makeTempDir();
    const code = `import { loadNativeKernels } from ${JSON.stringify(MODULE)};
const k = loadNativeKernels();
const f = new Float32Array([1e-40]);
console.log(JSON.stringify({ loaded: k !== null, fround: Math.fround(1e-40), twice: f[0] * 2 }));`;
    const r = await new Deno.Command(Deno.execPath(), {
      args: ["eval", code],
      env: { SIMCSE_CACHE_DIR: `${cache}/c` },
      stdout: "piped",
      stderr: "piped",
    }).output();
    ok(r.success, new TextDecoder().decode(r.stderr));
    const got = JSON.parse(new TextDecoder().decode(r.stdout));
    ok(got.loaded, "the kernels load");
    ok(
      got.fround > 0 && got.twice > 0,
      `denormals survive: fround(1e-40) = ${got.fround}, 2·1e-40 = ${got.twice}`,
    );
    await Deno.remove(cache, { recursive: true });
  },
});

/** Run `code` (after `import { loadNativeKernels }`) in a fresh process with `env` added; its JSON output. */
async function runWith(
  code: string,
  env: Record<string, string>,
): Promise<{ out: Record<string, unknown>; stderr: string }> {
  const r = await new Deno.Command(Deno.execPath(), {
    args: [
      "eval",
      `import { loadNativeKernels, nativeKernelsUnavailableReason } from ${JSON.stringify(MODULE)};\n${code}`,
    ],
    env: { NO_COLOR: "1", ...env },
    stdout: "piped",
    stderr: "piped",
  }).output();
  const stderr = new TextDecoder().decode(r.stderr);
  if (!r.success) throw new Error(stderr);
  return { out: JSON.parse(new TextDecoder().decode(r.stdout)), stderr };
}

Deno.test({
  name: "the C kernels give the same bits on 1, 2 and 3 OpenMP threads (each loop is split in fixed blocks)",
  ignore: !haveCc,
  fn: async () => {
    const cache = await Deno.makeTempDir();
    // Sizes well above the blocks that are split across threads (native/par.h), odd to leave tails.
    const code = `const k = loadNativeKernels();
if (!k) throw new Error(nativeKernelsUnavailableReason() ?? "no kernels");
let s = 7;
const rnd = (n, scale = 1) => Float32Array.from({ length: n }, () => ((s = (Math.imul(s, 1664525) + 1013904223) >>> 0) / 2 ** 31 - 1) * scale);
const rows = 301, h = 517, n = rows * h, outs = [];
const x = rnd(n, 4), dy = rnd(n), g = rnd(h), b = rnd(h);
const y = new Float32Array(n); k.gelu(x, y, n); outs.push(y);
const dx = new Float32Array(n); k.geluGrad(dy, x, dx, n); outs.push(dx);
const yd = new Float32Array(n); k.dropout(x, yd, n, 99, 2 ** 31, 2); outs.push(yd);
const yl = new Float32Array(n), xh = new Float32Array(n), rs = new Float32Array(rows);
k.layerNorm(x, g, b, yl, xh, rs, rows, h, 1e-12); outs.push(yl, xh, rs);
const lx = new Float32Array(n), lg = new Float64Array(h), lb = new Float64Array(h);
k.layerNormGrad(dy, xh, rs, g, lx, lg, lb, rows, h); outs.push(lx, lg, lb);
const p = new Float32Array(n); k.attnSoftmax(x, new Float32Array(h), new Int32Array(rows), 1, p, rows, h, 0.125); outs.push(p);
const red = new Float32Array(h); k.reduceMid(x, red, new Float64Array(h), 1, rows, h, 1); outs.push(red);
const bc = new Float32Array(72 * 32 * 32); // 72 float32 products of [32, 64]·[64, 32]ᵀ: above the batch kernel's threshold
if (!k.halfBatchGemm("f32", [false, true], [72, 1], [32, 32, 64], { data: x, ld: 64, strides: [2048, 0] }, { data: dy, ld: 64, strides: [2048, 0] }, { data: bc, ld: 32, strides: [1024, 0] }, 1)) throw new Error("no tiles");
outs.push(bc);
for (const fmt of ["bf16", "f16"]) {
  const c = x.slice(), z16 = new Uint16Array(n), y16 = new Uint16Array(n); k.halfLinearOut(fmt, "gelu", c, z16, n, y16); outs.push(c, z16, y16);
  const ya = new Uint16Array(n); k.halfActCodes(fmt, "gelu", z16, ya, n); outs.push(ya);
  const cb = x.slice(), zb = new Uint16Array(n), yb = new Uint16Array(n); k.halfLinearOutBias(fmt, "gelu", cb, b, zb, yb, rows, h); outs.push(cb, zb, yb);
  const g16 = new Uint16Array(n), db = new Float64Array(h); k.halfLinearGradIn(fmt, "gelu", dy, z16, g16, db, rows, h); outs.push(g16, db);
  const xc = new Uint16Array(n); k.halfPack(fmt, xh, xc, n);
  const hx = new Float32Array(n), hg = new Float64Array(h), hb = new Float64Array(h);
  k.layerNormGradHalf(fmt, dy, xc, rs, g, hx, hg, hb, rows, h); outs.push(hx, hg, hb);
}
const pp = x.slice(), m = new Float32Array(n), v = new Float32Array(n); k.adamw(pp, dy, m, v, n, 0.9, 0.999, 1e-3, 1e-6, 0.01, 0.5); outs.push(pp, m, v);
const { createHash } = await import("node:crypto");
const hash = createHash("sha256"); for (const o of outs) hash.update(new Uint8Array(o.buffer));
console.log(JSON.stringify({ hash: hash.digest("hex") }));`;
    const hashes = [];
    for (const t of ["1", "2", "3"]) {
      hashes.push((await runWith(code, { SIMCSE_CACHE_DIR: `${cache}/c`, OMP_NUM_THREADS: t })).out.hash);
    }
    deepStrictEqual(new Set(hashes).size, 1, `outputs differ between thread counts: ${hashes.join(" ")}`);
    await Deno.remove(cache, { recursive: true });
  },
});

Deno.test({
  name: "a compiler that cannot build with OpenMP builds the kernels without it, and says so in one line",
  ignore: !haveCc,
  fn: async () => {
    const root = await Deno.makeTempDir();
    const bin = `${root}/bin`;
    await Deno.mkdir(bin);
    const cc =
      (await new Deno.Command("sh", { args: ["-c", "command -v cc"], stdout: "piped" }).output()).stdout;
    const realCc = new TextDecoder().decode(cc).trim();
    // The only compilers on PATH refuse -fopenmp, as clang does without libomp.
    for (const name of ["cc", "gcc", "clang"]) {
      await Deno.writeTextFile(
        `${bin}/${name}`,
        `#!/bin/sh\nfor a; do [ "$a" = -fopenmp ] && { echo "unsupported option '-fopenmp'" >&2; exit 1; }; done\nPATH=/usr/bin:/bin exec ${realCc} "$@"\n`,
        { mode: 0o755 },
      );
    }
    const { out, stderr } = await runWith(
      `const k = loadNativeKernels(); const o = new Float32Array(2);
k?.add(new Float32Array([1, 2]), new Float32Array([3, 4]), o, 2);
console.log(JSON.stringify({ sum: Array.from(o), reason: nativeKernelsUnavailableReason() }));`,
      { PATH: bin, SIMCSE_CACHE_DIR: `${root}/c` },
    );
    deepStrictEqual(out, { sum: [4, 6], reason: null });
    const lines = stderr.trim().split("\n");
    deepStrictEqual(lines.length, 1, stderr);
    ok(/without OpenMP, on one thread \(.*unsupported option '-fopenmp'/.test(lines[0]), stderr);
    await Deno.remove(root, { recursive: true });
  },
});

Deno.test({
  name: "under the permissions the tasks grant (no --allow-sys), the C kernels and oneDNN load",
  ignore: !haveCc,
  fn: async () => {
    const tasks = JSON.parse(await Deno.readTextFile(new URL("../../deno.json", import.meta.url))).tasks;
    const sets = new Set<string>();
    for (const t of Object.values(tasks) as (string | { command: string })[]) {
      const cmd = typeof t === "string" ? t : t.command;
      const flags = cmd.split(/\s+/).filter((w) => w.startsWith("--allow-"));
      if (cmd.startsWith("deno run") && flags.includes("--allow-ffi")) sets.add(flags.join(" "));
    }
    ok(sets.size > 0, "tasks that load native code");
    const root = await Deno.makeTempDir();
    const probe = `${root}/probe.ts`;
    await Deno.writeTextFile(
      probe,
      `import { loadNativeKernels, nativeKernelsUnavailableReason } from ${JSON.stringify(MODULE)};
const { loadOneDnn, oneDnnUnavailableReason } = await import(${
        JSON.stringify(new URL("./onednn.ts", import.meta.url).href)
      });
console.log(JSON.stringify({ native: loadNativeKernels() ? null : nativeKernelsUnavailableReason(), onednn: loadOneDnn() ? null : oneDnnUnavailableReason() }));`,
    );
    for (const set of sets) {
      const r = await new Deno.Command(Deno.execPath(), {
        args: [
          "run",
          ...set.split(" "),
          `--config=${new URL("../../deno.json", import.meta.url).pathname}`,
          probe,
        ],
        env: { NO_COLOR: "1" },
        stdout: "piped",
        stderr: "piped",
      }).output();
      ok(r.success, new TextDecoder().decode(r.stderr));
      const got = JSON.parse(new TextDecoder().decode(r.stdout));
      deepStrictEqual(got.native, null, `${set}: ${got.native}`);
      // oneDNN may be absent (libdnnl2 not installed); never for want of a permission.
      ok(got.onednn === null || /oneDNN not found|SIMCSE_ONEDNN/.test(got.onednn), `${set}: ${got.onednn}`);
    }
    await Deno.remove(root, { recursive: true });
  },
});

Deno.test({
  name: "the C kernels compile for CPUs without AVX-512 (F16C only) and without F16C, not only for this one",
  ignore: !haveCc || Deno.build.arch !== "x86_64", // the -march names below are x86's
  fn: async () => {
    // half.h has a path per instruction set; -march=native compiles only this machine's.
    const src = new URL("./native/simcse_kernels.c", import.meta.url).pathname;
    const out = await Deno.makeTempFile({ suffix: ".o" });
    for (const march of ["haswell", "x86-64"]) {
      const r = await new Deno.Command("cc", {
        args: [`-march=${march}`, "-O1", "-c", "-o", out, src], // without -fopenmp: any compiler has these paths
        stderr: "piped",
      }).output();
      ok(
        r.success,
        `-march=${march}: ${new TextDecoder().decode(r.stderr).split("\n").slice(0, 4).join("\n")}`,
      );
    }
    await Deno.remove(out);
  },
});

Deno.test("a missing permission is named: the flag Deno asked for first, then the set the kernels use", async () => {
  const { loadFailure } = await import(MODULE);
  const denied = new Deno.errors.NotCapable(
    'Requires run access to "cc", run again with the --allow-run flag',
  );
  deepStrictEqual(
    loadFailure(denied),
    "needs --allow-run (it uses --allow-ffi, --allow-run, --allow-read, --allow-write and --allow-env (or -A))",
  );
  deepStrictEqual(
    loadFailure(new Deno.errors.PermissionDenied("permission denied")),
    "needs --allow-ffi, --allow-run, --allow-read, --allow-write and --allow-env (or -A)",
  );
  deepStrictEqual(loadFailure(new Error("cc: exit 1")), "cc: exit 1");
});

/** `cpuFlags()` and `cpuFlagsKnown()` in a fresh process run with exactly `perms`. */
async function flagsWith(perms: string[]): Promise<{ flags: string; known: boolean }> {
  const dir = await Deno.makeTempDir();
  const script = `${dir}/flags.ts`;
  await Deno.writeTextFile(
    script,
    `import { cpuFlags, cpuFlagsKnown } from ${JSON.stringify(MODULE)};
console.log(JSON.stringify({ flags: cpuFlags(), known: cpuFlagsKnown() }));`,
  );
  try {
    const r = await new Deno.Command(Deno.execPath(), {
      args: ["run", "--no-config", ...perms, script],
      env: { NO_COLOR: "1" },
      stdout: "piped",
      stderr: "piped",
    }).output();
    if (!r.success) throw new Error(new TextDecoder().decode(r.stderr));
    return JSON.parse(new TextDecoder().decode(r.stdout));
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

Deno.test({
  name: "`cpuFlags()` reads the CPU's flags with the tasks' permissions (no --allow-all), as grep does",
  ignore: Deno.build.os !== "linux",
  fn: async () => {
    // The independent reading: grep's first "flags" line of /proc/cpuinfo.
    const grep = await new Deno.Command("grep", { args: ["-m1", "^flags", "/proc/cpuinfo"], stdout: "piped" })
      .output();
    const expected = new TextDecoder().decode(grep.stdout).replace(/\n$/, "");
    ok(expected.includes("fpu"), `grep read no flags line: ${expected}`);
    // Deno 2.9 refuses /proc/cpuinfo to a script without --allow-all: `deno task reproduce` and the
    // other tasks grant --allow-read --allow-env --allow-ffi --allow-run.
    const tasks = ["--allow-read", "--allow-write", "--allow-env", "--allow-ffi", "--allow-run"];
    deepStrictEqual(await flagsWith(tasks), { flags: expected, known: true });
    deepStrictEqual(await flagsWith(["-A"]), { flags: expected, known: true });
    // Neither way open: unknown, not "no flags".
    deepStrictEqual(await flagsWith(["--allow-read", "--allow-env"]), { flags: "", known: false });
  },
});

Deno.test({
  name:
    "a plain half Linear's epilogue (no activation) writes the codes of its rounded output, checked against rounding in JS",
  ignore: !haveCc,
  fn: async () => {
    const { loadNativeKernels } = await import("./native_kernels.ts");
    const k = loadNativeKernels();
    ok(k, "kernels load");
    const rows = 37, cols = 129, n = rows * cols; // odd sizes
    let s = 5;
    const c = Float32Array.from(
      { length: n },
      () => ((s = (Math.imul(s, 1664525) + 1013904223) >>> 0) / 2 ** 31 - 1) * 2 ** ((s >>> 3) % 40 - 20),
    );
    c.set([0, -0, 65504, 1e-8, -3.4e38], 0); // zeros, f16's largest, an f16 subnormal, bf16's range
    const bias = Float32Array.from({ length: cols }, (_, j) => j % 3 === 0 ? 0 : 2 ** -(j % 9));
    const u32 = new Uint32Array(1), f32 = new Float32Array(u32.buffer);
    const bf16Code = (v: number) => { // round to nearest even on the bits
      f32[0] = v;
      return ((u32[0] + 0x7fff + ((u32[0] >>> 16) & 1)) >>> 16) & 0xffff;
    };
    const codes = (fmt: "bf16" | "f16", v: Float32Array) =>
      fmt === "bf16" ? Uint16Array.from(v, bf16Code) : new Uint16Array(Float16Array.from(v).buffer);
    const sum = c.map((v, i) => v + bias[i % cols]); // in float32 (−0 + 0 is +0)
    for (const fmt of ["bf16", "f16"] as const) {
      const got = c.slice(), z16 = new Uint16Array(n);
      k!.halfLinearOutBias(fmt, "none", got, bias, z16, null, rows, cols);
      deepStrictEqual(z16, codes(fmt, sum), `${fmt}: codes`);
      const z1 = new Uint16Array(n);
      k!.halfLinearOut(fmt, "none", c.slice(), z1, n);
      deepStrictEqual(z1, codes(fmt, c), `${fmt}: codes (halfLinearOut)`);
    }
  },
});

Deno.test({
  name:
    "`halfLinearOutBias` gives, bit for bit, `halfLinearOut` of the product with its bias added in float32 (JS)",
  ignore: !haveCc,
  fn: async () => {
    const { loadNativeKernels } = await import("./native_kernels.ts");
    const k = loadNativeKernels();
    ok(k, "kernels load");
    const rows = 301, cols = 517, n = rows * cols; // odd sizes, several thread blocks
    let s = 11;
    const rnd = (m: number, scale: number) =>
      Float32Array.from(
        { length: m },
        () => ((s = (Math.imul(s, 1664525) + 1013904223) >>> 0) / 2 ** 31 - 1) * scale,
      );
    const c = rnd(n, 4), bias = rnd(cols, 1);
    for (const fmt of ["bf16", "f16"] as const) {
      for (const act of ["none", "gelu"] as const) {
        const want = c.map((v, i) => Math.fround(v + bias[i % cols]));
        const wz = new Uint16Array(n), wy = new Uint16Array(n);
        k!.halfLinearOut(fmt, act, want, wz, n, wy);
        const got = c.slice(), gz = new Uint16Array(n), gy = new Uint16Array(n);
        k!.halfLinearOutBias(fmt, act, got, bias, gz, gy, rows, cols);
        deepStrictEqual([got, gz, gy], [want, wz, wy], `${fmt} ${act}`);
      }
    }
  },
});
