import { ok as assert } from "node:assert/strict";
import { describeFindings, type FuzzTarget, runCases } from "./harness.ts";
import {
  chineseTarget,
  configTarget,
  sickTarget,
  stsbTarget,
  stsTarget,
  tokenizerJsonTarget,
  trainCnTarget,
  trainCsvTarget,
  trainTsvTarget,
  trainTxtTarget,
  vocabTarget,
} from "./text_targets.ts";

const targets: [FuzzTarget, number][] = [
  [configTarget, 300],
  [vocabTarget, 300],
  [tokenizerJsonTarget, 200],
  [stsTarget, 300],
  [stsbTarget, 300],
  [sickTarget, 300],
  [chineseTarget, 300],
  [trainTxtTarget, 300],
  [trainCsvTarget, 300],
  [trainTsvTarget, 300],
  [trainCnTarget, 300],
];

for (const [target, cases] of targets) {
  Deno.test(`fuzz ${target.name}: ${cases} mutated files are refused with one clean line or load what the oracle expects`, async () => {
    const s = await runCases(target, { cases, seed: 7, hangMs: 3000 });
    assert(s.crashes + s.hangs + s.mismatches === 0, describeFindings(s));
    assert(
      s.refused > 0 && s.loaded > 0,
      `${s.refused} refused, ${s.loaded} loaded: the mutations are not mixed`,
    );
  });
}
