import { deepStrictEqual } from "node:assert/strict";
import { tf } from "../runtime/tf.ts";
import { useBackend } from "../kernels/backend.ts";
import { BertModel } from "./bert.ts";
import { bertConfigFromJson } from "./bert_config.ts";
import { loadBert, saveBert } from "./bert_checkpoint.ts";
import { assertClose } from "../../testing/fixtures.ts";
import { PYTHON, reportSkip, requireTools } from "../../testing/tools.ts";

const PY = PYTHON;
const torchSkip = await requireTools("numpy", "torch");
reportSkip("the PyTorch check of saved checkpoints", torchSkip);
const haveTorch = torchSkip === null;

const CFG = bertConfigFromJson({
  vocab_size: 40,
  hidden_size: 16,
  num_hidden_layers: 2,
  num_attention_heads: 2,
  intermediate_size: 24,
  max_position_embeddings: 16,
}, "test");
const IDS = [[2, 5, 7, 9, 3], [2, 11, 3, 0, 0]];
const MASK = [[1, 1, 1, 1, 1], [1, 1, 1, 0, 0]];

function forward(m: BertModel) {
  return tf.tidy(() => {
    const out = m.forward({
      inputIds: tf.tensor2d(IDS, undefined, "int32"),
      attentionMask: tf.tensor2d(MASK, undefined, "int32"),
    });
    return { last: out.lastHiddenState.dataSync(), pooled: out.pooledOutput?.dataSync() };
  });
}

Deno.test("`saveBert()` then `loadBert()` round-trips every parameter exactly", async () => {
  await useBackend("cpu");
  const dir = await Deno.makeTempDir();
  const m = BertModel.init(CFG, 7);
  await saveBert(m, dir);
  const { model } = await loadBert(dir);
  for (const [n, v] of m.params) deepStrictEqual(model.p(n).dataSync(), v.dataSync(), n);
  m.dispose();
  model.dispose();
  await Deno.remove(dir, { recursive: true });
});

Deno.test({
  name:
    "a checkpoint saved by `saveBert()` loads strictly into an HF-style PyTorch BertModel with the same outputs",
  ignore: !haveTorch,
  fn: async () => {
    await useBackend("cpu");
    const dir = await Deno.makeTempDir();
    const m = BertModel.init(CFG, 11);
    await saveBert(m, dir);
    const want = forward(m);
    const p = new Deno.Command(PY, {
      args: [new URL("../../reference/check_saved_bert.py", import.meta.url).pathname, dir],
      stdin: "piped",
      stdout: "piped",
      stderr: "piped",
    }).spawn();
    const w = p.stdin.getWriter();
    await w.write(new TextEncoder().encode(JSON.stringify({ input_ids: IDS, attention_mask: MASK })));
    await w.close();
    const out = await p.output();
    if (!out.success) throw new Error(new TextDecoder().decode(out.stderr));
    const got = JSON.parse(new TextDecoder().decode(out.stdout));
    assertClose(got.last_hidden_state, want.last, 1e-4, "last_hidden_state (PyTorch on our checkpoint)");
    assertClose(got.pooler_output, want.pooled!, 1e-4, "pooler_output");
    m.dispose();
    await Deno.remove(dir, { recursive: true });
  },
});
