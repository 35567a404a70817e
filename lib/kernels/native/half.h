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

#endif
