// The training skeleton alone, with a toy recipe (a linear model fitting y = 2x + 1 in two
// phases): stopping and resuming anywhere gives the uninterrupted run's weights, the stop
// request ends a run with a checkpoint, reports count steps and phases, the metrics log gets one
// line an epoch, and a damaged checkpoint is an Error.
#include <gtest/gtest.h>

#include <atomic>
#include <fstream>
#include <string>
#include <vector>

#include "pupembed/core/error.hpp"
#include "pupembed/model/threads.hpp"
#include "pupembed/io/file_io.hpp"
#include "test_support.hpp"
#include "train/training_run.hpp"

using namespace pupembed;
using pupembed::testing::TempDir;

namespace {

class LineRecipe : public TrainingRecipe {
public:
    LineRecipe() {
        torch::manual_seed(3);
        weights_ = torch::randn({2}).requires_grad_();
        for (int i = 0; i < 12; ++i) xs_.push_back(double(i) / 4.0);
    }
    std::string kind() const override { return "toy"; }
    uint64_t seed() const override { return 7; }
    int64_t samples() const override { return int64_t(xs_.size()); }
    int64_t batch_size() const override { return 4; }
    int epochs() const override { return 4; }
    int phase_of(int epoch) const override { return epoch < 1 ? 0 : 1; }
    std::string phase_name(int phase) const override { return phase == 0 ? "first" : "second"; }
    std::string divergence_advice() const override { return "try less"; }
    void start() override { optimizer_ = std::make_unique<torch::optim::SGD>(std::vector<torch::Tensor>{weights_}, 0.05); }
    void begin_epoch(int phase, bool) override { phases_seen_.push_back(phase); }
    double step(const int64_t* indices, RunProgress& progress, int64_t total_steps) override {
        std::vector<float> x, y;
        for (int i = 0; i < 4; ++i) {
            // A draw from the run's RNG, as a recipe's crops or pairs would make.
            const double noise = double(progress.rng() % 1000) / 1e5;
            x.push_back(float(xs_[size_t(indices[i])]));
            y.push_back(float(2 * xs_[size_t(indices[i])] + 1 + noise));
        }
        static_cast<torch::optim::SGDOptions&>(optimizer_->param_groups()[0].options())
            .lr(0.05 * cosine_factor(progress.global_step, total_steps));
        const torch::Tensor prediction = weights_[0] * torch::tensor(x) + weights_[1];
        const torch::Tensor loss = (prediction - torch::tensor(y)).pow(2).mean() * (diverge_ ? INFINITY : 1.0);
        optimizer_->zero_grad();
        loss.backward();
        optimizer_->step();
        return loss.item<double>();
    }
    nlohmann::json end_epoch(const RunProgress& progress, double, double) override {
        return {{"loss", progress.loss_sum / double(progress.seen)}};
    }
    void finish() override { finished_ = true; }
    void save_state(nlohmann::json& meta, CheckpointTensors& tensors) const override {
        tensors.emplace_back("weights", weights_);
        meta["toy"] = 1;
    }
    void load_state(const nlohmann::json& meta, const std::function<torch::Tensor(const std::string&)>& take) override {
        EXPECT_EQ(meta.at("toy"), 1);
        weights_.copy_(take("weights"));
        start();
    }
    torch::optim::Optimizer& optimizer() override { return *optimizer_; }

