/*
 * bfloat16 and binary16 rounding for the C kernels (included by simcse_kernels.c and onednn_shim.c).
 * Round to nearest, ties to even, on the float32 bit pattern with integer arithmetic, so the results do
 * not depend on MXCSR's FTZ/DAZ or on fast-math flags; bit-exact with lib/runtime/bfloat16.ts and
 * lib/runtime/float16.ts (NaN stays NaN, binary16 overflows to +-Inf and keeps subnormals down to 2^-24).
 */
#ifndef SIMCSE_HALF_H
#define SIMCSE_HALF_H
#include <stdint.h>
#include <string.h>
#if defined(__AVX512F__) || defined(__F16C__)
#include <immintrin.h>
#endif

/* Formats, as the TS side numbers them: 1 bfloat16, 2 binary16. */
#define HALF_BF16 1
#define HALF_F16 2

static inline uint32_t f32_bits(float v) {
  uint32_t u;
  memcpy(&u, &v, 4);
  return u;
}

static inline float f32_of_bits(uint32_t u) {
  float v;
  memcpy(&v, &u, 4);
  return v;
}

/* Branch-free (selects only), so that loops over arrays vectorise. */
static inline uint16_t bf16_of(uint32_t u) {
  uint32_t rounded = (u + 0x7fffu + ((u >> 16) & 1u)) >> 16;
  uint32_t quiet_nan = (u >> 16) | 0x40u;
  return (uint16_t)((u & 0x7fffffffu) > 0x7f800000u ? quiet_nan : rounded);
}

static inline uint16_t f16_of(uint32_t b) {
  uint32_t sign = (b >> 16) & 0x8000u, a = b & 0x7fffffffu;
  /* Normal results (2^-14 <= |x| < 2^16): rebias the exponent and round at mantissa bit 13; a carry
     moves into the exponent, up to 0x7c00 (Inf) for |x| >= 65520. */
  uint32_t normal = (a - (112u << 23) + 0xfffu + ((a >> 13) & 1u)) >> 13;
  /* Subnormal results (|x| < 2^-14): |x| + 0.5 has an ulp of 2^-24, binary16's smallest subnormal, so
     the float addition rounds |x| to nearest even and leaves the code in the low bits. */
  uint32_t sub = f32_bits(f32_of_bits(a) + 0.5f) - 0x3f000000u;
  uint32_t nan = 0x7e00u | ((a & 0x7fffffu) >> 13);
  uint32_t h = a > 0x7f800000u ? nan : a >= 0x47800000u ? 0x7c00u : a >= 0x38800000u ? normal : sub;
  return (uint16_t)(sign | h);
}

static inline float f32_of_bf16(uint16_t h) { return f32_of_bits((uint32_t)h << 16); }

static inline float f32_of_f16(uint16_t h) {
  uint32_t sign = (uint32_t)(h & 0x8000u) << 16, e = (h >> 10) & 0x1fu, m = h & 0x3ffu;
  uint32_t normal = sign | ((e + 112) << 23) | (m << 13);
  uint32_t inf_nan = sign | 0x7f800000u | (m << 13);
  uint32_t sub = f32_bits((float)m * (1.0f / 16777216.0f)) | sign; /* exact */
  return f32_of_bits(e == 0 ? sub : e == 31 ? inf_nan : normal);
}

/* The 16-bit code of v in format fmt, and the value of a code. */
static inline uint16_t half_code(int fmt, float v) {
  return fmt == HALF_BF16 ? bf16_of(f32_bits(v)) : f16_of(f32_bits(v));
}

static inline float half_value(int fmt, uint16_t h) { return fmt == HALF_BF16 ? f32_of_bf16(h) : f32_of_f16(h); }

/* v rounded to format fmt, as float32. */
static inline float half_round(int fmt, float v) { return half_value(fmt, half_code(fmt, v)); }

/* ---- array forms ----
 * For binary16 these use the CPU's conversion instructions when the compiler targets them (AVX-512F, else
 * F16C; -march=native): vcvtps2ph with round to nearest even gives f16_of's code for every one of the
 * 2^32 float32 bit patterns, whatever MXCSR's FTZ/DAZ say (checked exhaustively on this project's
 * machines, docs/PRECISION.md), and vcvtph2ps is exact (it only quietens signalling-NaN codes, which
 * f16_of never produces). The tails, and CPUs without either, use the integer forms above. */

static inline void f16_pack_n(const float *src, uint16_t *dst, int64_t n) {
  int64_t i = 0;
#if defined(__AVX512F__)
  for (; i + 16 <= n; i += 16)
    _mm256_storeu_si256((__m256i *)(dst + i),
                        _mm512_cvtps_ph(_mm512_loadu_ps(src + i), _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC));
#elif defined(__F16C__)
  for (; i + 8 <= n; i += 8)
    _mm_storeu_si128((__m128i *)(dst + i), _mm256_cvtps_ph(_mm256_loadu_ps(src + i), _MM_FROUND_TO_NEAREST_INT));
#endif
  for (; i < n; i++) dst[i] = f16_of(f32_bits(src[i]));
}

