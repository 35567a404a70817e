/*
 * Batched products of small matrices with 16-bit operands (the attention products of
 * lib/ops/bf16_ops.ts: [L, dh]·[dh, L] and [L, L]·[L, dh] per sequence and head), and of float32 ones
 * (SMALL_GEMM_F32: float32 training's attention products, lib/kernels/cpu_head_matmul.ts; operands copied
 * and nothing rounded, each sum in t order with fused multiply-adds where the tiles use them), included by
 * simcse_kernels.c:
 *
 *   C[i1, i2] = half(op(A[i1, i2]) · op(B[i1, i2]))      (then half(C · post_scale) when post_scale != 1)
 *
 * Each matrix is widened into float32 tiles on its thread (codes of the format, or float32 values rounded
 * to it on the way in, or float32 values already in it taken as they are), multiplied with float32
 * accumulation and rounded as it is stored: no widened copy of a whole operand and no rounding pass over
 * the output, which a library kernel needs (docs/PRECISION.md, "Attention products").
 *
 * Every element is sum_{t = 0..k-1} a[i][t]·b[t][j], added in t order onto 0. Products of two bf16 or two
 * binary16 values are exact in float32, so a fused multiply-add and a multiply then an add give the same
 * bits: the AVX-512 form and the plain loops below compute the same values, on any number of threads
 * (each matrix is one thread's).
 *
 * bfloat16 on a CPU with AVX512_BF16 (this file built with -march=native there) takes the products two at
 * a time instead, by the dot-product instruction oneDNN's bf16 kernels use (vdpbf16ps): per pair of inner
 * indices the odd product goes onto the float32 sum, then the even one, each addition rounded to nearest
 * even, subnormal inputs read as zero and subnormal sums flushed (Intel's manual; the same on this
 * project's AMD EPYC, lib/kernels/small_gemm_test.ts). Its sums can differ from the in-order ones in the
 * last float32 bits (so, rarely, by one bf16 step after the rounding), as oneDNN's differ; they still do
 * not depend on the number of threads. It runs twice the products per instruction of the float32 form.
 */
#ifndef SIMCSE_SMALL_GEMM_H
#define SIMCSE_SMALL_GEMM_H
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "half.h"

/* The format code of plain float32 products (operands copied as they are, nothing rounded): the attention
   products of float32 training, as one call per batch instead of a BLAS call per matrix. */
#define SMALL_GEMM_F32 0

/* Rows `rows` x `cols` of a stored matrix (row stride ld) into dst [rows, cols]: codes of fmt widened
   (kind 1), float32 values rounded to fmt (kind 0) or copied (kind 2, and always for SMALL_GEMM_F32). */
static inline void small_gemm_load(int fmt, int kind, const void *src, int64_t ld, int64_t rows, int64_t cols,
                                   float *dst) {
  for (int64_t r = 0; r < rows; r++) {
    if (fmt == SMALL_GEMM_F32) {
      memcpy(dst + r * cols, (const float *)src + r * ld, (size_t)cols * 4);
    } else if (kind == 1) {
      half_unpack_n(fmt, (const uint16_t *)src + r * ld, dst + r * cols, cols);
    } else if (kind == 0) {
      half_round_n(fmt, (const float *)src + r * ld, dst + r * cols, cols);
    } else {
      const float *s = (const float *)src + r * ld;
      for (int64_t c = 0; c < cols; c++) dst[r * cols + c] = s[c];
    }
  }
}

#if defined(__AVX512F__)
/* The masks of the V vectors of 16 columns from column j of an n-column tile (lanes past n off). */
static inline __attribute__((always_inline)) void small_gemm_masks(const int V, int64_t n, int64_t j, __mmask16 *mk) {
  for (int v = 0; v < V; v++) {
    int64_t left = n - j - 16 * v;
    mk[v] = left >= 16 ? (__mmask16)0xffff : left <= 0 ? (__mmask16)0 : (__mmask16)((1u << left) - 1);
  }
}

