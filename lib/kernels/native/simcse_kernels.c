/*
 * Elementwise and row kernels of the toolkit's CPU training path, called from TF.js kernels through
 * Deno's FFI (lib/kernels/native_kernels.ts compiles this file once per machine with the system C
 * compiler and caches the library). Each function mirrors a JS kernel in cpu_fused.ts / adamw.ts:
 * same formulas, same dropout hash (so masks are identical with and without this library), written
 * so that the compiler vectorises the loops.
 */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "half.h"
#include "par.h"
#include "small_gemm.h"
#ifdef _OPENMP
#include <omp.h>
#endif

#define R restrict

/* Elementwise kernels with long per-element math (erf, exp) on 512-bit vectors where the CPU has AVX-512 (gcc
   prefers 256-bit ones on some of these CPUs). Only elementwise loops: every lane computes what a scalar
   does, so the results are the same bits; reductions keep the default width. */
#if defined(__GNUC__) && !defined(__clang__) && defined(__AVX512F__)
#define WIDE __attribute__((target("prefer-vector-width=512")))
#else
#define WIDE
#endif

/* erf as x*P(x^2)/Q(x^2) on x clamped to [-4, 4] (the float32 rational fit of Eigen/XLA). */
static inline float erf_f(float x) {
  float v = x < -4.0f ? -4.0f : (x > 4.0f ? 4.0f : x);
  float z = v * v;
  float p = -2.72614225801306e-10f;
  p = p * z + 2.77068142495902e-08f;
  p = p * z - 2.10102402082508e-06f;
  p = p * z - 5.69250639462346e-05f;
  p = p * z - 7.34990630326855e-04f;
  p = p * z - 2.95459980854025e-03f;
  p = p * z - 1.60960333262415e-02f;
  float q = -1.45660718464996e-05f;
  q = q * z - 2.13374055278905e-04f;
  q = q * z - 1.68282697438203e-03f;
  q = q * z - 7.37332916720468e-03f;
  q = q * z - 1.42647390514189e-02f;
  return v * p / q;
}

/* e^x in float32 for x clamped to [-87, 88], within 1.01 ulp of exp over that whole range (checked on every
 * float there against double exp), and vectorisable (glibc's expf is a call per element here): k = rint(x
 * log2 e), r = x - k ln 2 in two fma steps (ln 2 split as 0.693359375 - 2.12194440e-4), e^r by the degree-7
 * polynomial of Cephes' expf, times 2^k built in the exponent bits. The fma calls keep the reduction exact
 * whatever reassociation the fast-math flags allow. */
static inline float exp_f(float x) {
  x = x < -87.0f ? -87.0f : (x > 88.0f ? 88.0f : x);
  float k = __builtin_rintf(x * 1.44269504088896341f);
  float r = __builtin_fmaf(k, -0.693359375f, x);
  r = __builtin_fmaf(k, 2.12194440e-4f, r);
  float p = 1.9875691500e-4f;
  p = __builtin_fmaf(p, r, 1.3981999507e-3f);
  p = __builtin_fmaf(p, r, 8.3334519073e-3f);
  p = __builtin_fmaf(p, r, 4.1665795894e-2f);
  p = __builtin_fmaf(p, r, 1.6666665459e-1f);
  p = __builtin_fmaf(p, r, 5.0000001201e-1f);
  float e = __builtin_fmaf(p, r * r, r) + 1.0f;
  uint32_t scale = (uint32_t)((int32_t)k + 127) << 23;
  float two_k;
  memcpy(&two_k, &scale, 4);
  return e * two_k;
}

static inline void gelu_range(const float *R x, float *R y, int64_t lo, int64_t hi) {
  for (int64_t i = lo; i < hi; i++) {
    float v = x[i];
    y[i] = 0.5f * v * (1.0f + erf_f(v * 0.70710678118654752f));
  }
}

WIDE void simcse_gelu(const float *R x, float *R y, int64_t n) { PAR_BLOCKS(n, lo, hi, gelu_range(x, y, lo, hi)); }

static inline void gelu_grad_range(const float *R dy, const float *R x, float *R dx, int64_t lo, int64_t hi) {
  for (int64_t i = lo; i < hi; i++) {
    float v = x[i];
    float cdf = 0.5f * (1.0f + erf_f(v * 0.70710678118654752f));
    float pdf = 0.3989422804014327f * exp_f(-0.5f * v * v);
    dx[i] = dy[i] * (cdf + v * pdf);
  }
}

WIDE void simcse_gelu_grad(const float *R dy, const float *R x, float *R dx, int64_t n) {
  PAR_BLOCKS(n, lo, hi, gelu_grad_range(dy, x, dx, lo, hi));
}

#define GELU_NEW_C 0.7978845608028654f /* sqrt(2/pi) */

/* 0.5(1 + tanh u) = 1/(1 + e^{-2u}) and 1 - tanh^2 u = 4 s (1 - s) with 1 - s = e^{-2u}/(1 + e^{-2u}):
 * no cancellation where tanh saturates (a float32 tanh near -1 leaves 1 + t off by 6e-8). u is
 * clamped to +-20, where tanh is +-1 in float32 anyway. */
static inline void gelu_new_parts(float v, float *s, float *one_minus_s) {
  float u = GELU_NEW_C * (v + 0.044715f * v * v * v);
  u = u < -20.0f ? -20.0f : (u > 20.0f ? 20.0f : u);
  float e = exp_f(-2.0f * u);
  float inv = 1.0f / (1.0f + e);
  *s = inv;
  *one_minus_s = e * inv;
}

static inline void gelu_new_range(const float *R x, float *R y, int64_t lo, int64_t hi) {
  for (int64_t i = lo; i < hi; i++) {
    float s, r;
    gelu_new_parts(x[i], &s, &r);
    y[i] = x[i] * s;
  }
}

