/*
 * A thin C layer over oneDNN's matmul primitive for lib/kernels/onednn.ts (built and cached by
 * lib/kernels/native_kernels.ts, linked with -ldnnl). Row-major, strided, optionally batched over two
 * axes:
 *
 *   C[i1, i2] = alpha * op(A[i1, i2]) . op(B[i1, i2]) + beta * C[i1, i2]     (M x N, inner K)
 *
 * in f32, or with bf16 / f16 operands and f32 accumulation and output. Operands given as float32 are
 * rounded to the 16-bit type here (round to nearest, ties to even, bit-exact with lib/ops/bf16.ts and
 * lib/ops/fp16.ts), or they are passed already as 16-bit codes. Optionally the f32 result is rounded
 * to the 16-bit type afterwards (and then scaled and rounded again: the attention scores' "scale after
 * the product" of docs/PRECISION.md). Primitives are cached per (dtype, shape, strides, transposes,
 * alpha, beta != 0).
 */
#include <oneapi/dnnl/dnnl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "half.h"
#include "par.h"

extern void omp_set_num_threads(int);

static dnnl_engine_t engine;
static dnnl_stream_t stream;
static int ready = 0;

int simcse_dnnl_init(void) {
  if (ready) return 0;
  if (dnnl_engine_create(&engine, dnnl_cpu, 0) != dnnl_success) return -1;
  if (dnnl_stream_create(&stream, engine, dnnl_stream_default_flags) != dnnl_success) return -2;
  ready = 1;
  return 0;
}

void simcse_dnnl_set_threads(int n) { omp_set_num_threads(n); }

void simcse_pack_bf16(const uint32_t *src, uint16_t *dst, int64_t n) {
  for (int64_t i = 0; i < n; i++) dst[i] = bf16_of(src[i]);
}

void simcse_pack_f16(const uint32_t *src, uint16_t *dst, int64_t n) {
  f16_pack_n((const float *)src, dst, n);
}

/* dst may be src. */
void simcse_round_bf16(const uint32_t *src, uint32_t *dst, int64_t n) {
  for (int64_t i = 0; i < n; i++) dst[i] = (uint32_t)bf16_of(src[i]) << 16;
}

void simcse_round_f16(const float *src, float *dst, int64_t n) { f16_round_n(src, dst, n); }

/* ---- scratch buffers for operands converted here ---- */

static uint16_t *scratch[2];
static int64_t scratch_len[2];

static uint16_t *convert(int slot, int dt, const float *src, int64_t n) {
  if (scratch_len[slot] < n) {
    free(scratch[slot]);
    scratch[slot] = (uint16_t *)aligned_alloc(64, (size_t)((n * 2 + 63) / 64 * 64));
    scratch_len[slot] = scratch[slot] ? n : 0;
    if (!scratch[slot]) return NULL;
  }
  uint16_t *d = scratch[slot];
  if (dt == 1) {
    PAR_BLOCKS(n, lo, hi, half_pack_n(HALF_BF16, src + lo, d + lo, hi - lo));
  } else {
    PAR_BLOCKS(n, lo, hi, half_pack_n(HALF_F16, src + lo, d + lo, hi - lo));
  }
  return d;
}

/* binary16 operands for the f32 kernel (dt 3): float32 values of the codes, or float32 values rounded to
   binary16. Products of binary16 values are exact in float32, so the f32 kernel computes what an f16
   kernel with f32 accumulation computes, up to summation order. */
static float *fscratch[2];
static int64_t fscratch_len[2];

static float *widen_f16(int slot, const void *src, int is16, int64_t n) {
  if (fscratch_len[slot] < n) {
    free(fscratch[slot]);
    fscratch[slot] = (float *)aligned_alloc(64, (size_t)((n * 4 + 63) / 64 * 64));
    fscratch_len[slot] = fscratch[slot] ? n : 0;
    if (!fscratch[slot]) return NULL;
  }
  float *d = fscratch[slot];
  if (is16) {
    const uint16_t *h = (const uint16_t *)src;
    PAR_BLOCKS(n, lo, hi, f16_unpack_n(h + lo, d + lo, hi - lo));
  } else {
    const float *f = (const float *)src;
    PAR_BLOCKS(n, lo, hi, f16_round_n(f + lo, d + lo, hi - lo));
  }
  return d;
}

/* ---- primitive cache ---- */

typedef struct {
  int64_t key[20];
  dnnl_primitive_t prim;
  dnnl_memory_t ma, mb, mc;
} entry_t;

#define CACHE 64
static entry_t cache[CACHE];
static int cache_used = 0, cache_next = 0;

static dnnl_data_type_t dtype_of(int dt) { return dt == 1 ? dnnl_bf16 : dt == 2 ? dnnl_f16 : dnnl_f32; }