/* The R x V accumulators of rows i.. (those below m), columns j.. into c [m, n]. */
static inline __attribute__((always_inline)) void small_gemm_store(const int R, const int V, __m512 acc[8][4],
                                                                   float *c, int64_t i, int64_t j, int64_t m,
                                                                   int64_t n, const __mmask16 *mk) {
  for (int r = 0; r < R && i + r < m; r++)
    for (int v = 0; v < V; v++) _mm512_mask_storeu_ps(c + (i + r) * n + j + 16 * v, mk[v], acc[r][v]);
}

/* An m x n tile in blocks of 4 rows x 64 columns, or 8 x 32, single rows at the end: BLOCK(R, V, i, j). */
#define SMALL_GEMM_WALK(m, n, BLOCK)                          \
  for (int64_t j_ = 0; j_ < (n); j_ += 64) {                  \
    int64_t i_ = 0;                                           \
    if ((n) - j_ > 32) {                                      \
      for (; i_ + 4 <= (m); i_ += 4) BLOCK(4, 4, i_, j_);     \
      for (; i_ < (m); i_++) BLOCK(1, 4, i_, j_);             \
    } else {                                                  \
      for (; i_ + 8 <= (m); i_ += 8) BLOCK(8, 2, i_, j_);     \
      for (; i_ < (m); i_++) BLOCK(1, 2, i_, j_);             \
    }                                                         \
  }

/* Rows i..i+R-1, columns j..j+16V-1 (masked past n) of c: R x V accumulators in registers. */
static inline __attribute__((always_inline)) void small_gemm_block(const int R, const int V, const float *a,
                                                                   int64_t ars, int64_t acs, const float *b,
                                                                   float *c, int64_t i, int64_t j, int64_t m,
                                                                   int64_t n, int64_t k) {
  __mmask16 mk[4];
  small_gemm_masks(V, n, j, mk);
  __m512 acc[8][4];
  for (int r = 0; r < R; r++)
    for (int v = 0; v < V; v++) acc[r][v] = _mm512_setzero_ps();
  for (int64_t t = 0; t < k; t++) {
    __m512 bv[4];
    for (int v = 0; v < V; v++) bv[v] = _mm512_maskz_loadu_ps(mk[v], b + t * n + j + 16 * v);
    for (int r = 0; r < R; r++) {
      __m512 av = _mm512_set1_ps(a[(i + r) * ars + t * acs]);
      for (int v = 0; v < V; v++) acc[r][v] = _mm512_fmadd_ps(av, bv[v], acc[r][v]);
    }
  }
  small_gemm_store(R, V, acc, c, i, j, m, n, mk);
}
#endif

/* c [m, n] = sum over t of a(i, t) · b[t][j], a(i, t) = a[i * ars + t * acs], b [k, n]. */
static inline void small_gemm_tile(const float *a, int64_t ars, int64_t acs, const float *b, float *c, int64_t m,
                                   int64_t n, int64_t k) {
#if defined(__AVX512F__)
#define F32_BLOCK(R, V, i, j) small_gemm_block(R, V, a, ars, acs, b, c, i, j, m, n, k)
  SMALL_GEMM_WALK(m, n, F32_BLOCK)
#undef F32_BLOCK
#else
  /* j innermost: each element's sum keeps t order under the compiler's vectorisation */
  for (int64_t i = 0; i < m; i++) {
    for (int64_t j = 0; j < n; j++) c[i * n + j] = 0.0f;
    for (int64_t t = 0; t < k; t++) {
      float av = a[i * ars + t * acs];
      for (int64_t j = 0; j < n; j++) c[i * n + j] += av * b[t * n + j];
    }
  }
#endif
}

#if defined(__AVX512F__)
/* dst[c * drs + r] = src[r * srs + c] for a 16 x 16 block of 32-bit words (floats or bf16 pairs, moved as
   bits), in registers: pairs within 128-bit lanes, then 4 x 4 blocks within lanes, then the lanes. */
