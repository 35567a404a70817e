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

static inline uint16_t bf16_of(uint32_t u) {
  if ((u & 0x7f800000u) == 0x7f800000u && (u & 0x7fffffu)) return (uint16_t)((u >> 16) | 0x40);
  return (uint16_t)((u + 0x7fffu + ((u >> 16) & 1u)) >> 16);
}

static inline uint16_t f16_of(uint32_t b) {
  uint32_t sign = (b >> 16) & 0x8000u, e = (b >> 23) & 0xffu, m = b & 0x7fffffu;
  if (e == 0xff) return (uint16_t)(sign | 0x7c00u | (m ? 0x200u | (m >> 13) : 0));
  if (e >= 143) return (uint16_t)(sign | 0x7c00u);
  if (e >= 113) {
    uint32_t v = ((e - 112) << 10) | (m >> 13), rest = m & 0x1fffu;
    return (uint16_t)(sign | ((rest > 0x1000u || (rest == 0x1000u && (v & 1u))) ? v + 1 : v));
  }
  if (e < 102) return (uint16_t)sign;
  uint32_t mm = m | 0x800000u, shift = 126 - e, v = mm >> shift, rest = mm & ((1u << shift) - 1);
  uint32_t half = 1u << (shift - 1);
  return (uint16_t)(sign | ((rest > half || (rest == half && (v & 1u))) ? v + 1 : v));
}

static inline float f32_of_bf16(uint16_t h) { return f32_of_bits((uint32_t)h << 16); }

static inline float f32_of_f16(uint16_t h) {
  uint32_t sign = (uint32_t)(h & 0x8000u) << 16, e = (h >> 10) & 0x1fu, m = h & 0x3ffu;
  if (e == 0) return f32_of_bits(f32_bits((float)m * (1.0f / 16777216.0f)) | sign);
  if (e == 31) return f32_of_bits(sign | 0x7f800000u | (m << 13));
  return f32_of_bits(sign | ((e + 112) << 23) | (m << 13));
}

/* The 16-bit code of v in format fmt, and the value of a code. */
static inline uint16_t half_code(int fmt, float v) {
  return fmt == HALF_BF16 ? bf16_of(f32_bits(v)) : f16_of(f32_bits(v));
}

static inline float half_value(int fmt, uint16_t h) { return fmt == HALF_BF16 ? f32_of_bf16(h) : f32_of_f16(h); }

/* v rounded to format fmt, as float32. */
static inline float half_round(int fmt, float v) { return half_value(fmt, half_code(fmt, v)); }

#endif
