// Exact inner-product search without FAISS's generic (SSE-only) build: vectors are scanned as
// float16 with AVX2 where the CPU has it, then the candidates that could still be in the top k
// (given float16's bounded rounding error) are re-ranked in float32, so the result is exact.
#pragma once

#include <cstdint>
#include <utility>
#include <vector>

#include "pupembed/gallery/vector_index.hpp"

namespace pupembed {

class ExactScan {
public:
    explicit ExactScan(int64_t dimension) : dimension_(dimension) {}

    void add(const float* vectors, const int64_t* ids, int64_t count);
    int64_t size() const { return int64_t(ids_.size()); }

    /// For each of `count` queries (row after row), the `k` (id, inner product) pairs of highest
    /// inner product, highest first (equal scores: lower position first), leaving out what
    /// `exclusion` names. Queries are scanned in blocks of up to 32 (one pass over the vectors
    /// for each block, a cache-sized chunk of rows at a time), the blocks on OpenMP's threads.
    std::vector<std::vector<std::pair<int64_t, float>>> search(const float* queries, int64_t count, int k,
                                                               const IdExclusion& exclusion) const;

    /// Bytes held by the vectors (float32 and float16 copies) and ids.
    int64_t memory_bytes() const {
        return int64_t(values_.size() * sizeof(float) + half_.size() * sizeof(uint16_t) + ids_.size() * sizeof(int64_t));
    }

    /// Whether the float16 AVX2 path is in use on this CPU.
    static bool accelerated();

private:
    /// One query's answer from its float16 scores (null without AVX2: every row is scored in float32).
    std::vector<std::pair<int64_t, float>> select(const float* query, const float* half_scores, int k,
                                                  const IdExclusion& exclusion, int64_t own_id) const;

    int64_t dimension_;
    std::vector<int64_t> ids_;
    std::vector<float> values_;    ///< float32, row after row
    float max_norm_ = 0;           ///< the largest row L2 norm (bounds float16's error)
    std::vector<uint16_t> half_;   ///< the same as float16 (only when accelerated())
};

}  // namespace pupembed