static inline void small_gemm_transpose16(const uint32_t *src, int64_t srs, uint32_t *dst, int64_t drs) {
  __m512i r[16], t[16];
  for (int i = 0; i < 16; i++) r[i] = _mm512_loadu_si512(src + i * srs);
  for (int i = 0; i < 16; i += 2) {
    t[i] = _mm512_unpacklo_epi32(r[i], r[i + 1]);
    t[i + 1] = _mm512_unpackhi_epi32(r[i], r[i + 1]);
  }
  for (int i = 0; i < 16; i += 4) {
    r[i] = _mm512_unpacklo_epi64(t[i], t[i + 2]);
    r[i + 1] = _mm512_unpackhi_epi64(t[i], t[i + 2]);
    r[i + 2] = _mm512_unpacklo_epi64(t[i + 1], t[i + 3]);
    r[i + 3] = _mm512_unpackhi_epi64(t[i + 1], t[i + 3]);
  }
  /* r[4q + e], lane L: element 4L + e of rows 4q..4q+3 */
  for (int h = 0; h < 16; h += 8) {
    for (int e = 0; e < 4; e++) {
      t[h + e] = _mm512_shuffle_i32x4(r[h + e], r[h + 4 + e], 0x88);
      t[h + 4 + e] = _mm512_shuffle_i32x4(r[h + e], r[h + 4 + e], 0xdd);
    }
  }
  for (int e = 0; e < 8; e++) {
    _mm512_storeu_si512(dst + e * drs, _mm512_shuffle_i32x4(t[e], t[8 + e], 0x88));
    _mm512_storeu_si512(dst + (8 + e) * drs, _mm512_shuffle_i32x4(t[e], t[8 + e], 0xdd));
  }
}
#endif

/* dst [cols, rows] = the transpose of src [rows, cols], 32-bit words (floats as their bits). */
static inline void small_gemm_transpose(const void *src_, int64_t rows, int64_t cols, void *dst_) {
  const uint32_t *src = (const uint32_t *)src_;
  uint32_t *dst = (uint32_t *)dst_;
  int64_t r0 = 0, c0 = 0;
#if defined(__AVX512F__)
  r0 = rows / 16 * 16, c0 = cols / 16 * 16;
  for (int64_t r = 0; r < r0; r += 16)
    for (int64_t c = 0; c < c0; c += 16) small_gemm_transpose16(src + r * cols + c, cols, dst + c * rows + r, rows);
#endif
  for (int64_t r = 0; r < rows; r++) /* what the blocks left */
    for (int64_t c = r < r0 ? c0 : 0; c < cols; c++) memcpy(dst + c * rows + r, src + r * cols + c, 4);
}

#if defined(__AVX512BF16__)
/* bfloat16 products by AVX512_BF16's dot product of pairs (vdpbf16ps): word (i, p) of an operand holds its
   elements 2p (low half) and 2p + 1 of row i's reduction, zero past k. */

/* dst [rows, kp] words from codes src [rows, k] (row stride ld): the rows' codes in pairs, zero-padded. */
static inline void bf16_pairs_rows(const uint16_t *src, int64_t ld, int64_t rows, int64_t k, uint32_t *dst) {
  int64_t kp = (k + 1) / 2;
  for (int64_t r = 0; r < rows; r++) {
    const uint16_t *s = src + r * ld;
    uint32_t *d = dst + r * kp;
    for (int64_t p = 0; p < k / 2; p++) d[p] = (uint32_t)s[2 * p] | (uint32_t)s[2 * p + 1] << 16;
    if (k & 1) d[kp - 1] = s[k - 1];
  }
}