/* Memory descriptor of a row-major [rows, cols] matrix (row stride ld), batched over b1 x b2. */
static dnnl_status_t md_init(dnnl_memory_desc_t *md, dnnl_data_type_t t, int64_t b1, int64_t b2,
                             int64_t rows, int64_t cols, int trans, int64_t ld, int64_t s1, int64_t s2) {
  /* op(X) is [rows, cols]; stored transposed when trans (then X is [cols, rows] with row stride ld). */
  int64_t rs = trans ? 1 : ld, cs = trans ? ld : 1;
  if (b1 == 1 && b2 == 1) {
    dnnl_dims_t d = {rows, cols}, s = {rs, cs};
    return dnnl_memory_desc_init_by_strides(md, 2, d, t, s);
  }
  if (b1 == 1) {
    dnnl_dims_t d = {b2, rows, cols}, s = {s2, rs, cs};
    return dnnl_memory_desc_init_by_strides(md, 3, d, t, s);
  }
  dnnl_dims_t d = {b1, b2, rows, cols}, s = {s1, s2, rs, cs};
  return dnnl_memory_desc_init_by_strides(md, 4, d, t, s);
}

static entry_t *lookup(const int64_t *key) {
  for (int i = 0; i < cache_used; i++) {
    if (memcmp(cache[i].key, key, sizeof(cache[i].key)) == 0) return &cache[i];
  }
  return NULL;
}

/* Build (or find) the primitive; NULL with *status set on failure. impl receives its name when given. */
static entry_t *primitive(int dt, int ta, int tb, int64_t b1, int64_t b2, int64_t m, int64_t n, int64_t k,
                          int64_t lda, int64_t sa1, int64_t sa2, int64_t ldb, int64_t sb1, int64_t sb2,
                          int64_t ldc, int64_t sc1, int64_t sc2, float alpha, float beta, int *status,
                          char *impl, int64_t impl_len) {
  int64_t key[20] = {dt, ta, tb, b1, b2, m, n, k, lda, sa1, sa2, ldb, sb1, sb2, ldc, sc1, sc2, 0, 0, 0};
  memcpy(&key[17], &alpha, 4);
  key[18] = beta != 0.0f;
  memcpy(&key[19], &beta, 4);
  entry_t *e = lookup(key);
  if (e && !impl) return e;
  dnnl_memory_desc_t a_md, b_md, c_md;
  dnnl_data_type_t t = dtype_of(dt);
  *status = md_init(&a_md, t, b1, b2, m, k, ta, lda, sa1, sa2);
  if (*status == dnnl_success) *status = md_init(&b_md, t, b1, b2, k, n, tb, ldb, sb1, sb2);
  if (*status == dnnl_success) *status = md_init(&c_md, dnnl_f32, b1, b2, m, n, 0, ldc, sc1, sc2);
  if (*status != dnnl_success) return NULL;
  dnnl_matmul_desc_t desc;
  *status = dnnl_matmul_desc_init(&desc, &a_md, &b_md, NULL, &c_md);
  if (*status != dnnl_success) return NULL;
  dnnl_primitive_attr_t attr;
  dnnl_primitive_attr_create(&attr);
  if (alpha != 1.0f) dnnl_primitive_attr_set_output_scales(attr, 1, 0, &alpha);
  dnnl_post_ops_t po = NULL;
  if (beta != 0.0f) {
    dnnl_post_ops_create(&po);
    dnnl_post_ops_append_sum(po, beta);
    dnnl_primitive_attr_set_post_ops(attr, po);
  }
  dnnl_primitive_desc_t pd;
  *status = dnnl_primitive_desc_create(&pd, &desc, attr, engine, NULL);
  dnnl_primitive_attr_destroy(attr);
  if (po) dnnl_post_ops_destroy(po);
  if (*status != dnnl_success) return NULL;
  if (impl) {
    const char *name = NULL;
    dnnl_primitive_desc_query(pd, dnnl_query_impl_info_str, 0, (void *)&name);
    snprintf(impl, (size_t)impl_len, "%s", name ? name : "?");
    if (e) {
      dnnl_primitive_desc_destroy(pd);
      return e;
    }
  }
  dnnl_primitive_t prim;
  *status = dnnl_primitive_create(&prim, pd);
  if (*status != dnnl_success) {
    dnnl_primitive_desc_destroy(pd);
    return NULL;
  }
  if (cache_used < CACHE) {
    e = &cache[cache_used++];
  } else {
    e = &cache[cache_next];
    cache_next = (cache_next + 1) % CACHE;
    dnnl_primitive_destroy(e->prim);
    dnnl_memory_destroy(e->ma);
    dnnl_memory_destroy(e->mb);
    dnnl_memory_destroy(e->mc);
  }
  memcpy(e->key, key, sizeof(key));
  e->prim = prim;
  dnnl_memory_create(&e->ma, &a_md, engine, DNNL_MEMORY_NONE);
  dnnl_memory_create(&e->mb, &b_md, engine, DNNL_MEMORY_NONE);
  dnnl_memory_create(&e->mc, &c_md, engine, DNNL_MEMORY_NONE);
  dnnl_primitive_desc_destroy(pd);
  return e;
}

/* Elements from the first to one past the last of a strided operand. */
static int64_t span(int64_t b1, int64_t b2, int64_t rows, int64_t cols, int trans, int64_t ld, int64_t s1,
                    int64_t s2) {
  int64_t srows = trans ? cols : rows, scols = trans ? rows : cols;
  return (b1 - 1) * s1 + (b2 - 1) * s2 + (srows - 1) * ld + scols;
}

