// Retrieval metrics over labelled embeddings: Recall@K and MAP@R (Musgrave et al., "A Metric
// Learning Reality Check", 2020), and the distributions of cosine distance.
#pragma once

#include <torch/types.h>

#include <cstdint>
#include <vector>

namespace pupembed {

struct RetrievalMetrics {
    std::vector<int> ks;            ///< the K of each recall, e.g. 1, 2, 4, 8
    std::vector<double> recall_at;  ///< Recall@K for each K
    double map_at_r = 0;
    int64_t queries = 0;            ///< queries with at least one other sample of their class
};

/// Each sample queries all the others by cosine similarity (highest first; equal similarities
/// are ranked by lower index first). Recall@K: the share of queries with a same-class sample
/// among their K nearest. MAP@R: with R the number of other same-class samples, the mean over
/// queries of (1/R) * sum over ranks i <= R of precision@i at each same-class rank i.
/// Queries whose class has no other sample are left out of both. `embeddings` is (N, D)
/// (normalised here), `labels` is (N) int64.
RetrievalMetrics retrieval_metrics(const torch::Tensor& embeddings, const torch::Tensor& labels,
                                   const std::vector<int>& ks = {1, 2, 4, 8});

/// Histograms of the cosine distance (1 - cosine similarity) over all pairs of samples, split
/// into same-class and different-class pairs: `bins` equal bins over [0, 2].
struct DistanceDistributions {
    int bins = 0;
    std::vector<int64_t> same, different;  ///< counts per bin
    double same_mean = 0, different_mean = 0;
    double same_median = 0, different_median = 0;
};
DistanceDistributions distance_distributions(const torch::Tensor& embeddings, const torch::Tensor& labels,
                                             int bins = 50);

}  // namespace pupembed
