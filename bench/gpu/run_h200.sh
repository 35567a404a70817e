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
# With --diagnose it instead looks for where our training step's time goes on that GPU: BERT-base fp32
# (under --cpu-prof, summarised by bench/gpu/cpuprof_summary.py) and fp16, then BERT-mini fp32, each
# with gpu_bench.ts's --phases, --submit-batch and --profile, and the matmul bench
# (bench/matmul_bench.ts --backend webgpu) at 4096 rows, 20 products per read-back; summary in diagnose.md.
# Usage: bench/gpu/run_h200.sh [--quick] [--diagnose]   (OUT defaults to results/bench/gpu-<time>;
# --quick = tiny config, 1 step: to try the script on lavapipe before a GPU run). BUDGET (seconds,
# default 420) bounds the whole run: each measurement gets at most RUN_LIMIT seconds (default 150) and
# what is left of the budget, less 15 s kept for the summary, so the records and the summary come back
# inside the device tool's limit. Carry .gl/ (Debian's Vulkan loader and glvnd, see docs/GPU.md) where
# the machine's image has no libvulkan: the script unpacks it. The run of 2026-12-04, through the device
# tool with `carry: ["bench/gpu/carry", ".gl"]`:
#   BUDGET=395 RUN_LIMIT=200 OUT=/tmp/d bash bench/gpu/run_h200.sh --diagnose; tar czf $OUT/d.tgz -C /tmp d
set -uo pipefail
cd "$(dirname "$0")/../.."
quick=0; diagnose=0
for a in "$@"; do case "$a" in --quick) quick=1 ;; --diagnose) diagnose=1 ;; *) echo "unknown option $a" >&2; exit 2 ;; esac; done
OUT=${OUT:-results/bench/gpu-$(date -u +%Y%m%d-%H%M%S)}
mkdir -p "$OUT"
carry=bench/gpu/carry
export XDG_RUNTIME_DIR=${XDG_RUNTIME_DIR:-$(mktemp -d)}
log() { echo "[gpu-bench] $*" >&2; }
BUDGET=${BUDGET:-420}; RUN_LIMIT=${RUN_LIMIT:-150}; t_start=$SECONDS
# Seconds the next measurement may take (0: none left).
limit() {
  local left=$((BUDGET - (SECONDS - t_start) - 15))
  [ $left -gt $RUN_LIMIT ] && left=$RUN_LIMIT
  [ $left -lt 10 ] && left=0
  echo $left
}

