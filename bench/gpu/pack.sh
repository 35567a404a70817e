#!/usr/bin/env bash
# Builds what bench/gpu/run_h200.sh needs on a GPU machine that has no network and no Deno, into
# bench/gpu/carry/ (git-ignored; pass it as the run's `carry` path, 64 MiB at most):
#   deno.xz        this machine's deno binary, xz-compressed (about 31 MB for 2.9.6)
#   gpu_bench.js   bench/gpu/gpu_bench.ts bundled with its npm dependencies (`deno bundle`), so no
#                  node_modules travel
#   matmul_bench.js bench/matmul_bench.ts, bundled the same way (for run_h200.sh --diagnose)
# and, into .gl/ (git-ignored; carry it too), Debian's Vulkan loader and glvnd packages, which the H200
# machine's image lacks (docs/GPU.md): `apt-get download`, skipped where apt cannot reach Debian.
# The PyTorch side (reference/bench_torch.py and the reference models) travels with the working tree.
set -euo pipefail
cd "$(dirname "$0")/../.."
out=bench/gpu/carry
mkdir -p "$out"
deno bundle --platform deno -o "$out/gpu_bench.js" bench/gpu/gpu_bench.ts
deno bundle --platform deno -o "$out/matmul_bench.js" bench/matmul_bench.ts
if [ ! -s "$out/deno.xz" ] || [ "$(command -v deno)" -nt "$out/deno.xz" ]; then
  xz -9 -T2 -c "$(command -v deno)" > "$out/deno.xz.tmp" && mv "$out/deno.xz.tmp" "$out/deno.xz"
fi
if ! ls .gl/libvulkan1_*.deb >/dev/null 2>&1; then
  mkdir -p .gl
  (cd .gl && apt-get download libvulkan1 libegl1 libglvnd0 libopengl0 libgl1 libglx0 libgles2) ||
    echo "pack: no Vulkan loader packages in .gl/ (apt-get download failed); a GPU image with libvulkan needs none" >&2
fi
du -ch "$out"/* .gl 2>/dev/null | tail -n 1
