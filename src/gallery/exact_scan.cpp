#include "gallery/exact_scan.hpp"

#include <immintrin.h>

#include <algorithm>
#include <cmath>
#include <memory>

#include "gallery/float16.hpp"
#include "pupembed/core/runtime.hpp"

namespace pupembed {
namespace {

/// Float16 scores of `G` queries against `n` rows, query g's into out[g * stride + row]: each row
/// is loaded and converted once for all G queries, which stay in registers.
template <int G>
__attribute__((target("avx2,fma,f16c"))) void half_scores(const uint16_t* rows, const float* queries, int64_t n, int64_t d,
                                                         float* out, int64_t stride) {
    for (int64_t i = 0; i < n; ++i) {
        const uint16_t* row = rows + i * d;
        __m256 acc[G];
        for (int g = 0; g < G; ++g) acc[g] = _mm256_setzero_ps();
        int64_t j = 0;
        for (; j + 8 <= d; j += 8) {
            const __m256 values = _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(row + j)));
            for (int g = 0; g < G; ++g) acc[g] = _mm256_fmadd_ps(values, _mm256_loadu_ps(queries + g * d + j), acc[g]);
        }
        for (int g = 0; g < G; ++g) {
            __m128 s = _mm_add_ps(_mm256_castps256_ps128(acc[g]), _mm256_extractf128_ps(acc[g], 1));
            s = _mm_hadd_ps(s, s);
            s = _mm_hadd_ps(s, s);
            float sum = _mm_cvtss_f32(s);
            for (int64_t t = j; t < d; ++t) sum += _cvtsh_ss(row[t]) * queries[g * d + t];
            out[g * stride + i] = sum;
        }
    }
}

constexpr int kQueryGroup = 8;      ///< queries scored together, in registers
constexpr int kQueryBlock = 32;     ///< queries that share each pass over a chunk of rows
constexpr int64_t kRowChunk = 256;  ///< rows scored for a whole block while they are in the L2 cache
constexpr int64_t kMaxBlockScoreBytes = int64_t(64) << 20;  ///< a block's float16 scores, at most

/// half_scores for 1 to kQueryGroup queries.
void half_scores_of(int queries, const uint16_t* rows, const float* query_values, int64_t n, int64_t d, float* out,
                    int64_t stride) {
    switch (queries) {
        case 1: return half_scores<1>(rows, query_values, n, d, out, stride);
        case 2: return half_scores<2>(rows, query_values, n, d, out, stride);
        case 3: return half_scores<3>(rows, query_values, n, d, out, stride);
        case 4: return half_scores<4>(rows, query_values, n, d, out, stride);
        case 5: return half_scores<5>(rows, query_values, n, d, out, stride);
        case 6: return half_scores<6>(rows, query_values, n, d, out, stride);
        case 7: return half_scores<7>(rows, query_values, n, d, out, stride);
        default: return half_scores<kQueryGroup>(rows, query_values, n, d, out, stride);
    }
}

/// Float16 scores of up to kQueryBlock queries against all `n` rows (query after query in `out`):
/// the rows go through the cache once per block of queries, not once per query (a large gallery's
/// vectors are far larger than the caches, so a single query's scan waits on memory).
void block_scores(int queries, const uint16_t* rows, const float* query_values, int64_t n, int64_t d, float* out) {
    for (int64_t first_row = 0; first_row < n; first_row += kRowChunk) {
        const int64_t chunk = std::min(kRowChunk, n - first_row);
        for (int g = 0; g < queries; g += kQueryGroup)
            half_scores_of(std::min(kQueryGroup, queries - g), rows + first_row * d, query_values + g * d, chunk, d,
                           out + g * n + first_row, n);
    }
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
        floats_to_half(values_.data() + before, half_.data() + before, count * dimension_);
    }
}

std::vector<std::vector<std::pair<int64_t, float>>> ExactScan::search(const float* queries, int64_t count, int k,
                                                                       const IdExclusion& exclusion) const {
    std::vector<std::vector<std::pair<int64_t, float>>> results(size_t(std::max<int64_t>(0, count)));
    if (size() == 0 || k <= 0 || count <= 0) return results;
    // Queries per block: kQueryBlock, fewer where their scores would pass kMaxBlockScoreBytes.
    const int64_t per_block = std::clamp<int64_t>(kMaxBlockScoreBytes / (int64_t(sizeof(float)) * size()), 1, kQueryBlock);
    const int64_t blocks = (count + per_block - 1) / per_block;
    // Blocks of queries on OpenMP's threads; one block alone runs on the caller's thread.
#pragma omp parallel for schedule(dynamic, 1) if (blocks > 1) num_threads(thread_count())
    for (int64_t block = 0; block < blocks; ++block) {
        const int64_t first = block * per_block;
        const int in_block = int(std::min<int64_t>(per_block, count - first));
        // Scratch of this block's (searches run on many threads at once: the server's, on a snapshot).
        std::unique_ptr<float[]> scores;
        if (accelerated()) {
            scores.reset(new float[size_t(in_block) * size_t(size())]);
            block_scores(in_block, half_.data(), queries + first * dimension_, size(), dimension_, scores.get());
        }
        for (int g = 0; g < in_block; ++g) {
            const int64_t q = first + g;
            results[size_t(q)] = select(queries + q * dimension_, scores ? scores.get() + g * size() : nullptr, k, exclusion,
                                        exclusion.own_ids ? exclusion.own_ids[q] : -1);
        }
    }
    return results;
}

std::vector<std::pair<int64_t, float>> ExactScan::select(const float* query, const float* half_scores, int k,
                                                         const IdExclusion& exclusion, int64_t own_id) const {
    const int64_t n = size(), d = dimension_;
    auto excluded = [&](int64_t position) {
        const int64_t id = ids_[size_t(position)];
        return id == own_id || exclusion.excludes(id);
    };
    std::vector<int64_t> candidates;
    if (half_scores) {
        // Float16 rounds each value by at most 2^-11 of it, so a float16 score is within
        // |q| |x| 2^-11 of the float32 one (Cauchy-Schwarz); 2^-10 leaves room for the sums.
        const float query_norm = std::sqrt(dot(query, query, d));
        const float margin = 2.0f * query_norm * max_norm_ * std::ldexp(1.0f, -10) + 1e-6f;
        const int64_t wanted = std::min<int64_t>(n, int64_t(k) + exclusion.count() + (own_id >= 0 ? 1 : 0));
        // The wanted-th highest float16 score, with a small min-heap.
        std::vector<float> heap(half_scores, half_scores + wanted);
        std::make_heap(heap.begin(), heap.end(), std::greater<float>());
        for (int64_t i = wanted; i < n; ++i) {
            if (half_scores[i] <= heap.front()) continue;
            std::pop_heap(heap.begin(), heap.end(), std::greater<float>());
            heap.back() = half_scores[i];
            std::push_heap(heap.begin(), heap.end(), std::greater<float>());
        }
        const float threshold = heap.front() - margin;
        for (int64_t i = 0; i < n; ++i)
            if (half_scores[i] >= threshold) candidates.push_back(i);
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
    std::vector<std::pair<int64_t, float>> result;
    for (size_t r = 0; r < keep; ++r) result.push_back({ids_[size_t(exact[r].second)], -exact[r].first});
    return result;
}

}  // namespace pupembed