# 0. A Vulkan loader when the image has none (the NVIDIA driver's ICD is mounted under /usr/local/nvidia)
if ! ldconfig -p 2>/dev/null | grep -q libvulkan.so.1 && ls .gl/*.deb >/dev/null 2>&1; then
  for f in .gl/*.deb; do dpkg -x "$f" /; done
  ldconfig
  log "unpacked the carried Vulkan loader: $(ldconfig -p | grep -c libvulkan) libvulkan entries"
fi
if [ -z "${VK_DRIVER_FILES:-}" ] && [ -f /usr/local/nvidia/share/vulkan/icd.d/nvidia_icd.json ] &&
  ! ls /usr/share/vulkan/icd.d/nvidia* /etc/vulkan/icd.d/nvidia* >/dev/null 2>&1; then
  export VK_DRIVER_FILES=/usr/local/nvidia/share/vulkan/icd.d/nvidia_icd.json
  export __EGL_VENDOR_LIBRARY_FILENAMES=/usr/local/nvidia/share/glvnd/egl_vendor.d/10_nvidia.json
  log "VK_DRIVER_FILES=$VK_DRIVER_FILES"
fi

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
  echo "== kernel $(uname -r), $(nproc) cores"
  echo "== nvidia-smi"; nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv 2>&1 || true
  echo "== Vulkan ICD files"; ls -l /usr/share/vulkan/icd.d /etc/vulkan/icd.d /usr/local/share/vulkan/icd.d \
    /usr/local/nvidia/share/vulkan/icd.d 2>&1 || true
  echo "== VK_DRIVER_FILES=${VK_DRIVER_FILES:-}"
  echo "== Vulkan loader"; ldconfig -p 2>/dev/null | grep -i vulkan || echo "(no libvulkan in ldconfig)"
  echo "== python/torch"; python3 -c 'import torch; print(torch.__version__, torch.version.cuda, torch.cuda.is_available(), torch.cuda.get_device_name(0) if torch.cuda.is_available() else "")' 2>&1 || true
} | tee "$OUT/machine.txt" >&2
timeout 60 "$DENO" run -A "$carry/gpu_bench.js" --adapter-info 2>&1 | tee "$OUT/adapter.json" >&2
have_adapter=0
grep -q '"adapter":{' "$OUT/adapter.json" && have_adapter=1

if [ $diagnose -eq 1 ]; then
  diag="$OUT/diagnose.jsonl"
  : > "$diag"
  if [ $have_adapter -eq 1 ]; then
    runs="base:fp32 base:fp16 mini:fp32"
    [ $quick -eq 1 ] && runs="tiny:fp32"
    for cp in $runs; do
      c=${cp%:*}; p=${cp#*:}
      t=$(limit); [ "$t" -eq 0 ] && { log "budget spent: $c $p not run"; continue; }
      prof=(); [ "$cp" = base:fp32 ] || [ "$cp" = tiny:fp32 ] && prof=(--cpu-prof --cpu-prof-dir="$OUT/prof")
      log "diagnose: $c $p (at most ${t}s)"
      timeout "$t" "$DENO" run -A "${prof[@]}" "$carry/gpu_bench.js" --config "$c" --precision "$p" --steps 4 --warmup 2 \
        --encode-batches 2 --phases --submit-batch 15,256,4096 --profile >> "$diag" 2> "$OUT/diag-$c-$p.log" ||
        log "$c $p failed: $(tail -n 2 "$OUT/diag-$c-$p.log")"
      if [ ${#prof[@]} -gt 0 ] && ls "$OUT"/prof/*.cpuprofile >/dev/null 2>&1; then
        skip=$(python3 -c 'import json,sys; r=[json.loads(l) for l in open(sys.argv[1]) if l.startswith("{")]; print(r[-1]["warm_at_s"] if r else 0)' "$diag")
        python3 bench/gpu/cpuprof_summary.py "$OUT"/prof/*.cpuprofile --skip-s "$skip" > "$OUT/cpuprof-$c-$p.txt" 2>&1
        rm -rf "$OUT/prof"
      fi
      if [ "$cp" = base:fp16 ] || [ $quick -eq 1 ]; then
        t=$(limit); [ "$t" -eq 0 ] && continue
        tokens=4096 reps=20; [ $quick -eq 1 ] && tokens=32 reps=2
        log "diagnose: matmul bench, $tokens rows (at most ${t}s)"
        timeout "$t" "$DENO" run -A "$carry/matmul_bench.js" --backend webgpu --tokens $tokens --rounds 3 --reps $reps \
          --json "$OUT/matmul.json" > "$OUT/matmul.txt" 2>&1 || log "matmul bench failed: $(tail -n 2 "$OUT/matmul.txt")"
      fi
    done
  else
    log "no WebGPU adapter: nothing to diagnose (see $OUT/machine.txt)"
  fi
  python3 - "$diag" <<'PY' | tee "$OUT/diagnose.md"
import json, sys
for r in (json.loads(l) for l in open(sys.argv[1]) if l.startswith("{")):
    p = r.get("profile", {})
    c = p.get("counts", {})
    print(f"## {r['config']} {r['precision']}: {r['steps_per_s']:.3f} steps/s ({r['median_step_s'] * 1e3:.0f} ms), "
          f"CPU {r['cpu_s_per_step']:.2f} s per step, encode {r['encode_sent_per_s']:.0f} sentences/s")
    ph = r.get("phases", {})
    print(f"- forward {ph.get('forward_s', 0) * 1e3:.0f} ms, loss + gradients {ph.get('loss_grads_s', 0) * 1e3:.0f} ms")
    print(f"- step s by WEBGPU_DEFERRED_SUBMIT_BATCH_SIZE: {r.get('submit_batch_step_s')}")
    print(f"- one step: {c.get('dispatches')} dispatches, {c.get('submits')} submits, last recorded at "
          f"{c.get('issue_ms', 0):.0f} ms of {c.get('wall_ms', 0):.0f} ms")
    print(f"- profiled step: {p.get('wall_ms', 0):.0f} ms wall, {p.get('kernel_ms', 0):.0f} ms GPU in "
          f"{p.get('kernels')} kernels ({p.get('dispatches')} timed programs)")
    print("- kernels (name, GPU ms, calls): " + "; ".join(f"{n} {ms:.1f} x{k}" for n, ms, k in p.get("top", [])[:12]))
    print("- programs: " + "; ".join(f"{n} {ms:.1f} x{k}" for n, ms, k in p.get("programs", [])[:12]))
    print()
PY
  log "records in $OUT"
  exit 0
fi
if [ $quick -eq 1 ]; then configs="tiny"; steps=1; warmup=1; else configs="mini base"; steps=10; warmup=3; fi
rec="$OUT/records.jsonl"
: > "$rec"
have_cuda=0
python3 -c 'import torch,sys; sys.exit(0 if torch.cuda.is_available() else 1)' 2>/dev/null && have_cuda=1
[ $have_adapter -eq 1 ] || log "no WebGPU adapter: our GPU figures are pending (see $OUT/machine.txt)"
[ $have_cuda -eq 1 ] || log "no CUDA in this Python: no PyTorch GPU figures"
# 3. Per config: ours on webgpu (fp32, fp16), each in a fresh process, then PyTorch on CUDA (fp32, autocast fp16)
for c in $configs; do
  if [ $have_adapter -eq 1 ]; then
    for p in fp32 fp16; do
      t=$(limit); [ "$t" -eq 0 ] && { log "budget spent: ours $c $p not run"; continue; }
      log "ours: $c $p (at most ${t}s)"
      timeout "$t" "$DENO" run -A "$carry/gpu_bench.js" --config "$c" --precision "$p" --steps $steps --warmup $warmup \
        >> "$rec" 2> "$OUT/ours-$c-$p.log" || log "ours $c $p failed: $(tail -n 2 "$OUT/ours-$c-$p.log")"
    done
  fi
  if [ $have_cuda -eq 1 ]; then
    for amp in "" "--autocast"; do
      t=$(limit); [ "$t" -eq 0 ] && { log "budget spent: PyTorch $c ${amp:-fp32} not run"; continue; }
      log "PyTorch: $c ${amp:-fp32} (at most ${t}s)"
      timeout "$t" python3 reference/bench_torch.py --config "$c" --device cuda $amp --steps $steps --warmup $warmup \
        --encode-batches 5 2> "$OUT/torch-$c${amp:+-fp16}.log" | sed 's/^{/{"side": "torch", /' >> "$rec" ||
        log "PyTorch $c ${amp:-fp32} failed: $(tail -n 2 "$OUT/torch-$c${amp:+-fp16}.log")"
    done
  fi
done

# 5. Summary with the targets
python3 - "$rec" <<'PY' | tee "$OUT/summary.md"
import json, statistics, sys
rows = [json.loads(l) for l in open(sys.argv[1]) if l.strip().startswith("{")]
def sps(r):
    return r.get("steps_per_s") or 1 / statistics.median(r["train_s"])
def enc(r):
    if r.get("encode_sent_per_s"):
        return r["encode_sent_per_s"]
    return r["sentences_per_encode_batch"] / statistics.median(r["encode_s"]) if r.get("encode_s") else 0
print("| config | side | precision | steps/s | encode sentences/s | peak GPU GB |")
print("|---|---|---|---|---|---|")
by = {}
for r in rows:
    prec = r.get("precision") or (r.get("autocast") or "fp32")
    by[(r["config"], r["side"], prec)] = r
    print(f"| {r['config']} | {r['side']} | {prec} | {sps(r):.3f} | {enc(r):.0f} | "
          f"{r.get('peak_gpu_bytes', 0) / 2**30:.3f} |")
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
