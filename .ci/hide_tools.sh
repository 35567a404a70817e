#!/usr/bin/env bash
# Runs a command as on a machine with Node.js and Deno only, even where the optional tools are installed:
#   .ci/hide_tools.sh deno task test
# Hidden: Python with numpy/scipy/torch (SIMCSE_PYTHON becomes Debian's python3 without its packages, as
# on a machine where python3 exists but python3-numpy does not), jupyter, every C compiler, Chromium,
# OpenBLAS (SIMCSE_BLAS_LIB names a library that does not exist, so no other is tried), the C kernels
# already compiled in the cache (a fresh SIMCSE_CACHE_DIR) and the Vulkan drivers (WebGPU).
# PATH becomes one folder of links to every program on it except the hidden ones.
set -euo pipefail
[ $# -gt 0 ] || { echo "usage: $0 COMMAND [ARGS...]" >&2; exit 2; }

tmp="$(mktemp -d "${TMPDIR:-/tmp}/simcse-hidden.XXXXXX")"
trap 'rm -rf "$tmp"' EXIT
mkdir -p "$tmp/bin" "$tmp/cache"

hidden() { # is this program name one of the hidden tools?
  case "$1" in
    python | python[0-9]* | pip | pip[0-9]* | jupyter | jupyter-* | ipython* | \
      cc | c89 | c99 | c++ | cpp | gcc | gcc-* | g++ | g++-* | *-gcc | *-gcc-* | *-g++ | *-g++-* | \
      clang | clang-* | clang++* | tcc | \
      chromium | chromium-* | chrome | google-chrome* | headless_shell)
      return 0
      ;;
  esac
  return 1
}

IFS=: read -r -a dirs <<<"${PATH}"
for d in "${dirs[@]}"; do
  [ -d "$d" ] || continue
  for f in "$d"/*; do
    name="${f##*/}"
    [ -x "$f" ] && [ ! -d "$f" ] || continue
    [ -e "$tmp/bin/$name" ] && continue # the first on PATH wins, as for the shell
    hidden "$name" && continue
    ln -s "$f" "$tmp/bin/$name"
  done
done

# Python without site-packages: `import numpy` (and scipy, torch) fails, the interpreter still runs.
py="$(command -v /usr/bin/python3 || true)"
if [ -n "$py" ]; then
  printf '#!/bin/sh\nexec %s -S -E -s "$@"\n' "$py" >"$tmp/python3-bare"
  chmod +x "$tmp/python3-bare"
  export SIMCSE_PYTHON="$tmp/python3-bare"
else
  export SIMCSE_PYTHON="$tmp/no-python3"
fi

export PATH="$tmp/bin"
export SIMCSE_BLAS_LIB="$tmp/no-libopenblas.so.0"
export SIMCSE_CACHE_DIR="$tmp/cache"
export VK_ICD_FILENAMES="$tmp/no-vulkan-icd.json" VK_DRIVER_FILES="$tmp/no-vulkan-icd.json"
unset CC SIMCSE_CHROMIUM SIMCSE_NATIVE_KERNELS
echo "hide_tools: running '$*' without python3 packages, jupyter, a C compiler, Chromium, OpenBLAS or Vulkan" >&2
"$@"
