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

torch::Tensor l2_sp_penalty(const std::vector<torch::Tensor>& weights, const std::vector<torch::Tensor>& anchors,
                            double alpha) {
    if (weights.size() != anchors.size())
        throw Error("L2-SP needs one anchor per weight, got " + std::to_string(weights.size()) + " weights and " +
                    std::to_string(anchors.size()) + " anchors");
    torch::Tensor sum = torch::zeros({}, weights.empty() ? torch::TensorOptions() : weights[0].options());
    for (size_t i = 0; i < weights.size(); ++i) {
        if (weights[i].sizes() != anchors[i].sizes())
            throw Error("L2-SP anchor " + std::to_string(i) + " is " + c10::str(anchors[i].sizes()) + ", its weight " +
                        c10::str(weights[i].sizes()));
        sum = sum + (weights[i] - anchors[i].detach()).pow(2).sum();
    }
    return sum * (alpha / 2);
}

torch::Tensor feature_distillation_loss(const torch::Tensor& student, const torch::Tensor& teacher) {
    if (student.dim() != 2 || student.sizes() != teacher.sizes())
        throw Error("feature distillation needs student and teacher features (N, C) of one shape, got " +
                    c10::str(student.sizes()) + " and " + c10::str(teacher.sizes()));
    return (1 - F::cosine_similarity(student, teacher.detach(), F::CosineSimilarityFuncOptions().dim(1))).mean();
}

namespace {

/// Row i: log-softmax over j != i of cos(c_i, c_j) / temperature, c = x less its rows' mean, as (N, N - 1).
torch::Tensor neighbour_log_probabilities(const torch::Tensor& x, double temperature) {
    const torch::Tensor unit = F::normalize(x - x.mean(0, /*keepdim=*/true), F::NormalizeFuncOptions().dim(1));
    const int64_t n = x.size(0);
    const torch::Tensor others = ~torch::eye(n, torch::TensorOptions().dtype(torch::kBool));
    const torch::Tensor cosine = unit.matmul(unit.t()).masked_select(others).view({n, n - 1});
    return F::log_softmax(cosine / temperature, F::LogSoftmaxFuncOptions(1));
}

}  // namespace

torch::Tensor similarity_distillation_loss(const torch::Tensor& student, const torch::Tensor& teacher,
                                           double temperature) {
    if (student.dim() != 2 || teacher.dim() != 2 || student.size(0) != teacher.size(0) || student.size(0) < 2)
        throw Error("similarity distillation needs student (N, D) and teacher (N, C) features with N >= 2, got " +
                    c10::str(student.sizes()) + " and " + c10::str(teacher.sizes()));
    if (!(temperature > 0)) throw Error("similarity distillation's temperature", "must be positive, got " + std::to_string(temperature));
    const torch::Tensor target = neighbour_log_probabilities(teacher.detach(), temperature);
    const torch::Tensor predicted = neighbour_log_probabilities(student, temperature);
    return (target.exp() * (target - predicted)).sum(1).mean();
}

}  // namespace pupembed
