// IEEE half-precision (float16) rows: conversion both ways and the inner product of a float16 row
// with a float32 query, with F16C and AVX2 where the CPU has them (round to nearest, ties to even,
// either way; the same bits on every CPU).
#pragma once

#include <cstdint>

namespace pupembed {

/// Whether this CPU has AVX2, FMA and F16C (the fast paths here and in exact_scan.cpp).
bool cpu_has_avx2_f16c();

void floats_to_half(const float* in, uint16_t* out, int64_t count);
void half_to_floats(const uint16_t* in, float* out, int64_t count);

/// One value each way without F16C (what the functions above do on CPUs without it).
uint16_t half_from_float_portable(float value);
float float_from_half_portable(uint16_t half);

/// sum_i row[i] * query[i] over `count` values.
float half_dot(const uint16_t* row, const float* query, int64_t count);

}  // namespace pupembed
