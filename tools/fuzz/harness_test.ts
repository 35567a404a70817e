import { deepStrictEqual as assertEquals, ok as assert } from "node:assert/strict";
import fc from "fast-check";
import { InputError } from "../../lib/runtime/errors.ts";
import { classifyError, type FuzzTarget, runCase, runCases } from "./harness.ts";

Deno.test("`classifyError()` accepts only one-line InputErrors that name the file", () => {
  assertEquals(classifyError(new InputError("bad", { file: "a.bin", offset: 3 }), "a.bin"), null);
  assert(classifyError(new InputError("bad", { file: "b.bin" }), "a.bin")!.includes("does not name a.bin"));
  assert(
    classifyError(new InputError("bad\nline", { file: "a.bin" }), "a.bin")!.includes("one printable line"),
  );
  assert(
    classifyError(new InputError("\u001b[31m", { file: "a.bin" }), "a.bin")!.includes("one printable line"),
  );
  assert(classifyError(new TypeError("x is undefined"), "a.bin")!.startsWith("TypeError: x is undefined"));
  assert(classifyError(new RangeError("Invalid array length"), "a.bin")!.startsWith("RangeError"));
});

/** A target whose parser's behaviour is chosen by the first byte. */
const toy: FuzzTarget = {
  name: "toy",
  file: "toy.bin",
  seeds: () => Promise.resolve([{ name: "s", bytes: Uint8Array.of(0) }]),
  mutations: () => fc.constantFrom([["set", 0, 1]], [["set", 0, 2]], [["set", 0, 3]], [["set", 0, 4]]),
  run(bytes) {
    switch (bytes[0]) {
      case 1:
        throw new InputError("refused", { file: "toy.bin" });
      case 2:
        return Promise.resolve({ verdict: null });
      case 3:
        return Promise.resolve({ verdict: "wrong number" });
      default:
        throw new TypeError("boom");
    }
  },
};

Deno.test("`runCase()` classifies refused, loaded, mismatch, crash and hang", async () => {
  const [seed] = await toy.seeds();
  assertEquals((await runCase(toy, seed, [["set", 0, 1]], 1000)).outcome, "refused");
  assertEquals((await runCase(toy, seed, [["set", 0, 2]], 1000)).outcome, "loaded");
  assertEquals((await runCase(toy, seed, [["set", 0, 3]], 1000)).outcome, "mismatch");
  assertEquals((await runCase(toy, seed, [["set", 0, 4]], 1000)).outcome, "crash");
  assertEquals((await runCase(toy, seed, [["set", 0, 2]], -1)).outcome, "hang");
});

Deno.test("`runCases()` counts every case once and keeps findings", async () => {
  const s = await runCases(toy, { cases: 100, seed: 3, keep: 2 });
  assertEquals(s.cases, 100);
  assertEquals(s.refused + s.loaded + s.mismatches + s.crashes + s.hangs, 100);
  assert(s.crashes > 0 && s.mismatches > 0);
  assertEquals(s.findings.filter((f) => f.outcome === "crash").length, 2);
});
