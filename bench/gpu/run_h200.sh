#!/usr/bin/env bash
# The GPU benchmark for a lent GPU machine (an H200: no network, no Deno; see docs/GPU.md). Prepare
# with bench/gpu/pack.sh and carry bench/gpu/carry. It
#   1. unpacks the carried Deno (xz, or Python's lzma when xz is missing),
#   2. prints what the machine offers WebGPU: nvidia-smi, the adapter info from navigator.gpu, or when
#      there is no adapter, the Vulkan ICD files and the Vulkan loader libraries it found,
#   3. times our SimCSE training step for BERT mini and base in fp32 and fp16 on --backend webgpu
#      (each in a fresh process, so GPU memory peaks do not mix), and
#   4. the same step in PyTorch on CUDA: fp32, and torch.autocast fp16 with a GradScaler
#      (reference/bench_torch.py --device cuda [--autocast]),
#   5. writes every record to $OUT (JSON lines) and a summary table with the issue's targets.
# Usage: bench/gpu/run_h200.sh [--quick]   (OUT defaults to results/bench/gpu-<time>; --quick = tiny
# config, 1 step: to try the script on lavapipe before a GPU run)
set -uo pipefail
cd "$(dirname "$0")/../.."
quick=0; [ "${1:-}" = "--quick" ] && quick=1
OUT=${OUT:-results/bench/gpu-$(date -u +%Y%m%d-%H%M%S)}
mkdir -p "$OUT"
carry=bench/gpu/carry
export XDG_RUNTIME_DIR=${XDG_RUNTIME_DIR:-$(mktemp -d)}
log() { echo "[gpu-bench] $*" >&2; }

# 1. Deno
DENO=$(command -v deno || true)
if [ -z "$DENO" ]; then
  DENO=$(mktemp -d)/deno
  if command -v xz >/dev/null; then xz -dc "$carry/deno.xz" > "$DENO"
  else python3 -c 'import lzma,sys; sys.stdout.buffer.write(lzma.open(sys.argv[1]).read())' "$carry/deno.xz" > "$DENO"; fi
  chmod +x "$DENO"
fi
"$DENO" --version | head -n 1 | tee "$OUT/deno_version.txt" >&2

# 2. What the machine offers
{
  echo "== nvidia-smi"; nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv 2>&1 || true
  echo "== Vulkan ICD files"; ls -l /usr/share/vulkan/icd.d /etc/vulkan/icd.d /usr/local/share/vulkan/icd.d 2>&1 || true
  echo "== Vulkan loader"; ldconfig -p 2>/dev/null | grep -i vulkan || echo "(no libvulkan in ldconfig)"
  echo "== python/torch"; python3 -c 'import torch; print(torch.__version__, torch.version.cuda, torch.cuda.is_available(), torch.cuda.get_device_name(0) if torch.cuda.is_available() else "")' 2>&1 || true
} | tee "$OUT/machine.txt" >&2
"$DENO" run -A "$carry/gpu_bench.js" --adapter-info 2>&1 | tee "$OUT/adapter.json" >&2
have_adapter=0
grep -q '"adapter":{' "$OUT/adapter.json" && have_adapter=1

if [ $quick -eq 1 ]; then configs="tiny"; steps=1; warmup=1; else configs="mini base"; steps=10; warmup=3; fi
rec="$OUT/records.jsonl"
: > "$rec"
# 3. Ours on webgpu
if [ $have_adapter -eq 1 ]; then
  for c in $configs; do
    for p in fp32 fp16; do
      log "ours: $c $p"
      timeout 900 "$DENO" run -A "$carry/gpu_bench.js" --config "$c" --precision "$p" --steps $steps --warmup $warmup \
        >> "$rec" 2> "$OUT/ours-$c-$p.log" || log "ours $c $p failed: $(tail -n 2 "$OUT/ours-$c-$p.log")"
    done
  done
else
  log "no WebGPU adapter: our GPU figures are pending (see $OUT/machine.txt)"
fi
# 4. PyTorch on CUDA
if python3 -c 'import torch,sys; sys.exit(0 if torch.cuda.is_available() else 1)' 2>/dev/null; then
  for c in $configs; do
    for amp in "" "--autocast"; do
      log "PyTorch: $c ${amp:-fp32}"
      timeout 900 python3 reference/bench_torch.py --config "$c" --device cuda $amp --steps $steps --warmup $warmup \
        --encode-batches 5 2> "$OUT/torch-$c${amp:+-fp16}.log" | sed 's/^{/{"side": "torch", /' >> "$rec" ||
        log "PyTorch $c ${amp:-fp32} failed"
    done
  done
else
  log "no CUDA in this Python: no PyTorch GPU figures"
fi

# 5. Summary with the targets
python3 - "$rec" <<'PY' | tee "$OUT/summary.md"
import json, statistics, sys
rows = [json.loads(l) for l in open(sys.argv[1]) if l.strip().startswith("{")]
def sps(r):
    return r.get("steps_per_s") or 1 / statistics.median(r["train_s"])
print("| config | side | precision | steps/s | peak GPU GB |")
print("|---|---|---|---|---|")
by = {}
for r in rows:
    prec = r.get("precision") or ("fp16" if r.get("autocast") else "fp32")
    by[(r["config"], r["side"], prec)] = r
    print(f"| {r['config']} | {r['side']} | {prec} | {sps(r):.3f} | {r.get('peak_gpu_bytes', 0) / 2**30:.3f} |")
print()
for c in sorted({k[0] for k in by}):
    o32, o16, t32 = by.get((c, "ours", "fp32")), by.get((c, "ours", "fp16")), by.get((c, "torch", "fp32"))
    if o32 and o16:
        print(f"{c}: FP16/FP32 speed x{sps(o16) / sps(o32):.2f} (target >= 1.3); "
              f"memory x{o16['peak_gpu_bytes'] / max(1, o32['peak_gpu_bytes']):.2f} (target <= 0.7)")
    if o32 and t32:
        print(f"{c}: ours FP32 / PyTorch FP32 x{sps(o32) / sps(t32):.2f} (target >= 0.5)")
    if c == "base" and o16:
        print(f"base FP16 {sps(o16):.2f} it/s (target >= 8.76, the seed's RTX 3090)")
PY
log "records in $OUT"
