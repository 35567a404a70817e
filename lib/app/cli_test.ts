import { deepStrictEqual, throws } from "node:assert/strict";
import { parseFlags } from "./cli.ts";
import { InputError } from "../runtime/errors.ts";

const OPTIONS = {
  model: { type: "string" },
  "max-steps": { type: "string" },
  fp16: { type: "boolean" },
} as const;
const USAGE = "usage: demo [--model DIR] [--max-steps N] [--fp16]";

/** The first line of the error `parseFlags` throws for `args`; the usage must follow it. */
function errorLine(args: string[]): string {
  let message = "";
  throws(() => parseFlags(args, OPTIONS, USAGE), (e) => {
    message = (e as Error).message;
    return e instanceof InputError;
  });
  const [line, ...rest] = message.split("\n");
  deepStrictEqual(rest.join("\n"), USAGE, `the usage follows the line: ${message}`);
  return line;
}

Deno.test("parseFlags: each mistake is one line naming the flag, then the usage", () => {
  // Node's own texts are several lines, or advice about `--`; these are the lines a user reads instead.
  deepStrictEqual(errorLine(["--model"]), "--model needs a value");
  deepStrictEqual(errorLine(["--fp16=yes"]), "--fp16 takes no value");
  deepStrictEqual(
    errorLine(["--model", "--fp16"]),
    "--model needs a value, not another flag (write --model=VALUE if the value starts with '-')",
  );
  deepStrictEqual(errorLine(["-x"]), "unknown flag -x");
  deepStrictEqual(errorLine(["--bogus", "1"]), "unknown flag --bogus");
  deepStrictEqual(errorLine(["extra"]), "unexpected argument 'extra'");
});

Deno.test("parseFlags: an unknown flag names the accepted one it is closest to", () => {
  deepStrictEqual(errorLine(["--modle", "m"]), "unknown flag --modle (did you mean --model?)"); // two edits
  deepStrictEqual(errorLine(["--max-step", "3"]), "unknown flag --max-step (did you mean --max-steps?)");
  deepStrictEqual(errorLine(["--fp61"]), "unknown flag --fp61 (did you mean --fp16?)");
  deepStrictEqual(errorLine(["--hepl"]), "unknown flag --hepl (did you mean --help?)");
  // not within two edits, but the start of exactly one flag
  deepStrictEqual(errorLine(["--max", "3"]), "unknown flag --max (did you mean --max-steps?)");
  // three edits away and the start of none: no guess
  deepStrictEqual(errorLine(["--steps", "3"]), "unknown flag --steps");
});

Deno.test("parseFlags: values that look like flags pass in the --flag=value form", () => {
  const { values } = parseFlags(["--model=-odd-dir", "--max-steps=-3"], OPTIONS, USAGE);
  deepStrictEqual(values.model, "-odd-dir");
  deepStrictEqual(values["max-steps"], "-3");
});
