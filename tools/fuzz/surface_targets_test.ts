import { ok as assert } from "node:assert/strict";
import { describeFindings, type FuzzTarget, runCases } from "./harness.ts";
import {
  bertTokenizerIdsTarget,
  cliFlagsTarget,
  gpt2VocabIdsTarget,
  simidxTarget,
} from "./surface_targets.ts";

const targets: [FuzzTarget, number][] = [
  [simidxTarget, 300],
  [bertTokenizerIdsTarget, 60],
  [gpt2VocabIdsTarget, 60],
  [cliFlagsTarget, 400],
];

for (const [target, cases] of targets) {
  Deno.test(`fuzz ${target.name}: ${cases} mutated inputs are refused with one clean line or load what the oracle expects`, async () => {
    const s = await runCases(target, { cases, seed: 7, hangMs: 5000 });
    assert(s.crashes + s.hangs + s.mismatches === 0, describeFindings(s));
    assert(
      s.refused > 0 && s.loaded > 0,
      `${s.refused} refused, ${s.loaded} loaded: the mutations are not mixed`,
    );
  });
}