    torch::Tensor weights_;
    std::vector<double> xs_;
    std::unique_ptr<torch::optim::SGD> optimizer_;
    std::vector<int> phases_seen_;
    bool finished_ = false, diverge_ = false;
};

class TrainingRunTest : public ::testing::Test {
protected:
    void SetUp() override { set_thread_count(1); }
    /// A new run folder (with its config) named `name`.
    std::string fresh_run(const std::string& name) {
        const std::string run = (dir_ / name).string();
        start_run_folder(run, "toy", 1, nlohmann::json::object());
        return run;
    }
    TempDir dir_;
};

TEST_F(TrainingRunTest, StoppedAndResumedAnywhereEqualsUninterrupted) {
    LineRecipe whole;
    const RunResult done = run_training(whole, fresh_run("whole"), {}, false);
    EXPECT_TRUE(done.finished);
    EXPECT_EQ(done.step, 12);  // 3 steps an epoch, 4 epochs
    EXPECT_TRUE(whole.finished_);
    EXPECT_EQ(whole.phases_seen_, (std::vector<int>{0, 1, 1, 1}));
    // The fit is near y = 2x + 1.
    EXPECT_NEAR(whole.weights_[0].item<double>(), 2.0, 0.5);

    for (const int64_t stop : {1, 3, 4, 11}) {
        const std::string run = fresh_run("parts-" + std::to_string(stop));
        RunControl control;
        control.stop_after_steps = stop;
        LineRecipe first;
        const RunResult stopped = run_training(first, run, control, false);
        EXPECT_FALSE(stopped.finished);
        EXPECT_EQ(stopped.step, stop);
        EXPECT_FALSE(first.finished_);
        LineRecipe second;
        const RunResult resumed = run_training(second, run, {}, true);
        EXPECT_TRUE(resumed.finished);
        EXPECT_EQ(resumed.step, 12);
        EXPECT_LT((second.weights_ - whole.weights_).abs().max().item<double>(), 1e-6) << "stopped at " << stop;
    }
}

TEST_F(TrainingRunTest, StopRequestReportsAndMetricsLog) {
    std::atomic<bool> stop{false};
    std::vector<StepReport> reports;
    RunControl control;
    control.stop_requested = &stop;
    control.on_step = [&](const StepReport& report) {
        reports.push_back(report);
        if (report.epoch == 2 && report.step == 2) stop = true;
    };
    LineRecipe recipe;
    const std::string run = fresh_run("run");
    const RunResult result = run_training(recipe, run, control, false);
    EXPECT_FALSE(result.finished);
    EXPECT_EQ(result.step, 5);
    ASSERT_EQ(reports.size(), 5u);
    EXPECT_EQ(reports[0].phase, "first");
    EXPECT_EQ(reports[4].phase, "second");
    EXPECT_EQ(reports[4].steps, 3);
    EXPECT_EQ(reports[4].epochs, 4);
    EXPECT_EQ(reports[1].eta_seconds, -1);  // the second phase's speed is not known yet
    EXPECT_GE(reports[4].eta_seconds, 0);
    // One metrics line a finished epoch, after the log's format line.
    std::ifstream log(RunFiles{run}.metrics());
    std::vector<nlohmann::json> lines;
    for (std::string line; std::getline(log, line);) lines.push_back(nlohmann::json::parse(line));
    ASSERT_EQ(lines.size(), 2u);
    EXPECT_EQ(lines[0]["run"], "toy");
    EXPECT_EQ(lines[1]["epoch"], 1);
    EXPECT_EQ(lines[1]["step"], 3);
    EXPECT_TRUE(lines[1].contains("loss"));
}

TEST_F(TrainingRunTest, DivergenceAndDamagedCheckpointsAreErrors) {
    LineRecipe diverging;
    diverging.diverge_ = true;
    const std::string message = pupembed::testing::error_message_of(
        [&] { run_training(diverging, fresh_run("diverging"), {}, false); });
    EXPECT_NE(message.find("training diverged"), std::string::npos) << message;
    EXPECT_NE(message.find("try less"), std::string::npos) << message;

    RunControl control;
    control.stop_after_steps = 2;
    LineRecipe first;
    const std::string run = fresh_run("damaged");
    run_training(first, run, control, false);
    std::string bytes = read_file(RunFiles{run}.checkpoint());
    bytes[bytes.size() / 2] = char(bytes[bytes.size() / 2] ^ 0x55);
    write_file_atomically(RunFiles{run}.checkpoint(), bytes);
    LineRecipe second;
    EXPECT_NE(pupembed::testing::error_message_of([&] { run_training(second, run, {}, true); }).find("checkpoint"),
              std::string::npos);
}

}  // namespace
