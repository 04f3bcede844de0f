// Losses for training the embedding head (stage 2) and regularisers that keep what the ImageNet
// weights know.
#pragma once

#include <torch/types.h>

#include <vector>

namespace pupembed {

/// The original Siamese arrangement's contrastive loss (Hadsell, Chopra, LeCun 2006) on pairs
/// (a[i], b[i]), with the cosine distance d = 1 - cos(a[i], b[i]): d^2 for a same-class pair
/// (same[i] true), max(0, margin - d)^2 for a different-class pair; the mean over pairs.
torch::Tensor contrastive_loss(const torch::Tensor& a, const torch::Tensor& b, const torch::Tensor& same, double margin);

/// Normalised softmax over class proxies (Zhai and Wu, "Classification is a Strong Baseline
/// for Deep Metric Learning", 2019): cross-entropy of scale * cos(embedding, proxy_c) over the
/// classes c; `proxies` is (classes, D), `labels` (N) int64. Scale 20 is a temperature of 0.05.
torch::Tensor proxy_softmax_loss(const torch::Tensor& embeddings, const torch::Tensor& proxies, const torch::Tensor& labels,
                                 double scale);

/// L2-SP (Li, Grandvalet, Davoine, "Explicit Inductive Bias for Transfer Learning with
/// Convolutional Networks", 2018): alpha / 2 * the sum over `weights` of the squared distance to
/// their starting values `anchors` (same count and shapes), so fine-tuning stays near them.
torch::Tensor l2_sp_penalty(const std::vector<torch::Tensor>& weights, const std::vector<torch::Tensor>& anchors,
                            double alpha);

/// Feature distillation: the mean over rows of 1 - cos(student[i], teacher[i]), both (N, C); the
/// teacher's side carries no gradient.
torch::Tensor feature_distillation_loss(const torch::Tensor& student, const torch::Tensor& teacher);

/// Similarity-structure distillation, which keeps each row's neighbourhood rather than its
/// features: for each row i of student (N, D) and teacher (N, C), softmax over j != i of the cosines
/// cos(c_i, c_j) / temperature, where c is the rows less their mean, gives a distribution over i's
/// neighbours; the loss is the mean over rows of KL(teacher's distribution || student's). Centring
/// matters for pooled ReLU features, whose plain cosines all lie close together (0.56 +- 0.06 for
/// ImageNet MobileNetV2 on val crops, against 0.00 +- 0.18 for an embedding head). The teacher's
/// side carries no gradient; N >= 2.
torch::Tensor similarity_distillation_loss(const torch::Tensor& student, const torch::Tensor& teacher,
                                           double temperature);

}  // namespace pupembed
