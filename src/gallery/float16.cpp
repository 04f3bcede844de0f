#include "gallery/float16.hpp"

#include <cpuid.h>
#include <immintrin.h>

#include <cstring>

namespace pupembed {
namespace {

bool cpu_has_f16c() {
    // From cpuid (leaf 1, ECX): clang's __builtin_cpu_supports does not know "f16c".
    unsigned eax = 0, ebx = 0, ecx = 0, edx = 0;
    return __get_cpuid(1, &eax, &ebx, &ecx, &edx) != 0 && (ecx & bit_F16C) != 0;
}

/// `value` shifted right by `shift` bits, rounded to nearest, ties to even.
uint32_t shift_rounded(uint32_t value, uint32_t shift) {
    const uint32_t kept = value >> shift, rest = value & ((1u << shift) - 1), half = 1u << (shift - 1);
    return kept + (rest > half || (rest == half && (kept & 1u)) ? 1u : 0u);
}

uint16_t half_of_value(float value) {
    uint32_t x = 0;
    std::memcpy(&x, &value, sizeof(x));
    const auto sign = uint16_t((x >> 16) & 0x8000u);
    x &= 0x7fffffffu;
    if (x >= 0x7f800000u) return uint16_t(sign | 0x7c00u | (x > 0x7f800000u ? 0x200u : 0u));  // inf, NaN
    if (x >= 0x477ff000u) return uint16_t(sign | 0x7c00u);  // 65520 and more round to infinity
    if (x < 0x38800000u) {                                  // below 2^-14: a subnormal half, or zero
        if (x < 0x33000000u) return sign;                   // 2^-25 and less round to zero
        const uint32_t exponent = x >> 23, mantissa = (x & 0x7fffffu) | 0x800000u;
        return uint16_t(sign | shift_rounded(mantissa, 126 - exponent));
    }
    // A normal half: rebias the exponent (127 -> 15); a carry out of the mantissa is right.
    return uint16_t(sign | shift_rounded(((x >> 23) - 112) << 23 | (x & 0x7fffffu), 13));
}

float float_of_half(uint16_t half) {
    const uint32_t sign = uint32_t(half & 0x8000u) << 16, exponent = (half >> 10) & 0x1fu, mantissa = half & 0x3ffu;
    uint32_t bits = 0;
    if (exponent == 0) {
        const float value = float(mantissa) * 5.9604644775390625e-8f;  // 2^-24
        std::memcpy(&bits, &value, sizeof(bits));
        bits |= sign;
    } else if (exponent == 31) {
        bits = sign | 0x7f800000u | (mantissa << 13);
    } else {
        bits = sign | ((exponent + 112) << 23) | (mantissa << 13);
    }
    float value = 0;
    std::memcpy(&value, &bits, sizeof(value));
    return value;
}

__attribute__((target("avx2,fma,f16c"))) void to_half_f16c(const float* in, uint16_t* out, int64_t count) {
    int64_t i = 0;
    for (; i + 8 <= count; i += 8)
        _mm_storeu_si128(reinterpret_cast<__m128i*>(out + i), _mm256_cvtps_ph(_mm256_loadu_ps(in + i), _MM_FROUND_TO_NEAREST_INT));
    for (; i < count; ++i)
        out[i] = static_cast<uint16_t>(_mm_extract_epi16(_mm_cvtps_ph(_mm_set_ss(in[i]), _MM_FROUND_TO_NEAREST_INT), 0));
}

__attribute__((target("avx2,fma,f16c"))) void to_floats_f16c(const uint16_t* in, float* out, int64_t count) {
    int64_t i = 0;
    for (; i + 8 <= count; i += 8)
        _mm256_storeu_ps(out + i, _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(in + i))));
    for (; i < count; ++i) out[i] = float_of_half(in[i]);
}

__attribute__((target("avx2,fma,f16c"))) float dot_f16c(const uint16_t* row, const float* query, int64_t count) {
    __m256 sum = _mm256_setzero_ps();
    int64_t i = 0;
    for (; i + 8 <= count; i += 8)
        sum = _mm256_fmadd_ps(_mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(row + i))),
                              _mm256_loadu_ps(query + i), sum);
    alignas(32) float lanes[8];
    _mm256_store_ps(lanes, sum);
    float total = ((lanes[0] + lanes[1]) + (lanes[2] + lanes[3])) + ((lanes[4] + lanes[5]) + (lanes[6] + lanes[7]));
    for (; i < count; ++i) total += float_of_half(row[i]) * query[i];
    return total;
}

}  // namespace

uint16_t half_from_float_portable(float value) { return half_of_value(value); }
float float_from_half_portable(uint16_t half) { return float_of_half(half); }

bool cpu_has_avx2_f16c() {
    static const bool has = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma") && cpu_has_f16c();
    return has;
}

void floats_to_half(const float* in, uint16_t* out, int64_t count) {
    if (cpu_has_avx2_f16c()) return to_half_f16c(in, out, count);
    for (int64_t i = 0; i < count; ++i) out[i] = half_of_value(in[i]);
}

void half_to_floats(const uint16_t* in, float* out, int64_t count) {
    if (cpu_has_avx2_f16c()) return to_floats_f16c(in, out, count);
    for (int64_t i = 0; i < count; ++i) out[i] = float_of_half(in[i]);
}

float half_dot(const uint16_t* row, const float* query, int64_t count) {
    if (cpu_has_avx2_f16c()) return dot_f16c(row, query, count);
    float total = 0;
    for (int64_t i = 0; i < count; ++i) total += float_of_half(row[i]) * query[i];
    return total;
}

}  // namespace pupembed
