// y = x W^T for FP16 weights [rows x cols] and FP32 activations: the output head of quantized
// models, kept in FP16 as the paper counts it (half the bytes per decoded token of FP32).
#pragma once
#include <cstdint>

namespace binq {

// x: [n x cols], y: [n x rows]. OpenMP over rows; AVX2+F16C path when the active ISA allows.
void fp16_matmul(const uint16_t* w, int rows, int cols, const float* x, int n, float* y);

// dst[i] = src[i] as float (exact), F16C when the active ISA allows.
void fp16_to_f32(const uint16_t* src, int64_t n, float* dst);

namespace detail {
void fp16_matmul_rows_scalar(const uint16_t* w, int cols, const float* x, int n, int rows, int r0, int r1, float* y);
void fp16_to_f32_avx2(const uint16_t* src, int64_t n, float* dst);
void fp16_matmul_rows_avx2(const uint16_t* w, int cols, const float* x, int n, int rows, int r0, int r1, float* y);
}  // namespace detail

}  // namespace binq
