import { deepEqual, equal, throws } from "node:assert/strict";
import { InputError } from "../../lib/runtime/errors.ts";
import { CPU_RANDOM_GPT2, GPT2_POOLERS, preset, presetOf } from "./config.ts";
import { parsePoolerList } from "./run.ts";

Deno.test("`preset()` gives the seed's GPT-2 recipe for gpt2 and gpt2-medium (lr 3e-5, batch 64, length 32, 1 epoch, eval every 125, no MLP head)", () => {
  for (const name of ["gpt2", "gpt2-medium"] as const) {
    for (const pooler of GPT2_POOLERS) {
      const c = preset(name, pooler, "D");
      equal(c.modelDir, `D/models/${name}`, "model folders follow the data folder");
      equal(c.trainFile, "D/wiki/wiki1m_for_simcse.txt");
      deepEqual(
        [c.learningRate, c.batchSize, c.maxSeqLength, c.numTrainEpochs, c.evalSteps, c.temp],
        [3e-5, 64, 32, 1, 125, 0.05],
      );
      equal(c.poolerType, pooler);
      equal(c.mlpOnlyTrain, false);
      equal(c.dropout, undefined); // GPT-2's own 0.1
      equal(c.experiment, "gpt2-wavg");
      equal(presetOf(c.preset, pooler), name);
      equal(c.metricForBestModel, "stsb_spearman");
    }
  }
});

Deno.test("`preset('cpu')` trains the generated random GPT-2 on the wiki sample", () => {
  const c = preset("cpu", "wavg", "D");
  equal(c.modelDir, CPU_RANDOM_GPT2.dir);
  equal(c.trainFile, "D/wiki/wiki1m_for_simcse.head.txt");
  equal(c.outputDir, "runs/gpt2-wavg-cpu-wavg");
  equal(c.randomInit, undefined);
});

Deno.test("`parsePoolerList()` accepts the decoder poolers only, in order, without repeats", () => {
  deepEqual(parsePoolerList("wavg, avg,wavg"), ["wavg", "avg"]);
  throws(() => parsePoolerList("cls"), (e) => e instanceof InputError && /cls/.test(e.message));
  throws(() => parsePoolerList(" , "), InputError);
});
