// Retrieval metrics against hand-computed cases and a brute-force reference.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <cmath>

#include "inference/retrieval_metrics.hpp"

namespace {

torch::Tensor at_angles(const std::vector<double>& degrees) {
    std::vector<float> values;
    for (const double d : degrees) {
        values.push_back(float(std::cos(d * M_PI / 180)));
        values.push_back(float(std::sin(d * M_PI / 180)));
    }
    return torch::tensor(values).view({int64_t(degrees.size()), 2});
}

torch::Tensor labels_of(const std::vector<int64_t>& labels) { return torch::tensor(labels, torch::kInt64); }

}  // namespace

TEST(RetrievalMetrics, HandComputedCase) {
    // A at 0, 10, 50 degrees; B at 25 and 100; C alone at 200 (it queries nothing).
    const auto m = pupembed::retrieval_metrics(at_angles({0, 10, 50, 25, 100, 200}), labels_of({0, 0, 0, 1, 1, 2}), {1, 2, 4});
    EXPECT_EQ(m.queries, 5);
    EXPECT_NEAR(m.recall_at[0], 2.0 / 5, 1e-12);
    EXPECT_NEAR(m.recall_at[1], 4.0 / 5, 1e-12);
    EXPECT_NEAR(m.recall_at[2], 1.0, 1e-12);
    // Per query (R = 2, 2, 2, 1, 1): 1/2 * 1, 1/2 * 1, 1/2 * 1/2, 0, 0.
    EXPECT_NEAR(m.map_at_r, (0.5 + 0.5 + 0.25) / 5, 1e-12);
}

TEST(RetrievalMetrics, TiesGoToTheLowerIndex) {
    // Query 1 (A) sees 0 (B) and 2 (A) at exactly the same similarity 0.6: 0 ranks first.
    const torch::Tensor x = torch::tensor({0.6f, 0.8f, 1.f, 0.f, 0.6f, -0.8f, -1.f, 0.f}).view({4, 2});
    const auto m = pupembed::retrieval_metrics(x, labels_of({1, 0, 0, 1}), {1, 2, 4});
    EXPECT_NEAR(m.recall_at[0], 0.5, 1e-12);   // queries 2 and 3 hit
    EXPECT_NEAR(m.recall_at[1], 0.75, 1e-12);
    EXPECT_NEAR(m.recall_at[2], 1.0, 1e-12);
    EXPECT_NEAR(m.map_at_r, 0.5, 1e-12);
}

TEST(RetrievalMetrics, MatchesBruteForceOnRandomData) {
    torch::manual_seed(3);
    const int64_t n = 300;
    const torch::Tensor x = torch::randn({n, 8});
    const torch::Tensor y = torch::randint(0, 12, {n}, torch::kInt64);
    const auto m = pupembed::retrieval_metrics(x, y, {1, 5});

    const torch::Tensor u = torch::nn::functional::normalize(x, torch::nn::functional::NormalizeFuncOptions().dim(1));
    const torch::Tensor sim = u.matmul(u.t());
    double hits1 = 0, hits5 = 0, map = 0;
    int64_t queries = 0;
    for (int64_t i = 0; i < n; ++i) {
        std::vector<std::pair<float, int64_t>> ranked;
        for (int64_t j = 0; j < n; ++j)
            if (j != i) ranked.emplace_back(-sim[i][j].item<float>(), j);
        std::sort(ranked.begin(), ranked.end());
        const int64_t label = y[i].item<int64_t>();
        const int64_t r = (y == label).sum().item<int64_t>() - 1;
        if (r == 0) continue;
        ++queries;
        auto same = [&](size_t rank) { return y[ranked[rank].second].item<int64_t>() == label; };
        hits1 += same(0);
        bool any = false;
        for (size_t k = 0; k < 5; ++k) any = any || same(k);
        hits5 += any;
        double found = 0, sum = 0;
        for (int64_t k = 0; k < r; ++k)
            if (same(size_t(k))) sum += ++found / double(k + 1);
        map += sum / double(r);
    }
    EXPECT_EQ(m.queries, queries);
    EXPECT_NEAR(m.recall_at[0], hits1 / double(queries), 1e-12);
    EXPECT_NEAR(m.recall_at[1], hits5 / double(queries), 1e-12);
    EXPECT_NEAR(m.map_at_r, map / double(queries), 1e-9);
}

TEST(DistanceDistributions, HandComputedCase) {
    const torch::Tensor x = torch::tensor({1.f, 0.f, 0.f, 1.f, -1.f, 0.f}).view({3, 2});
    const auto d = pupembed::distance_distributions(x, labels_of({0, 0, 1}), 4);
    EXPECT_EQ(d.same, (std::vector<int64_t>{0, 0, 1, 0}));        // distance 1
    EXPECT_EQ(d.different, (std::vector<int64_t>{0, 0, 1, 1}));   // distances 1 and 2
    EXPECT_NEAR(d.same_mean, 1.0, 1e-6);
    EXPECT_NEAR(d.different_mean, 1.5, 1e-6);
}