/*
 * dt: 0 f32, 1 bf16, 2 f16, 3 f16 on the f32 kernel (operand type; accumulation and C are f32). a16/b16: operand given as 16-bit
 * codes of dt (1), else float32, rounded here when dt != 0 (0), or (2, dt 3 only) float32 values already
 * binary16, used without a copy. round_out: 0, or 1 / 2 to round C to bf16 / f16
 * afterwards; then post_scale != 1 multiplies and rounds once more. Returns 0, or a dnnl status / -1.
 */
int simcse_dnnl_matmul(int dt, int a16, int b16, int ta, int tb, int64_t b1, int64_t b2, int64_t m,
                       int64_t n, int64_t k, const void *a, int64_t lda, int64_t sa1, int64_t sa2,
                       const void *b, int64_t ldb, int64_t sb1, int64_t sb2, float *c, int64_t ldc,
                       int64_t sc1, int64_t sc2, float alpha, float beta, int round_out, float post_scale) {
  if (!ready && simcse_dnnl_init() != 0) return -1;
  int status = 0;
  int kernel_dt = dt == 3 ? 0 : dt; /* dt 3: binary16 operands on the f32 kernel */
  entry_t *e = primitive(kernel_dt, ta, tb, b1, b2, m, n, k, lda, sa1, sa2, ldb, sb1, sb2, ldc, sc1, sc2,
                         alpha, beta, &status, NULL, 0);
  if (!e) return status ? status : -1;
  const void *pa = a, *pb = b;
  int64_t na = span(b1, b2, m, k, ta, lda, sa1, sa2), nb = span(b1, b2, k, n, tb, ldb, sb1, sb2);
  if (dt == 3) { /* a16/b16 == 2: float32 values already binary16, taken as they are */
    if (a16 != 2) pa = widen_f16(0, a, a16, na);
    if (b16 != 2) pb = widen_f16(1, b, b16, nb);
  } else {
    if (dt != 0 && a16 != 1) pa = convert(0, dt, (const float *)a, na);
    if (dt != 0 && b16 != 1) pb = convert(1, dt, (const float *)b, nb);
  }
  if (!pa || !pb) return -1;
  dnnl_memory_set_data_handle(e->ma, (void *)pa);
  dnnl_memory_set_data_handle(e->mb, (void *)pb);
  dnnl_memory_set_data_handle(e->mc, c);
  dnnl_exec_arg_t args[3] = {{DNNL_ARG_SRC, e->ma}, {DNNL_ARG_WEIGHTS, e->mb}, {DNNL_ARG_DST, e->mc}};
  status = dnnl_primitive_execute(e->prim, stream, 3, args);
  if (status != dnnl_success) return status;
  dnnl_stream_wait(stream);
  if (round_out == 3) round_out = HALF_F16;
  if (round_out) {
    int64_t rows = b1 * b2 * m;
#pragma omp parallel for schedule(static) if (rows * n > 2 * PAR_BLOCK)
    for (int64_t q = 0; q < rows; q++) {
      half_round_scale_n(round_out, c + (q / (b2 * m)) * sc1 + (q / m % b2) * sc2 + (q % m) * ldc, n, post_scale);
    }
  }
  return 0;
}

static const char *isa_name(dnnl_cpu_isa_t isa) {
  switch ((int)isa) {
    case dnnl_cpu_isa_sse41: return "sse41";
    case dnnl_cpu_isa_avx: return "avx";
    case dnnl_cpu_isa_avx2: return "avx2";
    case dnnl_cpu_isa_avx2_vnni: return "avx2_vnni";
    case dnnl_cpu_isa_avx512_core: return "avx512_core";
    case dnnl_cpu_isa_avx512_core_vnni: return "avx512_core_vnni";
    case dnnl_cpu_isa_avx512_core_bf16: return "avx512_core_bf16";
    case dnnl_cpu_isa_avx512_core_amx: return "avx512_core_amx";
    default: return "other";
  }
}

/* "oneDNN 2.6.3 (effective ISA avx512_core_amx)" into buf. */
void simcse_dnnl_version(char *buf, int64_t len) {
  const dnnl_version_t *v = dnnl_version();
  snprintf(buf, (size_t)len, "oneDNN %d.%d.%d (effective ISA %s)", v->major, v->minor, v->patch,
           isa_name(dnnl_get_effective_cpu_isa()));
}

/* The implementation oneDNN picks for an m x n x k matmul of type dt into buf; 0, or non-zero when the
   type is not supported here. */
int simcse_dnnl_impl(int dt, int64_t m, int64_t n, int64_t k, char *buf, int64_t len) {
  if (!ready && simcse_dnnl_init() != 0) return -1;
  int status = 0;
  entry_t *e = primitive(dt, 0, 0, 1, 1, m, n, k, k, 0, 0, n, 0, 0, n, 0, 0, 1.0f, 0.0f, &status, buf, len);
  return e ? 0 : status ? status : -1;
}
