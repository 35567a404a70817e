import { ok, strictEqual } from "node:assert/strict";
import { poolerProblem, POOLERS } from "./pooling.ts";
import { InputError } from "../runtime/errors.ts";

Deno.test("`poolerProblem()` refuses cls without a pooler layer and suggests a pooler valid for the architecture", () => {
  const bertNoPooler = poolerProblem("cls", { kind: "bert", hasPooler: false }, "m");
  ok(bertNoPooler instanceof InputError);
  ok(bertNoPooler.message.startsWith("m: pooler 'cls' needs pooler.dense weights"), bertNoPooler.message);
  ok(bertNoPooler.message.includes("--pooler cls_before_pooler"), bertNoPooler.message);
  const gpt2 = poolerProblem("cls", { kind: "gpt2", hasPooler: false }, "g");
  ok(gpt2 instanceof InputError);
  ok(gpt2.message.includes("--pooler wavg") && !gpt2.message.includes("cls_before_pooler"), gpt2.message);
  for (const p of POOLERS) strictEqual(poolerProblem(p, { kind: "bert", hasPooler: true }, "b"), null, p);
  for (const p of POOLERS.filter((p) => p !== "cls")) {
    strictEqual(poolerProblem(p, { kind: "gpt2", hasPooler: false }, "g"), null, p);
  }
});
