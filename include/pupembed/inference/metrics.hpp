// What retrieval metrics over labelled embeddings report: Recall@K and MAP@R (Musgrave et al.,
// "A Metric Learning Reality Check", 2020), and the distributions of cosine distance. They are
// computed by src/inference/retrieval_metrics.hpp.
#pragma once

#include <cstdint>
#include <vector>

namespace pupembed {

struct RetrievalMetrics {
    std::vector<int> ks;            ///< the K of each recall, e.g. 1, 2, 4, 8
    std::vector<double> recall_at;  ///< Recall@K for each K
    double map_at_r = 0;
    int64_t queries = 0;            ///< queries with at least one other sample of their class
};

/// Histograms of the cosine distance (1 - cosine similarity) over all pairs of samples, split
/// into same-class and different-class pairs, in equal bins over [0, 2].
struct DistanceDistributions {
    int bins = 0;
    std::vector<int64_t> same, different;  ///< counts per bin
    double same_mean = 0, different_mean = 0;
    double same_median = 0, different_median = 0;
};
}  // namespace pupembed
