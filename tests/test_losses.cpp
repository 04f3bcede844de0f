// The training losses and regularisers against direct formulas, and finite-difference gradient checks.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <cmath>
#include <functional>
#include <vector>

#include "pupembed/core/error.hpp"
#include "train/losses.hpp"

namespace {

/// Expects autograd's gradient `analytic` of `loss` at the 2-D `x` to match central finite differences.
void expect_gradient_matches(const torch::Tensor& analytic, const torch::Tensor& x,
                             const std::function<torch::Tensor(const torch::Tensor&)>& loss) {
    const double h = 1e-6;
    torch::NoGradGuard no_grad;
    for (int64_t i = 0; i < x.size(0); ++i)
        for (int64_t j = 0; j < x.size(1); ++j) {
            torch::Tensor plus = x.detach().clone(), minus = x.detach().clone();
            plus[i][j] += h;
            minus[i][j] -= h;
            const double numeric = (loss(plus).item<double>() - loss(minus).item<double>()) / (2 * h);
            EXPECT_NEAR(analytic[i][j].item<double>(), numeric, 1e-6) << i << "," << j;
        }
}

}  // namespace

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
    expect_gradient_matches(a.grad().clone(), a,
                            [&](const torch::Tensor& x) { return pupembed::contrastive_loss(x, b, same, margin); });
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

TEST(L2SpPenalty, MatchesTheFormulaOnHandMadeWeights) {
    // alpha / 2 * ((1-0)^2 + (2-2)^2 + (-1-1)^2 + (0.5-0)^2) = 0.1 / 2 * 5.25
    const torch::Tensor w1 = torch::tensor({1.0, 2.0}, torch::kFloat64), a1 = torch::tensor({0.0, 2.0}, torch::kFloat64);
    const torch::Tensor w2 = torch::tensor({-1.0, 0.5}, torch::kFloat64).view({1, 2});
    const torch::Tensor a2 = torch::tensor({1.0, 0.0}, torch::kFloat64).view({1, 2});
    EXPECT_NEAR(pupembed::l2_sp_penalty({w1, w2}, {a1, a2}, 0.1).item<double>(), 0.05 * 5.25, 1e-12);
    EXPECT_NEAR(pupembed::l2_sp_penalty({w1}, {w1}, 3.0).item<double>(), 0.0, 1e-12);
    EXPECT_THROW(pupembed::l2_sp_penalty({w1, w2}, {a1}, 0.1), pupembed::Error);
    EXPECT_THROW(pupembed::l2_sp_penalty({w1}, {a2}, 0.1), pupembed::Error);
}

TEST(L2SpPenalty, GradientMatchesFiniteDifferencesAndSparesTheAnchors) {
    torch::manual_seed(2);
    const torch::Tensor w = torch::randn({3, 4}, torch::kFloat64).requires_grad_(true);
    const torch::Tensor anchor = torch::randn({3, 4}, torch::kFloat64).requires_grad_(true);
    const double alpha = 0.3;
    pupembed::l2_sp_penalty({w}, {anchor}, alpha).backward();
    EXPECT_FALSE(anchor.grad().defined());  // the starting weights are not trained
    const torch::Tensor analytic = w.grad().clone();
    expect_gradient_matches(analytic, w, [&](const torch::Tensor& x) { return pupembed::l2_sp_penalty({x}, {anchor}, alpha); });
    torch::NoGradGuard no_grad;
    EXPECT_TRUE(torch::allclose(analytic, alpha * (w - anchor), /*rtol=*/0, /*atol=*/1e-12));  // alpha (w - anchor), by hand
}

TEST(FeatureDistillationLoss, MatchesTheFormulaOnAHandMadeBatch) {
    // Row 0: same direction (cos 1, loss 0); row 1: 90 degrees (loss 1); row 2: opposite (loss 2).
    const torch::Tensor student = torch::tensor({2.0, 0.0, 1.0, 0.0, 0.0, 3.0}, torch::kFloat64).view({3, 2});
    const torch::Tensor teacher = torch::tensor({5.0, 0.0, 0.0, 1.0, 0.0, -1.0}, torch::kFloat64).view({3, 2});
    EXPECT_NEAR(pupembed::feature_distillation_loss(student, teacher).item<double>(), (0.0 + 1.0 + 2.0) / 3, 1e-12);
    EXPECT_THROW(pupembed::feature_distillation_loss(student, teacher.narrow(0, 0, 2)), pupembed::Error);
}