WIDE void simcse_gelu_new(const float *R x, float *R y, int64_t n) { PAR_BLOCKS(n, lo, hi, gelu_new_range(x, y, lo, hi)); }

static inline void gelu_new_grad_range(const float *R dy, const float *R x, float *R dx, int64_t lo, int64_t hi) {
  for (int64_t i = lo; i < hi; i++) {
    float v = x[i], s, r;
    gelu_new_parts(v, &s, &r);
    float du = GELU_NEW_C * (1.0f + 3.0f * 0.044715f * v * v);
    dx[i] = dy[i] * (s + 2.0f * v * s * r * du);
  }
}

WIDE void simcse_gelu_new_grad(const float *R dy, const float *R x, float *R dx, int64_t n) {
  PAR_BLOCKS(n, lo, hi, gelu_new_grad_range(dy, x, dx, lo, hi));
}

static inline uint32_t dropout_hash(uint32_t seed, uint32_t i) {
  uint32_t h = (i * 0x9e3779b1u) ^ seed;
  h ^= h >> 16;
  h *= 0x85ebca6bu;
  h ^= h >> 13;
  h *= 0xc2b2ae35u;
  h ^= h >> 16;
  return h;
}

/* y = x·keep/(1−p) with keep = hash(seed, i) ≥ threshold. The gradient is the same map applied to dy (the mask is a
   function of (seed, i) only), so nothing is kept for the backward pass. */
static inline float dropout_value(float x, uint32_t seed, uint32_t i, uint32_t threshold, double inv) {
  return dropout_hash(seed, i) >= threshold ? (float)((double)x * inv) : 0.0f;
}

static inline void dropout_range(const float *R x, float *R y, uint32_t seed, uint32_t threshold, double inv,
                                 int64_t lo, int64_t hi) {
  for (int64_t i = lo; i < hi; i++) y[i] = dropout_value(x[i], seed, (uint32_t)i, threshold, inv);
}

/* 512-bit vectors for the hash and the double multiply of every element (0.24 → 0.18 ms at 1 M elements on
   the 2-core AMD EPYC of docs/CPU-PERF.md, seventeenth round); each lane computes what a scalar does. */
WIDE void simcse_dropout(const float *R x, float *R y, int64_t n, uint32_t seed, uint32_t threshold, double inv) {
  PAR_BLOCKS(n, lo, hi, dropout_range(x, y, seed, threshold, inv, lo, hi));
}

/* One row of a LayerNorm: y = x̂·g + b, x̂ = (x − μ)·r stored into hr, r returned; mean and variance summed in
   double in element order. */
static inline float layernorm_row(const float *R xr, const float *R g, const float *R b, float *R yr, float *R hr,
                                  int64_t H, double eps) {
  double s = 0;
  for (int64_t j = 0; j < H; j++) s += xr[j];
  double mu = s / H, v = 0;
  for (int64_t j = 0; j < H; j++) {
    double d = xr[j] - mu;
    v += d * d;
  }
  float rs = (float)(1.0 / sqrt(v / H + eps));
  float muf = (float)mu;
  for (int64_t j = 0; j < H; j++) {
    float t = (xr[j] - muf) * rs;
    hr[j] = t;
    yr[j] = t * g[j] + b[j];
  }
  return rs;
}

void simcse_layernorm(const float *R x, const float *R g, const float *R b, float *R y, float *R xhat,
                      float *R rstd, int64_t rows, int64_t H, double eps) {
#pragma omp parallel for schedule(static) if (rows * H > 2 * PAR_BLOCK)
  for (int64_t r = 0; r < rows; r++) rstd[r] = layernorm_row(x + r * H, g, b, y + r * H, xhat + r * H, H, eps);
}

/* A post-LN residual branch in one pass: y = LayerNorm(dropout(dense) + res) over rows of H, the dropout of
 * element i = r·H + j as simcse_dropout draws it (when drop; else dense as it is), the sum as simcse_add forms it
 * and the LayerNorm as simcse_layernorm, so the values are those of the three kernels in turn. x̂ is stored
 * as 16-bit codes of fmt (when codes is not NULL: what the gradient keeps) with rstd; the float32 dropout
 * output, sum and x̂ are never written out. Returns 0, or -1 when the row buffers could not be had. */
int32_t simcse_dropout_add_layernorm(int32_t fmt, const float *R dense, const float *R res, int32_t drop,
                                     uint32_t seed, uint32_t threshold, double inv, const float *R g,
                                     const float *R b, float *R y, uint16_t *R codes, float *R rstd, int64_t rows,
                                     int64_t H, double eps) {
  int failed = 0;
#pragma omp parallel if (rows * H > 2 * PAR_BLOCK) reduction(| : failed)
  {
    float *xr = (float *)malloc((size_t)H * 2 * sizeof(float)), *hr = xr ? xr + H : NULL;
    if (!xr) failed = 1;
#pragma omp for schedule(static)
    for (int64_t r = 0; r < rows; r++) {
      if (!xr) continue;
      const float *dr = dense + r * H, *rr = res + r * H;
      if (drop) {
        for (int64_t j = 0; j < H; j++) xr[j] = dropout_value(dr[j], seed, (uint32_t)(r * H + j), threshold, inv) + rr[j];
      } else {
        for (int64_t j = 0; j < H; j++) xr[j] = dr[j] + rr[j];
      }
      rstd[r] = layernorm_row(xr, g, b, y + r * H, hr, H, eps);
      if (codes) half_pack_n(fmt == HALF_BF16 ? HALF_BF16 : HALF_F16, hr, codes + r * H, H);
    }
    free(xr);
  }
  return failed ? -1 : 0;
}

