// All pairs of rows whose dot product reaches a threshold, by blocked matrix products (LibTorch's
// BLAS), for finding near-duplicates without LibTorch in the gallery layer.
#pragma once

#include <cstdint>
#include <functional>

namespace pupembed {

/// Calls `pair(a, b)` (a < b) for every pair of the `n` rows of `values` (n x d floats, row by row)
/// whose dot product is at least `minimum`.
void for_each_similar_pair(const float* values, int64_t n, int64_t d, float minimum,
                           const std::function<void(int64_t, int64_t)>& pair);

}  // namespace pupembed