static inline void f16_unpack_n(const uint16_t *src, float *dst, int64_t n) {
  int64_t i = 0;
#if defined(__AVX512F__)
  for (; i + 16 <= n; i += 16) _mm512_storeu_ps(dst + i, _mm512_cvtph_ps(_mm256_loadu_si256((const __m256i *)(src + i))));
#elif defined(__F16C__)
  for (; i + 8 <= n; i += 8) _mm256_storeu_ps(dst + i, _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(src + i))));
#endif
  for (; i < n; i++) dst[i] = f32_of_f16(src[i]);
}

/* dst may be src. */
static inline void f16_round_n(const float *src, float *dst, int64_t n) {
  int64_t i = 0;
#if defined(__AVX512F__)
  for (; i + 16 <= n; i += 16)
    _mm512_storeu_ps(dst + i, _mm512_cvtph_ps(_mm512_cvtps_ph(_mm512_loadu_ps(src + i),
                                                             _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC)));
#elif defined(__F16C__)
  for (; i + 8 <= n; i += 8)
    _mm256_storeu_ps(dst + i, _mm256_cvtph_ps(_mm256_cvtps_ph(_mm256_loadu_ps(src + i), _MM_FROUND_TO_NEAREST_INT)));
#endif
  for (; i < n; i++) dst[i] = half_round(HALF_F16, src[i]);
}

/* bfloat16 with AVX512_BF16 (-march=native on a CPU that has it): vcvtneps2bf16 rounds to nearest even
 * on the bit pattern and quietens NaNs as bf16_of does, but flushes float32 subnormal inputs to zero, so a
 * vector holding one takes bf16_of instead (bf16 keeps float32's exponent range: only subnormal inputs have
 * subnormal codes). The integer forms are bit-exact on every pattern; these give the same codes. */
#if defined(__AVX512BF16__)
static inline __mmask16 bf16_subnormals(__m512i u) {
  return _mm512_mask_test_epi32_mask(_mm512_testn_epi32_mask(u, _mm512_set1_epi32(0x7f800000)), u,
                                     _mm512_set1_epi32(0x007fffff));
}

static inline void bf16_pack_vec_n(const float *src, uint16_t *dst, int64_t n) {
  int64_t i = 0;
  for (; i + 16 <= n; i += 16) {
    __m512 v = _mm512_loadu_ps(src + i);
    if (bf16_subnormals(_mm512_castps_si512(v))) {
      for (int64_t j = i; j < i + 16; j++) dst[j] = bf16_of(f32_bits(src[j]));
    } else {
      _mm256_storeu_si256((__m256i *)(dst + i), (__m256i)_mm512_cvtneps_pbh(v));
    }
  }
  for (; i < n; i++) dst[i] = bf16_of(f32_bits(src[i]));
}

/* dst may be src. */
static inline void bf16_round_vec_n(const float *src, float *dst, int64_t n) {
  int64_t i = 0;
  for (; i + 16 <= n; i += 16) {
    __m512 v = _mm512_loadu_ps(src + i);
    if (bf16_subnormals(_mm512_castps_si512(v))) {
      for (int64_t j = i; j < i + 16; j++) dst[j] = f32_of_bf16(bf16_of(f32_bits(src[j])));
    } else {
      __m512i h = _mm512_cvtepu16_epi32((__m256i)_mm512_cvtneps_pbh(v));
      _mm512_storeu_ps(dst + i, _mm512_castsi512_ps(_mm512_slli_epi32(h, 16)));
    }
  }
  for (; i < n; i++) dst[i] = f32_of_bf16(bf16_of(f32_bits(src[i])));
}
#endif

/* Codes, values and rounding of n elements in format fmt (a constant where these are inlined). */
static inline void half_pack_n(int fmt, const float *src, uint16_t *dst, int64_t n) {
  if (fmt == HALF_F16) {
    f16_pack_n(src, dst, n);
    return;
  }
#if defined(__AVX512BF16__)
  bf16_pack_vec_n(src, dst, n);
#else
  for (int64_t i = 0; i < n; i++) dst[i] = bf16_of(f32_bits(src[i]));
#endif
}

static inline void half_unpack_n(int fmt, const uint16_t *src, float *dst, int64_t n) {
  if (fmt == HALF_F16) {
    f16_unpack_n(src, dst, n);
    return;
  }
  for (int64_t i = 0; i < n; i++) dst[i] = f32_of_bf16(src[i]);
}

static inline void half_round_n(int fmt, const float *src, float *dst, int64_t n) {
  if (fmt == HALF_F16) {
    f16_round_n(src, dst, n);
    return;
  }
#if defined(__AVX512BF16__)
  bf16_round_vec_n(src, dst, n);
#else
  for (int64_t i = 0; i < n; i++) dst[i] = half_round(HALF_BF16, src[i]);
#endif
}

/* In place: x = half(x), then, when scale != 1, x = half(x * scale). */
static inline void half_round_scale_n(int fmt, float *x, int64_t n, float scale) {
  half_round_n(fmt, x, x, n);
  if (scale != 1.0f) {
    for (int64_t i = 0; i < n; i++) x[i] *= scale;
    half_round_n(fmt, x, x, n);
  }
}

#endif
