import { deepStrictEqual as assertEquals, ok as assert, throws } from "node:assert/strict";
import { InputError } from "../runtime/errors.ts";
import { bertConfigFromJson } from "./bert_config.ts";

const BASE = {
  vocab_size: 100,
  hidden_size: 32,
  num_hidden_layers: 2,
  num_attention_heads: 4,
  intermediate_size: 64,
};

function refuses(json: Record<string, unknown>, fragment: string): void {
  throws(() => bertConfigFromJson(json, "config.json"), (e: Error) => {
    assert(e instanceof InputError && e.message.includes(fragment), e.message);
    return true;
  });
}

Deno.test("`bertConfigFromJson()` fills Hugging Face's BertConfig defaults", () => {
  const c = bertConfigFromJson(BASE, "config.json");
  assertEquals(
    [c.hiddenAct, c.maxPositionEmbeddings, c.typeVocabSize, c.layerNormEps, c.initializerRange, c.padTokenId],
    ["gelu", 512, 2, 1e-12, 0.02, 0],
  );
});

Deno.test("`bertConfigFromJson()` refuses values that would silently give wrong numbers or huge allocations", () => {
  refuses({ ...BASE, layer_norm_eps: -1 }, "config.json [layer_norm_eps]: layer_norm_eps must be positive");
  refuses({ ...BASE, layer_norm_eps: 0 }, "[layer_norm_eps]");
  refuses({ ...BASE, pad_token_id: -1 }, "[pad_token_id]: pad_token_id -1 is not a token id (0..99)");
  refuses({ ...BASE, pad_token_id: 100 }, "[pad_token_id]");
  refuses({ ...BASE, pad_token_id: 1.5 }, "[pad_token_id]");
  refuses({ ...BASE, initializer_range: -0.1 }, "[initializer_range]");
  refuses(
    { ...BASE, hidden_size: 2 ** 40, num_attention_heads: 1 },
    "[hidden_size]: 1099511627776 is implausibly large",
  );
  refuses({ ...BASE, vocab_size: 1e300 }, "[vocab_size]");
  refuses({
    ...BASE,
    num_hidden_layers: 1000,
    hidden_size: 8192,
    num_attention_heads: 64,
    intermediate_size: 32768,
  }, "parameters, more than");
  refuses(
    { ...BASE, model_type: "gpt2\n\u001b[2J" },
    'config.json [model_type]: model_type "gpt2\\n\\u001b[2J" is not a BERT model',
  );
});
