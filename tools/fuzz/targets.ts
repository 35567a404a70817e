/**
 * Every fuzz target, in report order: the checkpoint readers, the text readers, then the surfaces of
 * issue 19 (`.simidx` with an HNSW graph, token ids of model folders, numeric CLI flags).
 *
 * @example
 * ```ts
 * import { TARGETS } from "./targets.ts";
 * console.log(TARGETS.map((t) => t.name));
 * ```
 * @module
 */

import {
  safetensorsTarget,
  torchLegacyTarget,
  torchPickleTarget,
  torchZipTarget,
} from "./checkpoint_targets.ts";
import type { FuzzTarget } from "./harness.ts";
import {
  bertTokenizerIdsTarget,
  cliFlagsTarget,
  gpt2VocabIdsTarget,
  simidxTarget,
} from "./surface_targets.ts";
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

/** All targets. */
export const TARGETS: readonly FuzzTarget[] = [
  safetensorsTarget,
  torchZipTarget,
  torchPickleTarget,
  torchLegacyTarget,
  configTarget,
  vocabTarget,
  tokenizerJsonTarget,
  stsTarget,
  stsbTarget,
  sickTarget,
  chineseTarget,
  trainTxtTarget,
  trainCsvTarget,
  trainTsvTarget,
  trainCnTarget,
  simidxTarget,
  bertTokenizerIdsTarget,
  gpt2VocabIdsTarget,
  cliFlagsTarget,
];

/** The target called `name` (an Error listing the names otherwise). */
export function targetNamed(name: string): FuzzTarget {
  const t = TARGETS.find((x) => x.name === name);
  if (!t) throw new Error(`no fuzz target "${name}"; targets: ${TARGETS.map((x) => x.name).join(", ")}`);
  return t;
}