/* dst [kp, n] words from codes src [k, n] (row stride ld): word (p, j) = (src[2p][j], src[2p + 1][j]). */
static inline void bf16_pairs_cols(const uint16_t *src, int64_t ld, int64_t k, int64_t n, uint32_t *dst) {
  for (int64_t p = 0; p < (k + 1) / 2; p++) {
    const uint16_t *r0 = src + 2 * p * ld, *r1 = 2 * p + 1 < k ? r0 + ld : NULL;
    uint32_t *d = dst + p * n;
    int64_t j = 0;
    for (; j + 16 <= n; j += 16) {
      __m512i lo = _mm512_cvtepu16_epi32(_mm256_loadu_si256((const __m256i *)(r0 + j)));
      __m512i hi = r1 ? _mm512_slli_epi32(_mm512_cvtepu16_epi32(_mm256_loadu_si256((const __m256i *)(r1 + j))), 16)
                      : _mm512_setzero_si512();
      _mm512_storeu_si512(d + j, _mm512_or_si512(lo, hi));
    }
    for (; j < n; j++) d[j] = (uint32_t)r0[j] | (r1 ? (uint32_t)r1[j] << 16 : 0u);
  }
}

/* Rows i..i+R-1, columns j..j+16V-1 (masked past n) of c from pairs: a(i, p) = a[i * ars + p * acs], b [kp, n]. */
static inline __attribute__((always_inline)) void bf16_dot_block(const int R, const int V, const uint32_t *a,
                                                                 int64_t ars, int64_t acs, const uint32_t *b,
                                                                 float *c, int64_t i, int64_t j, int64_t m,
                                                                 int64_t n, int64_t kp) {
  __mmask16 mk[4];
  small_gemm_masks(V, n, j, mk);
  __m512 acc[8][4];
  for (int r = 0; r < R; r++)
    for (int v = 0; v < V; v++) acc[r][v] = _mm512_setzero_ps();
  for (int64_t p = 0; p < kp; p++) {
    __m512i bv[4];
    for (int v = 0; v < V; v++) bv[v] = _mm512_maskz_loadu_epi32(mk[v], b + p * n + j + 16 * v);
    for (int r = 0; r < R; r++) {
      __m512i av = _mm512_set1_epi32((int)a[(i + r) * ars + p * acs]);
      for (int v = 0; v < V; v++) acc[r][v] = _mm512_dpbf16_ps(acc[r][v], (__m512bh)av, (__m512bh)bv[v]);
    }
  }
  small_gemm_store(R, V, acc, c, i, j, m, n, mk);
}

static inline void bf16_dot_tile(const uint32_t *a, int64_t ars, int64_t acs, const uint32_t *b, float *c, int64_t m,
                                 int64_t n, int64_t kp) {
#define DOT_BLOCK(R, V, i, j) bf16_dot_block(R, V, a, ars, acs, b, c, i, j, m, n, kp)
  SMALL_GEMM_WALK(m, n, DOT_BLOCK)
#undef DOT_BLOCK
}
#endif

/* One thread's tiles: A as stored, B as op(B) [k, n], B as stored, C [m, n]. */
typedef struct {
  float *a, *b, *bt, *c;
  uint16_t *a16, *b16; /* codes of float32 operands (the bf16 dot-product path) */
} small_gemm_tiles;

static inline float *small_gemm_alloc(int64_t floats) {
  return (float *)aligned_alloc(64, (size_t)((floats * 4 + 63) / 64 * 64));
}

/* Tiles for m x n x k products of fmt (the code tiles only for bf16's dot-product path); 0 when the memory
   is not there. */
static inline int small_gemm_tiles_alloc(small_gemm_tiles *t, int fmt, int64_t m, int64_t n, int64_t k) {
  t->a = small_gemm_alloc(m * k);
  t->b = small_gemm_alloc(k * n);
  t->bt = small_gemm_alloc(k * n);
  t->c = small_gemm_alloc(m * n);
  t->a16 = t->b16 = NULL;
  int codes = 0;
#if defined(__AVX512BF16__)
  codes = fmt == HALF_BF16;
#else
  (void)fmt;
#endif
  if (codes) {
    t->a16 = (uint16_t *)small_gemm_alloc((m * k + 1) / 2);
    t->b16 = (uint16_t *)small_gemm_alloc((k * n + 1) / 2);
  }
  return t->a && t->b && t->bt && t->c && (!codes || (t->a16 && t->b16));
}

