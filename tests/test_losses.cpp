// The stage-2 losses against direct formulas, and a finite-difference gradient check.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <cmath>

#include "train/losses.hpp"

TEST(ContrastiveLoss, MatchesTheFormulaOnAHandMadeBatch) {
    // Pair 0: same class, 90 degrees apart: d = 1, loss 1.
    // Pair 1: different classes, 90 degrees apart: d = 1 > margin 0.5: loss 0.
    // Pair 2: different classes, identical: d = 0: (0.5 - 0)^2 = 0.25.
    // Pair 3: same class, identical: 0.
    const torch::Tensor a = torch::tensor({1.0, 0.0, 1.0, 0.0, 0.0, 2.0, 3.0, 4.0}, torch::kFloat64).view({4, 2});
    const torch::Tensor b = torch::tensor({0.0, 1.0, 0.0, 5.0, 0.0, 1.0, 0.6, 0.8}, torch::kFloat64).view({4, 2});
    const torch::Tensor same = torch::tensor({1, 0, 0, 1}, torch::kBool);
    EXPECT_NEAR(pupembed::contrastive_loss(a, b, same, 0.5).item<double>(), (1.0 + 0 + 0.25 + 0) / 4, 1e-12);
    // With margin 1.5 pair 1 costs (1.5 - 1)^2 and pair 2 costs 1.5^2.
    EXPECT_NEAR(pupembed::contrastive_loss(a, b, same, 1.5).item<double>(), (1.0 + 0.25 + 2.25 + 0) / 4, 1e-12);
}

TEST(ContrastiveLoss, GradientMatchesFiniteDifferences) {
    torch::manual_seed(1);
    const torch::Tensor a = torch::randn({6, 5}, torch::kFloat64).requires_grad_(true);
    const torch::Tensor b = torch::randn({6, 5}, torch::kFloat64);
    const torch::Tensor same = torch::tensor({1, 0, 1, 0, 0, 1}, torch::kBool);
    const double margin = 1.2;  // large enough that several negative pairs are inside it
    pupembed::contrastive_loss(a, b, same, margin).backward();
    const torch::Tensor analytic = a.grad().clone();
    const double h = 1e-6;
    torch::NoGradGuard no_grad;
    for (int64_t i = 0; i < a.size(0); ++i)
        for (int64_t j = 0; j < a.size(1); ++j) {
            torch::Tensor plus = a.detach().clone(), minus = a.detach().clone();
            plus[i][j] += h;
            minus[i][j] -= h;
            const double numeric = (pupembed::contrastive_loss(plus, b, same, margin).item<double>() -
                                    pupembed::contrastive_loss(minus, b, same, margin).item<double>()) /
                                   (2 * h);
            EXPECT_NEAR(analytic[i][j].item<double>(), numeric, 1e-6) << i << "," << j;
        }
}

TEST(ProxySoftmaxLoss, MatchesTheFormulaOnAHandMadeBatch) {
    // Two proxies along the axes; an embedding on proxy 0 has cosines (1, 0).
    const torch::Tensor proxies = torch::tensor({2.0, 0.0, 0.0, 3.0}, torch::kFloat64).view({2, 2});
    const torch::Tensor embeddings = torch::tensor({5.0, 0.0, 1.0, 1.0}, torch::kFloat64).view({2, 2});
    const torch::Tensor labels = torch::tensor({0, 1}, torch::kInt64);
    const double s = 20;
    // Sample 0: -log(e^s / (e^s + e^0)); sample 1: cosines (1/sqrt2, 1/sqrt2): -log(1/2).
    const double expected = (std::log1p(std::exp(-s)) + std::log(2.0)) / 2;
    EXPECT_NEAR(pupembed::proxy_softmax_loss(embeddings, proxies, labels, s).item<double>(), expected, 1e-12);
}
