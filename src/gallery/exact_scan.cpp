#include "gallery/exact_scan.hpp"

#include <cpuid.h>
#include <immintrin.h>

#include <algorithm>
#include <cmath>

namespace pupembed {
namespace {

bool cpu_has_f16c() {
    // From cpuid (leaf 1, ECX): clang's __builtin_cpu_supports does not know "f16c".
    unsigned eax = 0, ebx = 0, ecx = 0, edx = 0;
    return __get_cpuid(1, &eax, &ebx, &ecx, &edx) != 0 && (ecx & bit_F16C) != 0;
}

bool cpu_has_avx2_f16c() {
    static const bool has = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma") && cpu_has_f16c();
    return has;
}

__attribute__((target("avx2,fma,f16c"))) void to_half(const float* in, uint16_t* out, int64_t count) {
    int64_t i = 0;
    for (; i + 8 <= count; i += 8)
        _mm_storeu_si128(reinterpret_cast<__m128i*>(out + i), _mm256_cvtps_ph(_mm256_loadu_ps(in + i), _MM_FROUND_TO_NEAREST_INT));
    for (; i < count; ++i)
        out[i] = static_cast<uint16_t>(_mm_extract_epi16(_mm_cvtps_ph(_mm_set_ss(in[i]), _MM_FROUND_TO_NEAREST_INT), 0));
}

__attribute__((target("avx2,fma,f16c"))) float half_dot(const uint16_t* row, const float* query, int64_t d) {
    __m256 acc = _mm256_setzero_ps();
    int64_t j = 0;
    for (; j + 8 <= d; j += 8)
        acc = _mm256_fmadd_ps(_mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(row + j))),
                              _mm256_loadu_ps(query + j), acc);
    __m128 s = _mm_add_ps(_mm256_castps256_ps128(acc), _mm256_extractf128_ps(acc, 1));
    s = _mm_hadd_ps(s, s);
    s = _mm_hadd_ps(s, s);
    float sum = _mm_cvtss_f32(s);
    for (; j < d; ++j) sum += _cvtsh_ss(row[j]) * query[j];
    return sum;
}

__attribute__((target("avx2,fma,f16c"))) void half_scores(const uint16_t* rows, const float* query, int64_t n, int64_t d,
                                                         float* out) {
    for (int64_t i = 0; i < n; ++i) out[i] = half_dot(rows + i * d, query, d);
}

float dot(const float* a, const float* b, int64_t d) {
    float sum = 0;
    for (int64_t j = 0; j < d; ++j) sum += a[j] * b[j];
    return sum;
}

}  // namespace

bool ExactScan::accelerated() { return cpu_has_avx2_f16c(); }

void ExactScan::add(const float* vectors, const int64_t* ids, int64_t count) {
    if (count <= 0) return;
    const size_t before = values_.size();
    values_.insert(values_.end(), vectors, vectors + count * dimension_);
    ids_.insert(ids_.end(), ids, ids + count);
    for (int64_t i = 0; i < count; ++i) {
        const float* row = vectors + i * dimension_;
        max_norm_ = std::max(max_norm_, std::sqrt(dot(row, row, dimension_)));
    }
    if (accelerated()) {
        half_.resize(values_.size());
        to_half(values_.data() + before, half_.data() + before, count * dimension_);
    }
}

std::vector<std::pair<int64_t, float>> ExactScan::search(const float* query, int k, const std::vector<int64_t>& exclude) const {
    const int64_t n = size(), d = dimension_;
    std::vector<std::pair<int64_t, float>> result;
    if (n == 0 || k <= 0) return result;
    auto excluded = [&](int64_t position) {
        return std::find(exclude.begin(), exclude.end(), ids_[size_t(position)]) != exclude.end();
    };
    std::vector<int64_t> candidates;
    if (accelerated()) {
        // Float16 rounds each value by at most 2^-11 of it, so a float16 score is within
        // |q| |x| 2^-11 of the float32 one (Cauchy-Schwarz); 2^-10 leaves room for the sums.
        // Scratch per thread: searches may run on many threads at once (the server's, on a snapshot).
        thread_local std::vector<float> scores;
        scores.resize(size_t(n));
        half_scores(half_.data(), query, n, d, scores.data());
        const float query_norm = std::sqrt(dot(query, query, d));
        const float margin = 2.0f * query_norm * max_norm_ * std::ldexp(1.0f, -10) + 1e-6f;
        const int64_t wanted = std::min<int64_t>(n, int64_t(k) + int64_t(exclude.size()));
        // The wanted-th highest float16 score, with a small min-heap.
        std::vector<float> heap(scores.begin(), scores.begin() + wanted);
        std::make_heap(heap.begin(), heap.end(), std::greater<float>());
        for (int64_t i = wanted; i < n; ++i) {
            if (scores[size_t(i)] <= heap.front()) continue;
            std::pop_heap(heap.begin(), heap.end(), std::greater<float>());
            heap.back() = scores[size_t(i)];
            std::push_heap(heap.begin(), heap.end(), std::greater<float>());
        }
        const float threshold = heap.front() - margin;
        for (int64_t i = 0; i < n; ++i)
            if (scores[size_t(i)] >= threshold) candidates.push_back(i);
    } else {
        candidates.resize(size_t(n));
        for (int64_t i = 0; i < n; ++i) candidates[size_t(i)] = i;
    }
    std::vector<std::pair<float, int64_t>> exact;  // (-score, position): highest first, then lower position
    exact.reserve(candidates.size());
    for (const int64_t i : candidates)
        if (!excluded(i)) exact.push_back({-dot(values_.data() + i * d, query, d), i});
    const size_t keep = std::min(exact.size(), size_t(k));
    std::partial_sort(exact.begin(), exact.begin() + keep, exact.end());
    for (size_t r = 0; r < keep; ++r) result.push_back({ids_[size_t(exact[r].second)], -exact[r].first});
    return result;
}

}  // namespace pupembed
