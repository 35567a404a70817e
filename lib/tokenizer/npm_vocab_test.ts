import { deepStrictEqual as assertEquals } from "node:assert/strict";
import { createHash } from "node:crypto";
import { bertBaseUncasedVocabText, sentencePieceStyleToWordPiece } from "./npm_vocab.ts";

Deno.test("`sentencePieceStyleToWordPiece()` maps ▁word → word, piece → ##piece, keeps [..] specials", () => {
  assertEquals(
    sentencePieceStyleToWordPiece([
      "[PAD]",
      "\u2581",
      "[unused1]",
      "[UNK]",
      "\u2581a",
      "a",
      "[",
      "\u2581[",
      "##",
    ]),
    ["[PAD]", "[unused0]", "[unused1]", "[UNK]", "a", "##a", "##[", "[", "####"],
  );
});

Deno.test("`bertBaseUncasedVocabText()` rebuilds the public vocab.txt (md5 64800d5d…, known ids)", async () => {
  const text = await bertBaseUncasedVocabText();
  // md5 and size of bert-base-uncased/vocab.txt as published (ECOSYSTEM.md §2).
  assertEquals(createHash("md5").update(text).digest("hex"), "64800d5d8528ce344256daf115d4965e");
  assertEquals(new TextEncoder().encode(text).length, 231508);
  const lines = text.split("\n");
  // Ids from the published file: [unused0]=1, [UNK]=100, [CLS]=101, a=1037, ##a=2050, guitar=2858.
  assertEquals([lines[1], lines[100], lines[101], lines[1037], lines[2050], lines[2858]], [
    "[unused0]",
    "[UNK]",
    "[CLS]",
    "a",
    "##a",
    "guitar",
  ]);
});
