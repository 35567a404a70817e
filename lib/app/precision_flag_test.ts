import { deepStrictEqual, strictEqual, throws } from "node:assert/strict";
import { InputError } from "../runtime/errors.ts";
import { precisionFlag, precisionSets } from "./precision_flag.ts";

Deno.test("`precisionFlag()` takes --precision, treats --fp16 as its alias, and refuses a contradiction", () => {
  strictEqual(precisionFlag(undefined, false), "fp32");
  strictEqual(precisionFlag(undefined, true), "fp16");
  strictEqual(precisionFlag("bf16", false), "bf16");
  strictEqual(precisionFlag("fp16", true), "fp16");
  throws(() => precisionFlag("bf16", true), InputError);
  throws(() => precisionFlag("half", false), InputError);
});

Deno.test("`precisionSets()` rewrites fp16=true|false and validates precision=", () => {
  deepStrictEqual(precisionSets(["fp16=true", "lr=1"], undefined), ["precision=fp16", "lr=1"]);
  deepStrictEqual(precisionSets(["fp16=false"], "bf16"), ["precision=bf16", "precision=fp32"]);
  deepStrictEqual(precisionSets(["precision=BF16"], "fp32"), ["precision=bf16"]);
  throws(() => precisionSets(["precision=fp8"], undefined), InputError);
  throws(() => precisionSets(["fp16=yes"], undefined), InputError);
});
