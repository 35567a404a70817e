import { strictEqual } from "node:assert/strict";
import { portableCommand } from "./tables.ts";

Deno.test("`portableCommand()` drops the recording machine's paths from a bench command", () => {
  strictEqual(
    portableCommand(
      "deno run -A bench/fp16_bench.ts --backend wasm --train-steps 0 --data-dir /work/shared/data",
    ),
    "deno run -A bench/fp16_bench.ts --backend wasm --train-steps 0 --data-dir $SIMCSE_DATA_DIR",
  );
  strictEqual(
    portableCommand("x --data-dir=/a/b --out /tmp/r/bench/ --n 3"),
    "x --data-dir=$SIMCSE_DATA_DIR --out bench --n 3",
  );
  strictEqual(
    portableCommand("x --data-dir data --out results/bench"),
    "x --data-dir data --out results/bench",
  );
});