/* One row of the LayerNorm gradient: dx = r·(dy·g − mean(dy·g) − x̂·mean(dy·g·x̂)); dγ, dβ summed in double. */
static inline void layernorm_grad_row(const float *R d, const float *R t, const float *R g, float rs, float *R o,
                                      double *R dg, double *R db, int64_t H) {
  float s1 = 0, s2 = 0;
  for (int64_t j = 0; j < H; j++) {
    float gx = d[j] * g[j];
    s1 += gx;
    s2 += gx * t[j];
    dg[j] += (double)(d[j] * t[j]);
    db[j] += (double)d[j];
  }
  float m1 = s1 / H, m2 = s2 / H;
  for (int64_t j = 0; j < H; j++) o[j] = rs * (d[j] * g[j] - m1 - t[j] * m2);
}

/* The rows of a LayerNorm gradient in fixed blocks of LN_GRAD_BLOCK rows, in parallel: each block's dγ and dβ
 * summed in double from zero in row order, then the blocks' sums added in block order (one block: the plain
 * row-order sums). The blocks do not depend on the thread count, so neither do the bits. x̂ is float32
 * (xhat) or 16-bit codes of fmt (xcodes, unpacked a row at a time). Returns 0, or -1 without memory. */
#define LN_GRAD_BLOCK 256
static int32_t layernorm_grad_blocks(int fmt, const float *R dy, const float *R xhat, const uint16_t *R xcodes,
                                     const float *R rstd, const float *R g, float *R dx, double *R dg,
                                     double *R db, int64_t rows, int64_t H) {
  int64_t nb = rows > 0 ? (rows + LN_GRAD_BLOCK - 1) / LN_GRAD_BLOCK : 1;
  double *part = nb > 1 ? (double *)calloc((size_t)(nb * 2 * H), sizeof(double)) : NULL;
  if (nb > 1 && !part) return -1;
  int failed = 0;
#pragma omp parallel if (nb > 1 && rows * H > 2 * PAR_BLOCK) reduction(| : failed)
  {
    float *t = xcodes ? (float *)malloc(sizeof(float) * (size_t)(H > 0 ? H : 1)) : NULL;
    if (xcodes && !t) failed = 1;
#pragma omp for schedule(static)
    for (int64_t bl = 0; bl < nb; bl++) {
      if (xcodes && !t) continue;
      double *pg = nb > 1 ? part + bl * 2 * H : dg, *pb = nb > 1 ? pg + H : db;
      if (nb == 1)
        for (int64_t j = 0; j < H; j++) pg[j] = pb[j] = 0;
      int64_t r1 = (bl + 1) * LN_GRAD_BLOCK < rows ? (bl + 1) * LN_GRAD_BLOCK : rows;
      for (int64_t r = bl * LN_GRAD_BLOCK; r < r1; r++) {
        const float *xr = xhat ? xhat + r * H : t;
        if (xcodes) half_unpack_n(fmt, xcodes + r * H, t, H);
        layernorm_grad_row(dy + r * H, xr, g, rstd[r], dx + r * H, pg, pb, H);
      }
    }
    free(t);
  }
  if (nb > 1) {
    for (int64_t j = 0; j < H; j++) dg[j] = db[j] = 0;
    for (int64_t bl = 0; bl < nb; bl++)
      for (int64_t j = 0; j < H; j++) {
        dg[j] += part[bl * 2 * H + j];
        db[j] += part[bl * 2 * H + H + j];
      }
    free(part);
  }
  return failed ? -1 : 0;
}

int32_t simcse_layernorm_grad(const float *R dy, const float *R xhat, const float *R rstd, const float *R g,
                              float *R dx, double *R dg, double *R db, int64_t rows, int64_t H) {
  return layernorm_grad_blocks(HALF_BF16, dy, xhat, NULL, rstd, g, dx, dg, db, rows, H);
}

int32_t simcse_layernorm_grad_half(int32_t fmt, const float *R dy, const uint16_t *R xcodes, const float *R rstd,
                                   const float *R g, float *R dx, double *R dg, double *R db, int64_t rows,
                                   int64_t H) {
  return layernorm_grad_blocks(fmt == HALF_BF16 ? HALF_BF16 : HALF_F16, dy, NULL, xcodes, rstd, g, dx, dg, db,
                               rows, H);
}

void simcse_attn_softmax(const float *R s, const float *R m, const int32_t *R mOff, int32_t mInner, float *R p,
                         int64_t rows, int64_t L, float scale) {
#pragma omp parallel for schedule(static) if (rows * L > 2 * PAR_BLOCK)
  for (int64_t r = 0; r < rows; r++) {
    const float *sr = s + r * L, *mr = m + mOff[r];
    float *pr = p + r * L;
    float mx = -INFINITY;
    for (int64_t j = 0; j < L; j++) {
      float v = sr[j] * scale + mr[j * mInner];
      pr[j] = v;
      mx = v > mx ? v : mx;
    }
    float sum = 0;
    for (int64_t j = 0; j < L; j++) {
      float d = pr[j] - mx, e = exp_f(d);
      e = d < -87.0f ? 0.0f : e; /* exp_f clamps there: a masked key (mask -1e4) gets exactly 0, as with expf */
      pr[j] = e;
      sum += e;
    }
    float inv = 1.0f / sum;
    for (int64_t j = 0; j < L; j++) pr[j] *= inv;
  }
}

void simcse_attn_softmax_grad(const float *R dp, const float *R p, float *R ds, int64_t rows, int64_t L,
                              float scale) {
#pragma omp parallel for schedule(static) if (rows * L > 2 * PAR_BLOCK)
  for (int64_t r = 0; r < rows; r++) {
    const float *a = dp + r * L, *b = p + r * L;
    float dot = 0;
    for (int64_t j = 0; j < L; j++) dot += a[j] * b[j];
    float *o = ds + r * L;
    for (int64_t j = 0; j < L; j++) o[j] = scale * b[j] * (a[j] - dot);
  }
}

