import { strictEqual } from "node:assert/strict";
import { BertModel } from "../model/bert.ts";
import { bertConfigFromJson } from "../model/bert_config.ts";
import { saveEncoder } from "../model/registry.ts";
import { defaultPooler } from "./default_pooler.ts";

Deno.test("`defaultPooler()` reads a trained checkpoint's own pooler, else goes by the SimCSE release name, else avg", async () => {
  const root = await Deno.makeTempDir();
  const model = BertModel.init(
    bertConfigFromJson({
      vocab_size: 20,
      hidden_size: 8,
      num_hidden_layers: 1,
      num_attention_heads: 2,
      intermediate_size: 16,
      max_position_embeddings: 8,
    }, "t"),
    1,
  );
  await saveEncoder(model, `${root}/mine`, { metadata: { simcse_pooler: "avg_first_last" } });
  await saveEncoder(model, `${root}/unsup-simcse-bert-base-uncased`, {});
  model.dispose();
  strictEqual(await defaultPooler(`${root}/mine`), "avg_first_last");
  strictEqual(await defaultPooler(`${root}/unsup-simcse-bert-base-uncased/`), "cls_before_pooler");
  strictEqual(await defaultPooler(`${root}/sup-simcse-roberta-large`), "cls");
  strictEqual(await defaultPooler("testdata/bert/tiny-safetensors"), "avg");
  await Deno.remove(root, { recursive: true });
});
