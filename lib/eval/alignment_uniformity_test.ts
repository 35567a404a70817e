/** Alignment and uniformity against numpy (testdata/eval/align_uniform.json, reference/make_align_uniform_fixture.py). */
import { ok, strictEqual, throws } from "node:assert/strict";
import { alignment, alignUniform, alignUniformData, uniformity } from "./alignment_uniformity.ts";
import { TESTDATA } from "../../testing/fixtures.ts";

interface Fixture {
  format: string;
  version: number;
  sts: {
    rows: [number, string, string][];
    vectors: Record<string, number[]>;
    positives: number;
    sentences: number;
    align: number;
    uniform: number;
  };
  matrices: { x: number[][]; y: number[][]; align: number; uniform: number; uniform_t1: number };
}
const fx: Fixture = JSON.parse(await Deno.readTextFile(`${TESTDATA}eval/align_uniform.json`));
strictEqual(fx.format, "simcse-align-uniform-fixture");

const close = (got: number, want: number, what: string) =>
  ok(Math.abs(got - want) <= 1e-9 * Math.max(1, Math.abs(want)), `${what}: ${got} vs numpy ${want}`);

Deno.test("`alignment()` and `uniformity()` equal numpy's Wang & Isola losses on random matrices", () => {
  const m = fx.matrices;
  close(alignment(m.x, m.y), m.align, "align");
  close(uniformity(m.x), m.uniform, "uniform t=2");
  close(uniformity(m.x, 1), m.uniform_t1, "uniform t=1");
  // hand-computed: orthogonal unit vectors are √2 apart; scaling does not matter (normalised first)
  strictEqual(alignment([[3, 0]], [[0, 0.5]]), 2);
  close(uniformity([[2, 0], [0, 1]]), -4, "log exp(-2·2)");
  throws(() => alignment([], []), /no positive pairs/);
  throws(() => uniformity([[1, 0]]), /at least 2/);
});

Deno.test("`alignUniform()` reads STS-B, takes pairs scored > 4 and each distinct sentence once, as numpy", async () => {
  const dir = await Deno.makeTempDir();
  const sts = `${dir}/senteval/STS/STSBenchmark`;
  await Deno.mkdir(sts, { recursive: true });
  const lines = fx.sts.rows.map(([score, a, b], i) =>
    ["main-captions", "MSRvid", "2012test", String(i).padStart(4, "0"), score.toFixed(4), a, b].join("\t")
  );
  await Deno.writeTextFile(`${sts}/sts-dev.csv`, lines.join("\n") + "\n");
  const calls: number[] = [];
  const embed = (sents: string[]) => {
    calls.push(sents.length);
    return Promise.resolve(sents.map((s) => new Float32Array(fx.sts.vectors[s])));
  };
  const r = await alignUniform(embed, dir, { checkCounts: false, batchSize: 8 });
  strictEqual(r.positives, fx.sts.positives);
  strictEqual(r.sentences, fx.sts.sentences);
  close(r.align, fx.sts.align, "align over pairs scored > 4");
  close(r.uniform, fx.sts.uniform, "uniform over distinct sentences");
  strictEqual(calls.reduce((a, b) => a + b, 0), fx.sts.sentences, "each sentence embedded once");
  ok(calls.every((n) => n <= 8), "batches of batchSize");
  // selection alone: a score of exactly 4 is not a positive
  const d = alignUniformData({ s1: ["a", "b", "a"], s2: ["b", "c", "c"], gold: [4, 4.01, 5] });
  strictEqual(d.positives.s1.join(), "b,a");
  strictEqual(d.sentences.join(), "a,b,c");
  await Deno.remove(dir, { recursive: true });
});