/* HF AdamW (decoupled decay applied to the updated parameter), in place, one parameter buffer. The
 * gradient is first multiplied by gscale in float32, as torch's clip_grad_norm_ scales it in place. */
static inline void adamw_range(float *R p, const float *R g, float *R m, float *R v, double b1, double b2,
                               double stepSize, double eps, double decay, float gscale, int64_t lo, int64_t hi) {
  for (int64_t i = lo; i < hi; i++) {
    double gi = g[i] * gscale;
    double mi = b1 * m[i] + (1 - b1) * gi; /* used unrounded, as the JS loop does */
    double vi = b2 * v[i] + (1 - b2) * gi * gi;
    m[i] = (float)mi;
    v[i] = (float)vi;
    double pi = p[i] - stepSize * mi / (sqrt(vi) + eps);
    p[i] = (float)(pi - decay * pi);
  }
}

void simcse_adamw(float *R p, const float *R g, float *R m, float *R v, int64_t n, double b1, double b2,
                  double stepSize, double eps, double decay, float gscale) {
  PAR_BLOCKS(n, lo, hi, adamw_range(p, g, m, v, b1, b2, stepSize, eps, decay, gscale, lo, hi));
}

/* simcse_adamw on a [V, H] parameter whose gradient is given as rows: row ids[k] (ascending, distinct)
 * has gradient rows[k*H..], every other row the zero row `zero` (H zeros), so each element gets the
 * arithmetic of the dense call (lib/ops/row_gradient.ts). Rows are split across threads in blocks. */
#define ADAMW_ROW_BLOCK 256
void simcse_adamw_rows(float *R p, const float *R rows, const int32_t *R ids, int64_t nids, const float *R zero,
                       int64_t V, int64_t H, float *R m, float *R v, double b1, double b2, double stepSize, double eps,
                       double decay, float gscale) {
  int64_t nb = (V + ADAMW_ROW_BLOCK - 1) / ADAMW_ROW_BLOCK;
#pragma omp parallel for schedule(static) if (V * H > 2 * PAR_BLOCK)
  for (int64_t b = 0; b < nb; b++) {
    int64_t r0 = b * ADAMW_ROW_BLOCK, r1 = r0 + ADAMW_ROW_BLOCK < V ? r0 + ADAMW_ROW_BLOCK : V;
    int64_t lo = 0, hi = nids; /* first k with ids[k] >= r0 */
    while (lo < hi) {
      int64_t mid = (lo + hi) / 2;
      if (ids[mid] < r0) lo = mid + 1;
      else hi = mid;
    }
    for (int64_t r = r0, k = lo; r < r1; r++) {
      const float *g = zero;
      if (k < nids && ids[k] == r) g = rows + (k++) * H;
      adamw_range(p + r * H, g, m + r * H, v + r * H, b1, b2, stepSize, eps, decay, gscale, 0, H);
    }
  }
}

/* out = a + b, same shape (residual adds and gradient accumulation). */
static inline void add_range(const float *R a, const float *R b, float *R out, int64_t lo, int64_t hi) {
  for (int64_t i = lo; i < hi; i++) out[i] = a[i] + b[i];
}

void simcse_add(const float *R a, const float *R b, float *R out, int64_t n) {
  PAR_BLOCKS(n, lo, hi, add_range(a, b, out, lo, hi));
}

/* out [outer, n, inner] = rows ids[i] of x [outer, dim, inner] (tf.gather along the middle axis: embedding
 * lookups); the ids were checked to lie in [0, dim). */
void simcse_gather_rows(const float *R x, const int32_t *R ids, float *R out, int64_t outer, int64_t dim, int64_t n,
                        int64_t inner) {
  int64_t rows = outer * n;
#pragma omp parallel for schedule(static) if (rows * inner > 2 * PAR_BLOCK)
  for (int64_t r = 0; r < rows; r++)
    memcpy(out + r * inner, x + ((r / n) * dim + ids[r % n]) * inner, (size_t)inner * sizeof(float));
}

/* out[o, i] = scale * sum_r x[o, r, i], for x [outer, red, inner], accumulated in double in row
 * order (the JS loop's order); acc holds inner doubles of scratch. Bias gradients are the outer = 1
 * case: column sums of a [rows, features] matrix. */
/* Column sums are split across threads in blocks of this many columns (each column sums its rows in order):
   narrower blocks measured slower for a 1024-wide layer (per-row overhead) and no faster for a 256-wide one. */
#define COL_BLOCK 256

void simcse_reduce_mid(const float *R x, float *R out, double *R acc, int64_t outer, int64_t red, int64_t inner,
                       double scale) {
  int64_t nb = (inner + COL_BLOCK - 1) / COL_BLOCK;
  for (int64_t o = 0; o < outer; o++) {
    const float *xo = x + o * red * inner;
    float *dst = out + o * inner;
#pragma omp parallel for schedule(static) if (nb > 1 && red * inner > 2 * PAR_BLOCK)
    for (int64_t b = 0; b < nb; b++) {
      int64_t lo = b * COL_BLOCK, hi = lo + COL_BLOCK < inner ? lo + COL_BLOCK : inner;
      for (int64_t i = lo; i < hi; i++) acc[i] = 0;
      for (int64_t r = 0; r < red; r++) {
        const float *row = xo + r * inner;
        for (int64_t i = lo; i < hi; i++) acc[i] += row[i];
      }
      for (int64_t i = lo; i < hi; i++) dst[i] = (float)(acc[i] * scale);
    }
  }
}

