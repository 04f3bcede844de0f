#include "inference/similar_pairs.hpp"

#include <torch/torch.h>

#include <algorithm>

#include "pupembed/core/error.hpp"

namespace pupembed {

void for_each_similar_pair(const float* values, int64_t n, int64_t d, float minimum,
                           const std::function<void(int64_t, int64_t)>& pair) {
    if (n < 2) return;
    try {
        torch::InferenceMode inference;
        const torch::Tensor all = torch::from_blob(const_cast<float*>(values), {n, d}, torch::kFloat32);
        constexpr int64_t kBlock = 1024;
        for (int64_t begin = 0; begin < n; begin += kBlock) {
            const int64_t rows = std::min(kBlock, n - begin);
            const torch::Tensor similar = all.narrow(0, begin, rows).matmul(all.t()).ge(minimum).nonzero().contiguous();
            const int64_t* pairs = similar.data_ptr<int64_t>();
            for (int64_t p = 0; p < similar.size(0); ++p) {
                const int64_t a = begin + pairs[2 * p], b = pairs[2 * p + 1];
                if (a < b) pair(a, b);
            }
        }
    } catch (const c10::Error& e) {
        throw Error("comparing the vectors failed", e.what_without_backtrace());
    }
}

}  // namespace pupembed