TEST(FeatureDistillationLoss, GradientMatchesFiniteDifferencesAndSparesTheTeacher) {
    torch::manual_seed(3);
    const torch::Tensor student = torch::randn({4, 6}, torch::kFloat64).requires_grad_(true);
    const torch::Tensor teacher = torch::randn({4, 6}, torch::kFloat64).requires_grad_(true);
    pupembed::feature_distillation_loss(student, teacher).backward();
    EXPECT_FALSE(teacher.grad().defined());
    expect_gradient_matches(student.grad().clone(), student,
                            [&](const torch::Tensor& x) { return pupembed::feature_distillation_loss(x, teacher); });
}

namespace {

/// KL(softmax(teacher) || softmax(student)) of two rows of logits, by hand.
double kl_of_softmaxes(const std::vector<double>& teacher, const std::vector<double>& student) {
    double teacher_sum = 0, student_sum = 0;
    for (size_t j = 0; j < teacher.size(); ++j) {
        teacher_sum += std::exp(teacher[j]);
        student_sum += std::exp(student[j]);
    }
    double kl = 0;
    for (size_t j = 0; j < teacher.size(); ++j) {
        const double p = std::exp(teacher[j]) / teacher_sum, q = std::exp(student[j]) / student_sum;
        kl += p * std::log(p / q);
    }
    return kl;
}

}  // namespace

TEST(SimilarityDistillationLoss, MatchesTheFormulaOnAHandMadeBatch) {
    // Less their mean, the student's rows are (1, 0), (0, 1), (-1, 0), (0, -1) and the teacher's
    // (1, 0), (1, 0), (-1, 0), (-1, 0): the offsets added here must not count.
    const torch::Tensor student =
        torch::tensor({1.0, 0.0, 0.0, 1.0, -1.0, 0.0, 0.0, -1.0}, torch::kFloat64).view({4, 2}) + torch::tensor({3.0, -2.0}, torch::kFloat64);
    const torch::Tensor teacher =
        torch::tensor({1.0, 0.0, 1.0, 0.0, -1.0, 0.0, -1.0, 0.0}, torch::kFloat64).view({4, 2}) + torch::tensor({5.0, 5.0}, torch::kFloat64);
    const double temperature = 0.5;
    // Each row's cosines to the other three rows, divided by the temperature.
    const std::vector<std::vector<double>> student_logits = {{0, -2, 0}, {0, 0, -2}, {-2, 0, 0}, {0, -2, 0}};
    const std::vector<std::vector<double>> teacher_logits = {{2, -2, -2}, {2, -2, -2}, {-2, -2, 2}, {-2, -2, 2}};
    double expected = 0;
    for (size_t i = 0; i < 4; ++i) expected += kl_of_softmaxes(teacher_logits[i], student_logits[i]) / 4;
    EXPECT_NEAR(pupembed::similarity_distillation_loss(student, teacher, temperature).item<double>(), expected, 1e-12);
    // The same neighbourhoods at another scale, offset and width cost nothing.
    const torch::Tensor wider = torch::cat({student * 7 + 1, torch::zeros({4, 3}, torch::kFloat64)}, 1);
    EXPECT_NEAR(pupembed::similarity_distillation_loss(student, wider, temperature).item<double>(), 0.0, 1e-12);
    EXPECT_THROW(pupembed::similarity_distillation_loss(student, teacher.narrow(0, 0, 3), temperature), pupembed::Error);
    EXPECT_THROW(pupembed::similarity_distillation_loss(student.narrow(0, 0, 1), teacher.narrow(0, 0, 1), temperature),
                 pupembed::Error);
    EXPECT_THROW(pupembed::similarity_distillation_loss(student, teacher, 0.0), pupembed::Error);
}

TEST(SimilarityDistillationLoss, GradientMatchesFiniteDifferencesAndSparesTheTeacher) {
    torch::manual_seed(5);
    const torch::Tensor student = torch::randn({5, 4}, torch::kFloat64).requires_grad_(true);
    const torch::Tensor teacher = torch::randn({5, 7}, torch::kFloat64).requires_grad_(true);
    pupembed::similarity_distillation_loss(student, teacher, 0.3).backward();
    EXPECT_FALSE(teacher.grad().defined());
    expect_gradient_matches(student.grad().clone(), student, [&](const torch::Tensor& x) {
        return pupembed::similarity_distillation_loss(x, teacher, 0.3);
    });
}