/* x *= s in place (float32 products, as tf.mul); returns 1 when every product is finite. Checked on the
 * bits: -ffinite-math-only would fold isfinite() away. */
int simcse_scale_finite(float *R x, int64_t n, float s) {
  int64_t nb = (n + PAR_BLOCK - 1) / PAR_BLOCK;
  uint32_t bad = 0;
#pragma omp parallel for schedule(static) reduction(| : bad) if (nb > 1)
  for (int64_t b = 0; b < nb; b++) {
    int64_t lo = b * PAR_BLOCK, hi = lo + PAR_BLOCK < n ? lo + PAR_BLOCK : n;
    for (int64_t i = lo; i < hi; i++) {
      float v = x[i] * s;
      x[i] = v;
      bad |= (f32_bits(v) & 0x7f800000u) == 0x7f800000u;
    }
  }
  return !bad;
}

/* rows[slot[r] + j] += d[r·H + j] for the rows r = 0, 1, … of d [n, H] in order (slot[r]: the element offset
 * of row r's id in rows): the embeddings' row gradient (lib/ops/row_gradient.ts), every output element's
 * additions in token order. Column ranges split across threads, so the bits do not depend on the thread
 * count. */
void simcse_sum_rows(const float *R d, const int32_t *R slot, float *R rows, int64_t n, int64_t H) {
  const int64_t W = 64, nc = (H + W - 1) / W;
#pragma omp parallel for schedule(static) if (n * H > 2 * PAR_BLOCK && nc > 1)
  for (int64_t c = 0; c < nc; c++) {
    const int64_t j0 = c * W, j1 = j0 + W < H ? j0 + W : H;
    for (int64_t r = 0; r < n; r++) {
      float *dst = rows + slot[r];
      const float *src = d + r * H;
      for (int64_t j = j0; j < j1; j++) dst[j] += src[j];
    }
  }
}

/* In place, dw[i, j] = g[i]·dw[i, j] + b[i]·db[j], each product exact in double and one rounding of their sum
 * to float (what the JS form computes): the weight gradient of a Linear whose input is a LayerNorm's output
 * x̂·g + b, from dw = x̂ᵀ·grad and db = Σ grad (lib/ops/bf16_ops.ts, layerNormWeightGrad). Rows split across
 * threads; every element is computed on its own, so the bits do not depend on the thread count. */
WIDE void simcse_ln_weight_grad(float *R dw, const float *R g, const float *R b, const float *R db, int64_t n_in,
                                int64_t n_out) {
#pragma omp parallel for schedule(static) if (n_in * n_out > 2 * PAR_BLOCK)
  for (int64_t i = 0; i < n_in; i++) {
    const double gi = g[i], bi = b[i];
    float *row = dw + i * n_out;
    for (int64_t j = 0; j < n_out; j++) row[j] = (float)(gi * (double)row[j] + bi * (double)db[j]);
  }
}

/* sum of squares in double (the global gradient norm). */
double simcse_sumsq(const float *R x, int64_t n) {
  double s = 0;
  for (int64_t i = 0; i < n; i++) s += (double)x[i] * x[i];
  return s;
}

/* ---- half-precision Linear epilogue and gradient prologue (lib/ops/bf16_ops.ts, docs/PRECISION.md) ----
 * fmt: HALF_BF16 or HALF_F16. act: 0 none, 1 gelu (erf), 2 gelu_new (tanh), 3 relu. */

static inline float act_value(int act, float z) {
  if (act == 1) return 0.5f * z * (1.0f + erf_f(z * 0.70710678118654752f));
  if (act == 2) {
    float s, r;
    gelu_new_parts(z, &s, &r);
    return z * s;
  }
  return z > 0.0f ? z : 0.0f;
}

static inline float act_grad(int act, float dy, float z) {
  if (act == 1) {
    float cdf = 0.5f * (1.0f + erf_f(z * 0.70710678118654752f));
    float pdf = 0.3989422804014327f * exp_f(-0.5f * z * z);
    return dy * (cdf + z * pdf);
  }
  if (act == 2) {
    float s, r;
    gelu_new_parts(z, &s, &r);
    float du = GELU_NEW_C * (1.0f + 3.0f * 0.044715f * z * z);
    return dy * (s + 2.0f * z * s * r * du);
  }
  return z > 0.0f ? dy : 0.0f; /* torch: 0 at z = 0 */
}

#define ALWAYS_INLINE static inline __attribute__((always_inline))

/* Each body below is instantiated per (fmt, act) through these switches, so that every loop is
   specialised and vectorises (the format and the activation are constants inside it). */
#define DISPATCH(call)                                                                                    \
  switch (fmt * 4 + act) {                                                                                \
    case 4: call(1, 0); break;                                                                            \
    case 5: call(1, 1); break;                                                                            \
    case 6: call(1, 2); break;                                                                            \
    case 7: call(1, 3); break;                                                                            \
    case 8: call(2, 0); break;                                                                            \
    case 9: call(2, 1); break;                                                                            \
    case 10: call(2, 2); break;                                                                           \
    default: call(2, 3); break;                                                                           \
  }

/* The loops below work through blocks of HALF_BLOCK elements, so that the rounding runs in the array
   forms of half.h (the CPU's binary16 conversions) and the activation loop vectorises between them. */
#define HALF_BLOCK 256

