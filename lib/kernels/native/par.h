/*
 * Threads for the C kernels (included by simcse_kernels.c and onednn_shim.c). Both are built with -fopenmp
 * where the compiler supports it (native_kernels.ts falls back to a build without; the pragmas are then
 * ignored). Large loops are split across OpenMP's threads in fixed blocks; every element, row or column is
 * computed by the same code in the same order as on one thread, so results do not depend on the thread
 * count (OMP_NUM_THREADS, or the machine's cores).
 */
#ifndef SIMCSE_PAR_H
#define SIMCSE_PAR_H
#include <stdint.h>

#define PAR_BLOCK 16384

/* stmt over [0, n) in blocks [lo, hi) of PAR_BLOCK elements, in parallel when there is more than one
   block. PAR_BLOCK is a multiple of every vector width and of the kernels' inner blocks, so each block's
   loops split into vector and tail parts as the whole loop's do. */
#define PAR_BLOCKS(n, lo, hi, stmt)                                                                     \
  do {                                                                                                 \
    int64_t nb_ = ((n) + PAR_BLOCK - 1) / PAR_BLOCK, n_ = (n);                                         \
    _Pragma("omp parallel for schedule(static) if (nb_ > 1)") for (int64_t b_ = 0; b_ < nb_; b_++) {  \
      int64_t lo = b_ * PAR_BLOCK, hi = lo + PAR_BLOCK < n_ ? lo + PAR_BLOCK : n_;                     \
      stmt;                                                                                            \
    }                                                                                                  \
  } while (0)

#endif