static inline void small_gemm_tiles_free(small_gemm_tiles *t) {
  free(t->a);
  free(t->b);
  free(t->bt);
  free(t->c);
  free(t->a16);
  free(t->b16);
}

/* The matrix (i1, i2) of the batch, with the tiles of the calling thread. */
static inline void small_gemm_one(int fmt, int a_kind, int b_kind, int ta, int tb, int64_t m, int64_t n, int64_t k,
                                  const void *a, int64_t lda, const void *b, int64_t ldb, float *c, int64_t ldc,
                                  float post_scale, small_gemm_tiles *t) {
#if defined(__AVX512BF16__)
  if (fmt == HALF_BF16) {
    int64_t kp = (k + 1) / 2, a_rows = ta ? k : m, a_cols = ta ? m : k, b_rows = tb ? n : k, b_cols = tb ? k : n;
    const uint16_t *a16 = (const uint16_t *)a, *b16 = (const uint16_t *)b;
    if (a_kind != 1) { /* float32 operands: their codes first (exact for values already bf16) */
      for (int64_t r = 0; r < a_rows; r++) half_pack_n(HALF_BF16, (const float *)a + r * lda, t->a16 + r * a_cols, a_cols);
      a16 = t->a16, lda = a_cols;
    }
    if (b_kind != 1) {
      for (int64_t r = 0; r < b_rows; r++) half_pack_n(HALF_BF16, (const float *)b + r * ldb, t->b16 + r * b_cols, b_cols);
      b16 = t->b16, ldb = b_cols;
    }
    uint32_t *ap = (uint32_t *)t->a, *bp = (uint32_t *)t->b;
    int64_t ars, acs;
    if (ta) { /* stored [k, m]: pairs down its columns, [kp, m] */
      bf16_pairs_cols(a16, lda, k, m, ap);
      ars = 1, acs = m;
    } else {
      bf16_pairs_rows(a16, lda, m, k, ap);
      ars = kp, acs = 1;
    }
    if (tb) { /* stored [n, k]: its rows' pairs [n, kp], transposed */
      bf16_pairs_rows(b16, ldb, n, k, (uint32_t *)t->bt);
      small_gemm_transpose(t->bt, n, kp, bp);
    } else {
      bf16_pairs_cols(b16, ldb, k, n, bp);
    }
    bf16_dot_tile(ap, ars, acs, bp, t->c, m, n, kp);
  } else
#endif
  {
  /* A as stored: [m, k], or [k, m] when transposed (read in place by small_gemm_tile) */
  int64_t a_rows = ta ? k : m, a_cols = ta ? m : k;
  small_gemm_load(fmt, a_kind, a, lda, a_rows, a_cols, t->a);
  int64_t ars = ta ? 1 : k, acs = ta ? m : 1;
  if (tb) { /* stored [n, k]: op(B) is its transpose */
    small_gemm_load(fmt, b_kind, b, ldb, n, k, t->bt);
    small_gemm_transpose(t->bt, n, k, t->b);
  } else {
    small_gemm_load(fmt, b_kind, b, ldb, k, n, t->b);
  }
  small_gemm_tile(t->a, ars, acs, t->b, t->c, m, n, k);
  }
  for (int64_t i = 0; i < m; i++) {
    float *row = c + i * ldc;
    const float *src = t->c + i * n;
    if (fmt == SMALL_GEMM_F32) { /* float32 products: stored as summed, scaled without rounding */
      for (int64_t j = 0; j < n; j++) row[j] = src[j] * post_scale;
      continue;
    }
    half_round_n(fmt, src, row, n);
    if (post_scale != 1.0f) {
      for (int64_t j = 0; j < n; j++) row[j] *= post_scale;
      half_round_n(fmt, row, row, n);
    }
  }
}

#endif