ALWAYS_INLINE void linear_out(int fmt, int act, float *c, uint16_t *R z16, uint16_t *R y16, int64_t n) {
  if (act == 0) {
    if (z16) { /* the codes, then their values: half_round_n's values, in two cheaper passes */
      half_pack_n(fmt, c, z16, n);
      half_unpack_n(fmt, z16, c, n);
    } else {
      half_round_n(fmt, c, c, n);
    }
    return;
  }
  uint16_t hb[HALF_BLOCK];
  float zb[HALF_BLOCK];
  for (int64_t i0 = 0; i0 < n; i0 += HALF_BLOCK) {
    int64_t len = n - i0 < HALF_BLOCK ? n - i0 : HALF_BLOCK;
    uint16_t *h = z16 ? z16 + i0 : hb;
    half_pack_n(fmt, c + i0, h, len);
    half_unpack_n(fmt, h, zb, len);
    for (int64_t j = 0; j < len; j++) zb[j] = act_value(act, zb[j]);
    if (y16) { /* as above: y's codes, then their values */
      half_pack_n(fmt, zb, y16 + i0, len);
      half_unpack_n(fmt, y16 + i0, c + i0, len);
    } else {
      half_round_n(fmt, zb, c + i0, len);
    }
  }
}

/* In place on c (the f32 product plus bias): z = half(c) and z16 (when given) receives z's codes; with
 * an activation, c = half(act(z)) and y16 (when given) its codes; without one, c = z. */
WIDE void simcse_half_linear_out(int fmt, int act, float *c, uint16_t *R z16, uint16_t *R y16, int64_t n) {
#define LINEAR_OUT(F, A) \
  PAR_BLOCKS(n, lo, hi, linear_out(F, A, c + lo, z16 ? z16 + lo : NULL, y16 ? y16 + lo : NULL, hi - lo))
  DISPATCH(LINEAR_OUT)
#undef LINEAR_OUT
}

/* simcse_half_linear_out on a product taken without its bias: c[r, :] += bias for each of `rows` rows of
 * `cols` first (one float32 add per element, as a product accumulated onto the bias rows), in blocks of
 * whole rows, so the matmul need not read a bias-filled C. */
WIDE void simcse_half_linear_out_bias(int fmt, int act, float *c, const float *R bias, uint16_t *R z16,
                                      uint16_t *R y16, int64_t rows, int64_t cols) {
  int64_t per = (PAR_BLOCK + cols - 1) / cols, nb = (rows + per - 1) / per;
#define LINEAR_OUT_BIAS(F, A)                                                                          \
  _Pragma("omp parallel for schedule(static) if (nb > 1)") for (int64_t b = 0; b < nb; b++) {           \
    int64_t r1 = (b + 1) * per < rows ? (b + 1) * per : rows;                                          \
    for (int64_t r = b * per; r < r1; r++) {                                                           \
      float *cr = c + r * cols;                                                                        \
      for (int64_t j = 0; j < cols; j++) cr[j] += bias[j];                                             \
      linear_out(F, A, cr, z16 ? z16 + r * cols : NULL, y16 ? y16 + r * cols : NULL, cols);           \
    }                                                                                                  \
  }
  DISPATCH(LINEAR_OUT_BIAS)
#undef LINEAR_OUT_BIAS
}

ALWAYS_INLINE void act_codes(int fmt, int act, const uint16_t *R z16, uint16_t *R y16, int64_t n) {
  float zb[HALF_BLOCK];
  for (int64_t i0 = 0; i0 < n; i0 += HALF_BLOCK) {
    int64_t len = n - i0 < HALF_BLOCK ? n - i0 : HALF_BLOCK;
    half_unpack_n(fmt, z16 + i0, zb, len);
    for (int64_t j = 0; j < len; j++) zb[j] = act_value(act, zb[j]);
    half_pack_n(fmt, zb, y16 + i0, len);
  }
}

/* The codes of half(act(z)) from z's codes: what simcse_half_linear_out gave as y16, again (the same
 * operations on the same values), for a backward pass that did not keep it. */
WIDE void simcse_half_act_codes(int fmt, int act, const uint16_t *R z16, uint16_t *R y16, int64_t n) {
#define ACT_CODES(F, A) PAR_BLOCKS(n, lo, hi, act_codes(F, A, z16 + lo, y16 + lo, hi - lo))
  DISPATCH(ACT_CODES)
#undef ACT_CODES
}

/* The float32 values of half(act(z)) from z's codes: the values of simcse_half_act_codes's codes (a
 * rounding is unpack∘pack), for a product on a float32 kernel, which would otherwise widen those codes. */
ALWAYS_INLINE void act_values(int fmt, int act, const uint16_t *R z16, float *R y, int64_t n) {
  for (int64_t i0 = 0; i0 < n; i0 += HALF_BLOCK) {
    int64_t len = n - i0 < HALF_BLOCK ? n - i0 : HALF_BLOCK;
    half_unpack_n(fmt, z16 + i0, y + i0, len);
    for (int64_t j = 0; j < len; j++) y[i0 + j] = act_value(act, y[i0 + j]);
    half_round_n(fmt, y + i0, y + i0, len);
  }
}

WIDE void simcse_half_act_values(int fmt, int act, const uint16_t *R z16, float *R y, int64_t n) {
#define ACT_VALUES(F, A) PAR_BLOCKS(n, lo, hi, act_values(F, A, z16 + lo, y + lo, hi - lo))
  DISPATCH(ACT_VALUES)
#undef ACT_VALUES
}

/* g = half(half(d) * act'(z)) (act 0: half(d)) as 16-bit codes into g16, or, when g16 is NULL, as their
 * float32 values into gv (a rounding is unpack∘pack). g16 may be z and gv may be d: each block is read
 * before that block of g is written. */
