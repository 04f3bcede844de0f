// Retrieval metrics of labelled embeddings held as LibTorch tensors (evaluation and training
// validation); what they report is pupembed/inference/metrics.hpp.
#pragma once

#include <torch/types.h>

#include <vector>

#include "pupembed/inference/metrics.hpp"

namespace pupembed {

/// Each sample queries all the others by cosine similarity (highest first; equal similarities
/// are ranked by lower index first). Recall@K: the share of queries with a same-class sample
/// among their K nearest. MAP@R: with R the number of other same-class samples, the mean over
/// queries of (1/R) * sum over ranks i <= R of precision@i at each same-class rank i.
/// Queries whose class has no other sample are left out of both. `embeddings` is (N, D)
/// (normalised here), `labels` is (N) int64.
RetrievalMetrics retrieval_metrics(const torch::Tensor& embeddings, const torch::Tensor& labels,
                                   const std::vector<int>& ks = {1, 2, 4, 8});

/// DistanceDistributions of `embeddings` (N, D) with `labels` (N) int64, in `bins` bins.
DistanceDistributions distance_distributions(const torch::Tensor& embeddings, const torch::Tensor& labels,
                                             int bins = 50);

}  // namespace pupembed
