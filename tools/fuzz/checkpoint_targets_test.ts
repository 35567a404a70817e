import { ok as assert, strictEqual } from "node:assert/strict";
import { parseTorchBin } from "../../lib/checkpoint/torch_bin.ts";
import { stateDictHash } from "./canonical.ts";
import {
  rezipPickle,
  safetensorsTarget,
  torchLegacyTarget,
  torchPickleTarget,
  torchVerdict,
  torchZipTarget,
} from "./checkpoint_targets.ts";
import { classifyError, describeFindings, type FuzzTarget, runCases } from "./harness.ts";
import { applyOps, type Op } from "./mutations.ts";

/** The short run of `deno task test`: a few hundred seeded cases, no crash, hang or silent mismatch. */
async function shortRun(target: FuzzTarget, cases: number, seed: number) {
  const s = await runCases(target, { cases, seed, hangMs: 3000 });
  assert(s.crashes + s.hangs + s.mismatches === 0, describeFindings(s));
  assert(
    s.refused > 0 && s.loaded > 0,
    `${s.refused} refused, ${s.loaded} loaded: the mutations are not mixed`,
  );
}

Deno.test("fuzz `parseSafetensors()`: 400 mutated files are refused cleanly or hold exactly what their header declares", async () => {
  await shortRun(safetensorsTarget, 400, 1);
});

Deno.test("fuzz `parseTorchBin()` zip: 300 mutated archives are refused cleanly or load the seed's exact tensors", async () => {
  await shortRun(torchZipTarget, 300, 2);
});

Deno.test("fuzz `parseTorchBin()` data.pkl: 300 mutated pickles (re-zipped) are refused cleanly or load consistent tensors", async () => {
  await shortRun(torchPickleTarget, 300, 3);
});

Deno.test("fuzz `parseTorchBin()` legacy: 300 mutated legacy files are refused cleanly or load consistent tensors", async () => {
  await shortRun(torchLegacyTarget, 300, 4);
});

interface TorchCase {
  ops: Op[];
  torch: { ok?: string; error?: string };
}

const cases = JSON.parse(
  await Deno.readTextFile(new URL("../../testdata/checkpoint/torch_fuzz_cases.json", import.meta.url)),
) as { legacy_original: string; pickle_original: string; legacy: TorchCase[]; pickle: TorchCase[] };

Deno.test("fuzz oracle: 150 mutated legacy files and 150 mutated pickles load only where torch.load agrees, hash for hash", async () => {
  const [legacy] = await torchLegacyTarget.seeds();
  const [pickle] = await torchPickleTarget.seeds();
  strictEqual(
    stateDictHash(parseTorchBin(legacy.bytes, "x")),
    cases.legacy_original,
    "canonical hash = Python's",
  );
  strictEqual(stateDictHash(parseTorchBin(rezipPickle(pickle, pickle.bytes), "x")), cases.pickle_original);
  let agreed = 0, loaded = 0;
  for (
    const [kind, list, original] of [["legacy", cases.legacy, cases.legacy_original], [
      "pickle",
      cases.pickle,
      cases.pickle_original,
    ]] as const
  ) {
    for (const [i, c] of list.entries()) {
      const mutated = applyOps(kind === "legacy" ? legacy.bytes : pickle.bytes, c.ops);
      let ours: string;
      try {
        ours = stateDictHash(
          parseTorchBin(kind === "legacy" ? mutated : rezipPickle(pickle, mutated), "f.bin"),
        );
      } catch (e) {
        const problem = classifyError(e, "f.bin");
        assert(problem === null, `${kind} case ${i} ${JSON.stringify(c.ops)}: ${problem}`);
        if (c.torch.ok === undefined) agreed++;
        continue;
      }
      loaded++;
      const verdict = torchVerdict(`${ours} ${original}`, c.torch);
      assert(verdict === null, `${kind} case ${i} ${JSON.stringify(c.ops)}: ${verdict}`);
      agreed++;
    }
  }
  assert(loaded >= 20, `only ${loaded} cases loaded`);
  assert(agreed >= 280, `we and torch.load agree on ${agreed} of 300 cases`);
});
