// IEEE binary16 and bfloat16 <-> float conversions (scalar, exact round-to-nearest-even).
#pragma once
#include <cstdint>
#include <cstring>

namespace binq {

inline float bf16_to_float(uint16_t h) {
  uint32_t bits = static_cast<uint32_t>(h) << 16;
  float f;
  std::memcpy(&f, &bits, 4);
  return f;
}

inline uint16_t float_to_bf16(float f) {
  uint32_t bits;
  std::memcpy(&bits, &f, 4);
  if ((bits & 0x7fffffffu) > 0x7f800000u) return static_cast<uint16_t>((bits >> 16) | 0x40);  // NaN
  bits += 0x7fffu + ((bits >> 16) & 1u);
  return static_cast<uint16_t>(bits >> 16);
}

inline float bits_to_float(uint32_t u) {
  float f;
  std::memcpy(&f, &u, 4);
  return f;
}

inline uint32_t float_to_bits(float f) {
  uint32_t u;
  std::memcpy(&u, &f, 4);
  return u;
}

inline float fp16_to_float(uint16_t h) {
  constexpr uint32_t kExpMask = 0x7c00u << 13;
  uint32_t o = static_cast<uint32_t>(h & 0x7fffu) << 13;
  uint32_t exp = o & kExpMask;
  o += (127u - 15u) << 23;
  if (exp == kExpMask) {
    o += (128u - 16u) << 23;  // Inf / NaN
  } else if (exp == 0) {      // zero / subnormal: renormalise through a float subtraction
    o += 1u << 23;
    o = float_to_bits(bits_to_float(o) - bits_to_float(113u << 23));
  }
  return bits_to_float(o | static_cast<uint32_t>(h & 0x8000u) << 16);
}

// Round to nearest even; overflow gives Inf, NaN stays NaN.
inline uint16_t float_to_fp16(float f) {
  constexpr uint32_t kF32Inf = 255u << 23;
  constexpr uint32_t kF16Max = (127u + 16u) << 23;
  constexpr uint32_t kDenormMagic = ((127u - 15u) + (23u - 10u) + 1u) << 23;
  uint32_t u = float_to_bits(f);
  uint32_t sign = u & 0x80000000u;
  u ^= sign;
  uint32_t o;
  if (u >= kF16Max) {
    o = u > kF32Inf ? 0x7e00u : 0x7c00u;
  } else if (u < (113u << 23)) {  // result is subnormal: let the FPU round
    o = float_to_bits(bits_to_float(u) + bits_to_float(kDenormMagic)) - kDenormMagic;
  } else {
    uint32_t mant_odd = (u >> 13) & 1u;
    u += ((15u - 127u) << 23) + 0xfffu + mant_odd;
    o = u >> 13;
  }
  return static_cast<uint16_t>(o | sign >> 16);
}

// Rounds a float to the nearest value representable in fp16 (what storing it as FP16 does).
inline float round_to_fp16(float f) { return fp16_to_float(float_to_fp16(f)); }

}  // namespace binq
