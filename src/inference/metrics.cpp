#include "inference/retrieval_metrics.hpp"

#include <torch/torch.h>

#include <algorithm>

#include "pupembed/core/error.hpp"

namespace pupembed {
namespace {

torch::Tensor normalised(const torch::Tensor& embeddings) {
    return torch::nn::functional::normalize(embeddings.to(torch::kFloat32),
                                            torch::nn::functional::NormalizeFuncOptions().dim(1));
}

void check_inputs(const torch::Tensor& embeddings, const torch::Tensor& labels) {
    if (embeddings.dim() != 2 || labels.dim() != 1 || embeddings.size(0) != labels.size(0))
        throw Error("embeddings (N, D) and labels (N) expected, got " + c10::str(embeddings.sizes()) + " and " +
                    c10::str(labels.sizes()));
}

/// The median of the distances in histogram-bin order: the centre of the bin holding the middle one.
double histogram_median(const std::vector<int64_t>& counts, int bins) {
    int64_t total = 0;
    for (const int64_t c : counts) total += c;
    int64_t seen = 0;
    for (int b = 0; b < bins; ++b) {
        seen += counts[size_t(b)];
        if (2 * seen >= total && total > 0) return (b + 0.5) * 2.0 / bins;
    }
    return 0;
}

/// Calls `visit(i, row)` for every sample i with `row` the cosine similarities of sample i to all
/// N samples, computing the similarity matrix a block of rows at a time to bound memory.
template <typename Visit>
void for_each_similarity_row(const torch::Tensor& unit, Visit visit) {
    const int64_t n = unit.size(0);
    constexpr int64_t kBlock = 512;
    for (int64_t begin = 0; begin < n; begin += kBlock) {
        const int64_t rows = std::min(kBlock, n - begin);
        const torch::Tensor similarity = unit.narrow(0, begin, rows).matmul(unit.t()).contiguous();
        const float* sim = similarity.data_ptr<float>();
        for (int64_t r = 0; r < rows; ++r) visit(begin + r, sim + r * n);
    }
}

}  // namespace

RetrievalMetrics retrieval_metrics(const torch::Tensor& embeddings, const torch::Tensor& labels, const std::vector<int>& ks) {
    check_inputs(embeddings, labels);
    torch::NoGradGuard no_grad;
    const int64_t n = embeddings.size(0);
    const torch::Tensor x = normalised(embeddings);
    const torch::Tensor y = labels.to(torch::kInt64).contiguous();
    const int64_t* label = y.data_ptr<int64_t>();
    std::vector<int64_t> class_sizes;
    for (int64_t i = 0; i < n; ++i) {
        if (label[i] < 0) throw Error("labels must not be negative");
        if (size_t(label[i]) >= class_sizes.size()) class_sizes.resize(size_t(label[i]) + 1, 0);
        ++class_sizes[size_t(label[i])];
    }
    int max_k = 0;
    for (const int k : ks) max_k = std::max(max_k, k);

    RetrievalMetrics metrics;
    metrics.ks = ks;
    std::vector<int64_t> hits(ks.size(), 0);
    double precision_sum = 0;
    std::vector<int64_t> order;
    order.reserve(static_cast<size_t>(n));
    for_each_similarity_row(x, [&](int64_t query, const float* row) {
        const int64_t relevant = class_sizes[size_t(label[query])] - 1;
        if (relevant == 0) return;
        const int64_t depth = std::min<int64_t>(n - 1, std::max<int64_t>(relevant, max_k));
        order.clear();
        for (int64_t j = 0; j < n; ++j)
            if (j != query) order.push_back(j);
        std::partial_sort(order.begin(), order.begin() + depth, order.end(), [row](int64_t a, int64_t b) {
            return row[a] > row[b] || (row[a] == row[b] && a < b);
            });
            for (size_t q = 0; q < ks.size(); ++q) {
                const int64_t k = std::min<int64_t>(ks[q], n - 1);
                for (int64_t i = 0; i < k; ++i)
                    if (label[order[size_t(i)]] == label[query]) {
                        ++hits[q];
                        break;
                    }
            }
            int64_t found = 0;
            double sum = 0;
            for (int64_t i = 0; i < relevant; ++i)
                if (label[order[size_t(i)]] == label[query]) sum += double(++found) / double(i + 1);
            precision_sum += sum / double(relevant);
            ++metrics.queries;
    });
    for (const int64_t h : hits) metrics.recall_at.push_back(metrics.queries ? double(h) / double(metrics.queries) : 0.0);
    metrics.map_at_r = metrics.queries ? precision_sum / double(metrics.queries) : 0.0;
    return metrics;
}

DistanceDistributions distance_distributions(const torch::Tensor& embeddings, const torch::Tensor& labels, int bins) {
    check_inputs(embeddings, labels);
    if (bins < 1) throw Error("histogram needs at least one bin");
    torch::NoGradGuard no_grad;
    const int64_t n = embeddings.size(0);
    const torch::Tensor x = normalised(embeddings);
    const torch::Tensor y = labels.to(torch::kInt64).contiguous();
    const int64_t* label = y.data_ptr<int64_t>();
    DistanceDistributions result;
    result.bins = bins;
    result.same.assign(size_t(bins), 0);
    result.different.assign(size_t(bins), 0);
    double same_sum = 0, different_sum = 0;
    int64_t same_count = 0, different_count = 0;
    for_each_similarity_row(x, [&](int64_t i, const float* row) {
        for (int64_t j = i + 1; j < n; ++j) {
            const double distance = std::clamp(1.0 - double(row[j]), 0.0, 2.0);
            const int bin = std::min(bins - 1, int(distance / 2.0 * bins));
            if (label[i] == label[j]) {
                ++result.same[size_t(bin)];
                same_sum += distance;
                ++same_count;
            } else {
                ++result.different[size_t(bin)];
                different_sum += distance;
                ++different_count;
            }
        }
    });
    result.same_mean = same_count ? same_sum / double(same_count) : 0;
    result.different_mean = different_count ? different_sum / double(different_count) : 0;
    result.same_median = histogram_median(result.same, bins);
    result.different_median = histogram_median(result.different, bins);
    return result;
}

}  // namespace pupembed