ALWAYS_INLINE void linear_grad(int fmt, int act, const float *d, const uint16_t *z, uint16_t *g16, float *gv,
                               int64_t n) {
  float vb[HALF_BLOCK], zb[HALF_BLOCK];
  for (int64_t j0 = 0; j0 < n; j0 += HALF_BLOCK) {
    int64_t len = n - j0 < HALF_BLOCK ? n - j0 : HALF_BLOCK;
    const float *v = d + j0;
    if (act != 0) {
      half_round_n(fmt, d + j0, vb, len);
      half_unpack_n(fmt, z + j0, zb, len);
      for (int64_t j = 0; j < len; j++) vb[j] = act_grad(act, vb[j], zb[j]);
      v = vb;
    }
    if (g16) {
      half_pack_n(fmt, v, g16 + j0, len);
    } else {
      half_round_n(fmt, v, gv + j0, len);
    }
  }
}

/* acc[j] += g[r, j] for r = 0, 1, … in order, for the columns [c0, c1), g as 16-bit codes of fmt (g16)
 * or, when g16 is NULL, as float32 values (gv). */
ALWAYS_INLINE void column_sums(int fmt, const uint16_t *R g16, const float *R gv, double *R acc, int64_t rows,
                               int64_t cols, int64_t c0, int64_t c1) {
  float vb[HALF_BLOCK];
  double sb[HALF_BLOCK];
  for (int64_t j0 = c0; j0 < c1; j0 += HALF_BLOCK) {
    int64_t len = c1 - j0 < HALF_BLOCK ? c1 - j0 : HALF_BLOCK;
    for (int64_t j = 0; j < len; j++) sb[j] = acc[j0 + j];
    for (int64_t r = 0; r < rows; r++) {
      const float *v = vb;
      if (g16) {
        half_unpack_n(fmt, g16 + r * cols + j0, vb, len);
      } else {
        v = gv + r * cols + j0;
      }
      for (int64_t j = 0; j < len; j++) sb[j] += v[j];
    }
    for (int64_t j = 0; j < len; j++) acc[j0 + j] = sb[j];
  }
}

/* The column sums of g (codes g16, or values gv when g16 is NULL) added into acc: each thread over a range
 * of columns (multiples of 64), every column over its rows in order. */
static void column_sums_par(int fmt, const uint16_t *g16, const float *gv, double *acc, int64_t rows,
                            int64_t cols) {
#pragma omp parallel if (rows * cols > 2 * PAR_BLOCK)
  {
    int64_t t = 0, nt = 1;
#ifdef _OPENMP
    t = omp_get_thread_num();
    nt = omp_get_num_threads();
#endif
    int64_t units = (cols + 63) / 64;
    int64_t c0 = units * t / nt * 64, c1 = units * (t + 1) / nt * 64;
    if (c1 > cols) c1 = cols;
    if (fmt == HALF_BF16) {
      column_sums(HALF_BF16, g16, gv, acc, rows, cols, c0, c1);
    } else {
      column_sums(HALF_F16, g16, gv, acc, rows, cols, c0, c1);
    }
  }
}

/* The gradient entering a half Linear, from dy [rows, cols]: g = half(half(dy) * act'(z)) with z from
 * the codes z16 (act 0: g = half(dy), z16 unused). Writes g's codes into g16, which may be z16 (the
 * feed-forward op writes g over z), and adds the sum over rows of g into acc [cols] (double), so that a
 * caller walking the rows in pieces gets the sums of one call. */
WIDE void simcse_half_linear_grad_in(int fmt, int act, const float *R dy, const uint16_t *z16, uint16_t *g16,
                                     double *R acc, int64_t rows, int64_t cols) {
  /* Two passes: the codes, elementwise in blocks across threads; then the sums, each thread over a range
     of columns (multiples of 64) and every column over its rows in order, from the codes it reads. One
     pass, with the columns split between threads as it walked the rows, ran slower on two threads than
     on one here (docs/CPU-PERF.md, "Eleventh round"). Each value is added in the same order either
     way: acc[j] + g[0, j] + g[1, j] + … in double. */
  int64_t n = rows * cols;
#define GRAD_CODES(F, A) \
  PAR_BLOCKS(n, lo, hi, linear_grad(F, A, dy + lo, act == 0 ? NULL : z16 + lo, g16 + lo, NULL, hi - lo))
  DISPATCH(GRAD_CODES)
#undef GRAD_CODES
  column_sums_par(fmt, g16, NULL, acc, rows, cols);
}

/* simcse_half_linear_grad_in with g as float32 values in the format (the values of its codes) into g,
 * which may be dy: for products on a float32 kernel, which would otherwise widen g's codes. The sums are
 * the same: the same values added in the same order. */
WIDE void simcse_half_linear_grad_values(int fmt, int act, const float *dy, const uint16_t *z16, float *g,
                                         double *R acc, int64_t rows, int64_t cols) {
  int64_t n = rows * cols;
#define GRAD_VALUES(F, A) \
  PAR_BLOCKS(n, lo, hi, linear_grad(F, A, dy + lo, act == 0 ? NULL : z16 + lo, NULL, g + lo, hi - lo))
  DISPATCH(GRAD_VALUES)
#undef GRAD_VALUES
  column_sums_par(fmt, NULL, g, acc, rows, cols);
}

/* Codes of half(half(x) * scale) (the attention scores' gradient, scaled after its rounding). */
static inline void scaled_codes_range(int fmt, const float *R x, uint16_t *R out, int64_t n, float scale) {
  float vb[HALF_BLOCK];
  for (int64_t i0 = 0; i0 < n; i0 += HALF_BLOCK) {
    int64_t len = n - i0 < HALF_BLOCK ? n - i0 : HALF_BLOCK;
    half_round_n(fmt, x + i0, vb, len);
    for (int64_t j = 0; j < len; j++) vb[j] *= scale;
    half_pack_n(fmt, vb, out + i0, len);
  }
}

