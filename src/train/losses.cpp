#include "train/losses.hpp"

#include <torch/torch.h>

#include "pupembed/core/error.hpp"

namespace F = torch::nn::functional;

namespace pupembed {

torch::Tensor contrastive_loss(const torch::Tensor& a, const torch::Tensor& b, const torch::Tensor& same, double margin) {
    if (a.sizes() != b.sizes() || a.dim() != 2 || same.dim() != 1 || same.size(0) != a.size(0))
        throw Error("contrastive loss needs pairs (N, D), (N, D) and (N) flags, got " + c10::str(a.sizes()) + ", " +
                    c10::str(b.sizes()) + ", " + c10::str(same.sizes()));
    const torch::Tensor distance = 1 - F::cosine_similarity(a, b, F::CosineSimilarityFuncOptions().dim(1));
    const torch::Tensor positive = distance.pow(2);
    const torch::Tensor negative = torch::clamp_min(margin - distance, 0).pow(2);
    return torch::where(same.to(torch::kBool), positive, negative).mean();
}

torch::Tensor proxy_softmax_loss(const torch::Tensor& embeddings, const torch::Tensor& proxies, const torch::Tensor& labels,
                                 double scale) {
    if (embeddings.dim() != 2 || proxies.dim() != 2 || embeddings.size(1) != proxies.size(1))
        throw Error("proxy loss needs embeddings (N, D) and proxies (classes, D), got " + c10::str(embeddings.sizes()) +
                    " and " + c10::str(proxies.sizes()));
    const auto unit = F::NormalizeFuncOptions().dim(1);
    const torch::Tensor cosine = F::normalize(embeddings, unit).matmul(F::normalize(proxies, unit).t());
    return F::cross_entropy(cosine * scale, labels);
}

}  // namespace pupembed