void simcse_half_scaled_codes(int fmt, const float *R x, uint16_t *R out, int64_t n, float scale) {
  if (fmt == HALF_BF16) {
    PAR_BLOCKS(n, lo, hi, scaled_codes_range(HALF_BF16, x + lo, out + lo, hi - lo, scale));
  } else {
    PAR_BLOCKS(n, lo, hi, scaled_codes_range(HALF_F16, x + lo, out + lo, hi - lo, scale));
  }
}

/* The 16-bit codes of float32 values. */
void simcse_half_pack(int fmt, const float *R x, uint16_t *R out, int64_t n) {
  if (fmt == HALF_BF16) {
    PAR_BLOCKS(n, lo, hi, half_pack_n(HALF_BF16, x + lo, out + lo, hi - lo));
  } else {
    PAR_BLOCKS(n, lo, hi, half_pack_n(HALF_F16, x + lo, out + lo, hi - lo));
  }
}

/* Values of 16-bit codes, and float32 values rounded to the format (dst may be src). */
void simcse_half_unpack(int fmt, const uint16_t *R h, float *R out, int64_t n) {
  if (fmt == HALF_BF16) {
    PAR_BLOCKS(n, lo, hi, half_unpack_n(HALF_BF16, h + lo, out + lo, hi - lo));
  } else {
    PAR_BLOCKS(n, lo, hi, half_unpack_n(HALF_F16, h + lo, out + lo, hi - lo));
  }
}

void simcse_half_round(int fmt, const float *src, float *dst, int64_t n) {
  if (fmt == HALF_BF16) {
    PAR_BLOCKS(n, lo, hi, half_round_n(HALF_BF16, src + lo, dst + lo, hi - lo));
  } else {
    PAR_BLOCKS(n, lo, hi, half_round_n(HALF_F16, src + lo, dst + lo, hi - lo));
  }
}

/* In place on the [b1, b2] batch of m x n blocks of c (row stride ld, batch strides s1, s2): c =
 * half(c), then, when post_scale != 1, c = half(c * post_scale). */
void simcse_half_round_block(int fmt, float *c, int64_t b1, int64_t b2, int64_t m, int64_t n, int64_t ld,
                             int64_t s1, int64_t s2, float post_scale) {
  int64_t rows = b1 * b2 * m;
#pragma omp parallel for schedule(static) if (rows * n > 2 * PAR_BLOCK)
  for (int64_t q = 0; q < rows; q++) {
    float *row = c + (q / (b2 * m)) * s1 + (q / m % b2) * s2 + (q % m) * ld;
    if (fmt == HALF_BF16) {
      half_round_scale_n(HALF_BF16, row, n, post_scale);
    } else {
      half_round_scale_n(HALF_F16, row, n, post_scale);
    }
  }
}

/* 1 when this build multiplies bf16 small matrices with AVX512_BF16's dot products (small_gemm.h). */
int32_t simcse_small_gemm_bf16_dot(void) {
#if defined(__AVX512BF16__)
  return 1;
#else
  return 0;
#endif
}

/* The matrices [b1, b2] of half(op(A) · op(B)) (then half(C * post_scale) when post_scale != 1) on this
 * library's threads, one matrix per thread at a time: small_gemm.h. a_kind / b_kind: 1 codes of fmt, 0
 * float32 values rounded to fmt here, 2 float32 values already in fmt. fmt SMALL_GEMM_F32: float32
 * operands and products, nothing rounded (the kinds are then 2). Element strides: rows ld, batch
 * s1 and s2. Returns 0, or -1 when a thread's tiles could not be allocated (then c is incomplete). */
int32_t simcse_half_batch_gemm(int32_t fmt, int32_t a_kind, int32_t b_kind, int32_t ta, int32_t tb, int64_t b1,
                               int64_t b2, int64_t m, int64_t n, int64_t k, const void *a, int64_t lda,
                               int64_t sa1, int64_t sa2, const void *b, int64_t ldb, int64_t sb1, int64_t sb2,
                               float *c, int64_t ldc, int64_t sc1, int64_t sc2, float post_scale) {
  int64_t items = b1 * b2;
  int failed = 0;
  int a2 = a_kind == 1 ? 2 : 4, b2s = b_kind == 1 ? 2 : 4; /* element bytes */
#pragma omp parallel if (items > 1 && items * m * n * k > 64 * PAR_BLOCK) reduction(| : failed)
  {
    small_gemm_tiles t;
    int ready = small_gemm_tiles_alloc(&t, fmt, m, n, k);
    if (!ready) failed = 1;
    /* every thread meets the loop (and its barrier); one without tiles takes no matrix */
#pragma omp for schedule(static)
    for (int64_t q = 0; q < items; q++) {
      if (!ready) continue;
      int64_t i1 = q / b2, i2 = q % b2;
      const char *pa = (const char *)a + (i1 * sa1 + i2 * sa2) * a2;
      const char *pb = (const char *)b + (i1 * sb1 + i2 * sb2) * b2s;
      float *pc = c + i1 * sc1 + i2 * sc2;
      if (fmt == HALF_BF16) {
        small_gemm_one(HALF_BF16, a_kind, b_kind, ta, tb, m, n, k, pa, lda, pb, ldb, pc, ldc, post_scale, &t);
      } else if (fmt == HALF_F16) {
        small_gemm_one(HALF_F16, a_kind, b_kind, ta, tb, m, n, k, pa, lda, pb, ldb, pc, ldc, post_scale, &t);
      } else {
        small_gemm_one(SMALL_GEMM_F32, 2, 2, ta, tb, m, n, k, pa, lda, pb, ldb, pc, ldc, post_scale, &t);
      }
    }
    small_gemm_tiles_free(&t);
  }
  return failed ? -1 : 0;
}
