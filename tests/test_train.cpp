// Stage-1 training on a handful of real photos: loss falls, resume is exact, the cache is
// reused and rebuilt, bad input is refused before training.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <fstream>

#include "model/network.hpp"
#include "pupembed/core/error.hpp"
#include "pupembed/model/threads.hpp"
#include "pupembed/io/file_io.hpp"
#include "pupembed/model/model.hpp"
#include "pupembed/train/train_on_images.hpp"
#include "test_support.hpp"

namespace fs = std::filesystem;
using pupembed::ImageTrainingOptions;
using pupembed::Error;
using pupembed::testing::quote;
using pupembed::testing::shared_dir;
using pupembed::testing::TempDir;

namespace {

const char kTrain[] = "data/stanford-dogs-64/train";
const char kVal[] = "data/stanford-dogs-64/val";
const char kBreeds[3][40] = {"n02085620-Chihuahua", "n02099601-golden_retriever", "n02110958-pug"};

/// Copies the first `count` photos of each of three breeds from `from` into `to`.
void copy_breeds(const fs::path& from, const fs::path& to, int count) {
    for (const char* breed : kBreeds) {
        std::vector<fs::path> photos;
        for (const auto& entry : fs::directory_iterator(from / breed)) photos.push_back(entry.path());
        std::sort(photos.begin(), photos.end());
        fs::create_directories(to / breed);
        for (int i = 0; i < count; ++i) fs::copy_file(photos.at(size_t(i)), to / breed / photos[size_t(i)].filename());
    }
}

/// A small run: 3 breeds x 8 training photos, 3 x 3 validation photos, 56-pixel crops of 64.
class SmallRun : public ::testing::Test {
protected:
    void SetUp() override {
        if (!fs::exists(shared_dir() / kTrain)) GTEST_SKIP() << "skipped: " << shared_dir() / kTrain << " is absent";
        pupembed::set_thread_count(1);
        copy_breeds(shared_dir() / kTrain, dir_ / "train", 8);
        copy_breeds(shared_dir() / kVal, dir_ / "val", 3);
        options_.train_data = (dir_ / "train").string();
        options_.val_data = (dir_ / "val").string();
        options_.init = "none";
        options_.cache_dir = (dir_ / "cache").string();
        options_.input_size = 56;
        options_.resize = 64;
        options_.batch = 8;
        options_.warmup_epochs = 1;
        options_.epochs = 2;
        options_.head_lr = options_.trunk_lr = 1e-3;
    }
    ImageTrainingOptions with_run(const std::string& name) {
        ImageTrainingOptions options = options_;
        options.run_dir = (dir_ / name).string();
        return options;
    }
    /// A stage-1 model trained for one epoch, and options for a run `name` from it with a small
    /// embedding head, held near it by L2-SP, feature distillation and a moving average.
    ImageTrainingOptions held_near_stage1(const std::string& name) {
        ImageTrainingOptions stage1 = with_run("stage1");
        stage1.epochs = 1;
        const auto first = pupembed::train_on_images(stage1);
        EXPECT_TRUE(first.finished);
        ImageTrainingOptions options = with_run(name);
        options.init = first.final_model;
        options.embedding_loss = "proxy";
        options.embedding_dim = 8;
        options.embedding_hidden = 16;
        options.l2sp = 0.01;
        options.distill = 1;
        options.ema = 0.9;
        return options;
    }
    std::string error_of(const ImageTrainingOptions& options) {
        try {
            pupembed::train_on_images(options);
        } catch (const Error& e) {
            EXPECT_FALSE(fs::exists(fs::path(options.run_dir) / "checkpoint.ckpt")) << "training must not start";
            return e.what();
        }
        return "no error";
    }
    TempDir dir_;
    ImageTrainingOptions options_;
};

torch::Tensor weights_of(const std::string& model_file) {
    const pupembed::Model model = pupembed::load_model(model_file);
    std::vector<torch::Tensor> parts;
    for (const auto& p : model.network->parameters()) parts.push_back(p.detach().flatten());
    for (const auto& b : model.network->buffers()) parts.push_back(b.detach().flatten().to(torch::kFloat32));
    return torch::cat(parts);
}

/// Runs `options` in `run_dir` stopped after `steps` steps, resumes it, and expects the final
/// weights of the uninterrupted run's `final_model`. The resumed run's outcome goes to `resumed`.
void expect_resumed_run_equals(ImageTrainingOptions options, const std::string& run_dir, int64_t steps,
                               const std::string& final_model, pupembed::TrainingOutcome* resumed = nullptr) {
    options.run_dir = run_dir;
    options.stop_after_steps = steps;
    ASSERT_FALSE(pupembed::train_on_images(options).finished);
    const auto last = pupembed::resume_training_on_images(run_dir);
    ASSERT_TRUE(last.finished);
    EXPECT_LT((weights_of(final_model) - weights_of(last.final_model)).abs().max().item<double>(), 1e-6);
    if (resumed) *resumed = last;
}

}  // namespace

TEST_F(SmallRun, LossFallsAndModelsAreWritten) {
    ImageTrainingOptions options = with_run("run");
    options.epochs = 6;
    std::vector<double> losses;
    pupembed::TrainingCallbacks callbacks;
    callbacks.on_epoch = [&](const pupembed::EpochReport& report) { losses.push_back(report.train_loss); };
    const auto outcome = pupembed::train_on_images(options, callbacks);
    ASSERT_TRUE(outcome.finished);
    ASSERT_EQ(losses.size(), 7u);
    EXPECT_LT(losses.back(), losses.front() * 0.8) << "first " << losses.front() << ", last " << losses.back();

    const pupembed::Model best = pupembed::load_model(outcome.best_model);
    EXPECT_EQ(best.info.class_ids, (std::vector<std::string>{"n02085620", "n02099601", "n02110958"}));
    EXPECT_EQ(best.info.class_names[2], "pug");
    EXPECT_EQ(best.info.preprocessing.input_size, 56);
    EXPECT_TRUE(fs::exists(outcome.final_model));

    // metrics.jsonl: a format line, then one line per epoch.
    std::ifstream metrics(fs::path(options.run_dir) / "metrics.jsonl");
    std::string line;
    std::getline(metrics, line);
    EXPECT_EQ(nlohmann::json::parse(line).at("format"), "pupembed-metrics");
    int epochs = 0;
    while (std::getline(metrics, line)) {
        const auto json = nlohmann::json::parse(line);
        EXPECT_GE(json.at("val_top1").get<double>(), 0.0);
        ++epochs;
    }
    EXPECT_EQ(epochs, 7);
}

TEST_F(SmallRun, StoppedAndResumedEqualsUninterrupted) {
    const auto whole = pupembed::train_on_images(with_run("whole"));
    ASSERT_TRUE(whole.finished);
    // 3 steps an epoch: stop inside the first fine-tuning epoch (after the optimiser changed),
    // then again exactly at the end of an epoch, before its validation.
    ImageTrainingOptions parts = with_run("parts");
    parts.stop_after_steps = 4;
    const auto first = pupembed::train_on_images(parts);
    ASSERT_FALSE(first.finished);
    EXPECT_EQ(first.step, 4);
    const auto second = pupembed::resume_training_on_images(parts.run_dir, {}, 6);
    ASSERT_FALSE(second.finished);
    EXPECT_EQ(second.step, 6);
    const auto last = pupembed::resume_training_on_images(parts.run_dir);
    ASSERT_TRUE(last.finished);
    const double difference = (weights_of(whole.final_model) - weights_of(last.final_model)).abs().max().item<double>();
    EXPECT_LT(difference, 1e-6);
    EXPECT_DOUBLE_EQ(whole.best_val_top1, last.best_val_top1);
    // A finished run cannot be started again in the same folder.
    try {
        pupembed::train_on_images(with_run("whole"));
        ADD_FAILURE() << "no error";
    } catch (const Error& e) {
        EXPECT_NE(std::string(e.what()).find("already holds a run"), std::string::npos) << e.what();
    }
}

TEST_F(SmallRun, CacheIsReusedAndRebuiltWhenAnImageChanges) {
    std::vector<std::string> messages;
    pupembed::TrainingCallbacks callbacks;
    callbacks.on_message = [&](const std::string& m) { messages.push_back(m); };
    ImageTrainingOptions options = with_run("a");
    options.warmup_epochs = 1;
    options.epochs = 0;
    pupembed::train_on_images(options, callbacks);
    ASSERT_GE(messages.size(), 2u);
    EXPECT_NE(messages[0].find("decoded into cache"), std::string::npos) << messages[0];

    messages.clear();
    options.run_dir = (dir_ / "b").string();
    pupembed::train_on_images(options, callbacks);
    EXPECT_NE(messages[0].find("cache reused"), std::string::npos) << messages[0];
    EXPECT_NE(messages[1].find("cache reused"), std::string::npos) << messages[1];

    // Replace one training photo by another: train's cache is rebuilt, val's is reused.
    const fs::path breed = dir_ / "train" / kBreeds[0];
    std::vector<fs::path> photos;
    for (const auto& entry : fs::directory_iterator(breed)) photos.push_back(entry.path());
    std::sort(photos.begin(), photos.end());
    fs::copy_file(photos[1], photos[0], fs::copy_options::overwrite_existing);
    messages.clear();
    options.run_dir = (dir_ / "c").string();
    pupembed::train_on_images(options, callbacks);
    EXPECT_NE(messages[0].find("decoded into cache"), std::string::npos) << messages[0];
    EXPECT_NE(messages[1].find("cache reused"), std::string::npos) << messages[1];
}

TEST_F(SmallRun, UnreadableImagesAreSkippedOrFailWithStrict) {
    pupembed::testing::write_bytes(dir_ / "train" / kBreeds[1] / "broken.jpg", "not a photo");
    std::vector<std::string> messages;
    pupembed::TrainingCallbacks callbacks;
    callbacks.on_message = [&](const std::string& m) { messages.push_back(m); };
    ImageTrainingOptions options = with_run("skip");
    options.epochs = 0;
    const auto outcome = pupembed::train_on_images(options, callbacks);
    EXPECT_EQ(outcome.skipped_images, 1);
    bool named = false;
    for (const auto& m : messages) named |= m.find("broken.jpg") != std::string::npos;
    EXPECT_TRUE(named);

    ImageTrainingOptions strict = with_run("strict");
    strict.strict = true;
    EXPECT_NE(error_of(strict).find("broken.jpg"), std::string::npos);
}

TEST_F(SmallRun, BadInputIsRefusedBeforeTraining) {
    // An empty class folder.
    fs::create_directories(dir_ / "train" / "n00000000-Empty");
    EXPECT_NE(error_of(with_run("r1")).find("holds no images"), std::string::npos);
    fs::remove(dir_ / "train" / "n00000000-Empty");

    // Train and val with different classes.
    fs::remove_all(dir_ / "val" / kBreeds[2]);
    const std::string different = error_of(with_run("r2"));
    EXPECT_NE(different.find("different classes"), std::string::npos) << different;
    EXPECT_NE(different.find("pug"), std::string::npos) << different;

    // Fewer than two classes.
    pupembed::testing::write_bytes(dir_ / "one.list", "train/" + std::string(kBreeds[0]) + "/" +
                                                          fs::directory_iterator(dir_ / "train" / kBreeds[0])->path().filename().string() +
                                                          "\tdog\n");
    ImageTrainingOptions one = with_run("r3");
    one.train_data = one.val_data = (dir_ / "one.list").string();
    EXPECT_NE(error_of(one).find("at least 2"), std::string::npos) << error_of(one);

    // A list naming a missing file.
    pupembed::testing::write_bytes(dir_ / "missing.list", "train/nowhere.jpg\ta\ntrain/nowhere2.jpg\tb\n");
    ImageTrainingOptions missing = with_run("r4");
    missing.train_data = (dir_ / "missing.list").string();
    missing.val_data = "";
    EXPECT_NE(error_of(missing).find("nowhere.jpg, which does not exist"), std::string::npos) << error_of(missing);
}

TEST_F(SmallRun, CommandStopsOnInterruptAndResumes) {
    const std::string run = (dir_ / "cli").string();
    const std::string common = quote((dir_ / "train").string()) + " --val " + quote((dir_ / "val").string()) +
                               " --init none --cache-dir " + quote((dir_ / "cache").string()) +
                               " --input-size 56 --resize 64 --batch 8 --threads 1";
    const auto stopped = pupembed::testing::run_pupembed("train-classifier " + common + " --epochs 2 --stop-after 2 --out " + quote(run));
    EXPECT_EQ(stopped.exit_code, 130) << stopped.err;
    EXPECT_NE(stopped.err.find("pupembed train-classifier --resume " + run), std::string::npos) << stopped.err;
    const auto resumed = pupembed::testing::run_pupembed("train-classifier --json --resume " + quote(run));
    ASSERT_EQ(resumed.exit_code, 0) << resumed.err;
    const auto json = nlohmann::json::parse(resumed.out);
    EXPECT_TRUE(json.at("finished").get<bool>());
    EXPECT_EQ(json.at("steps_done"), 6);

    // A real SIGINT during a long run: the step finishes, a checkpoint is written, exit 130.
    const std::string long_run = (dir_ / "sigint").string();
    const auto interrupted = pupembed::testing::run_pupembed_with_interrupt(
        "train-classifier " + common + " --epochs 1000 --out " + quote(long_run), "[finetune] epoch 2/1000");
    EXPECT_EQ(interrupted.exit_code, 130) << interrupted.err;
    EXPECT_TRUE(fs::exists(fs::path(long_run) / "checkpoint.ckpt"));
    EXPECT_NE(interrupted.err.find("--resume"), std::string::npos) << interrupted.err;

    // Usage errors.
    EXPECT_EQ(pupembed::testing::run_pupembed("train-classifier " + common).exit_code, 2);  // no --out
    EXPECT_EQ(pupembed::testing::run_pupembed("train-classifier --resume " + quote(run) + " --init none").exit_code, 2);
}

// Stage 2 end to end (train-siamese --finetune-trunk): the embedding head and the class proxies
// train with the trunk and classifier, the run keeps the best val MAP@R, and a stopped run
// resumed gives exactly the uninterrupted run's weights (proxies and optimiser included).
TEST_F(SmallRun, FinetuneTrunkWithProxyLossResumesExactly) {
    ImageTrainingOptions options = with_run("whole");
    options.embedding_loss = "proxy";
    options.embedding_dim = 16;
    options.embedding_hidden = 32;
    options.epochs = 4;
    std::vector<pupembed::EpochReport> epochs;
    pupembed::TrainingCallbacks callbacks;
    callbacks.on_epoch = [&](const pupembed::EpochReport& report) { epochs.push_back(report); };
    const auto whole = pupembed::train_on_images(options, callbacks);
    ASSERT_TRUE(whole.finished);
    ASSERT_EQ(epochs.size(), 5u);
    EXPECT_LT(epochs.back().train_loss, epochs.front().train_loss * 0.9)
        << "first " << epochs.front().train_loss << ", last " << epochs.back().train_loss;
    double best_map = -1;
    for (const auto& e : epochs) {
        EXPECT_GE(e.val_map_at_r, 0.0);
        EXPECT_GE(e.val_recall_at_1, 0.0);
        best_map = std::max(best_map, e.val_map_at_r);
    }
    EXPECT_DOUBLE_EQ(whole.best_val_map_at_r, best_map) << "best.pt is chosen by val MAP@R";

    const pupembed::Model best = pupembed::load_model(whole.best_model);
    EXPECT_EQ(best.info.embedding, pupembed::EmbeddingHeadImpl::kKind);
    EXPECT_EQ(best.network->embedding_size(), 16);
    EXPECT_TRUE(best.network->classifier);
    std::ifstream metrics(fs::path(options.run_dir) / "metrics.jsonl");
    std::string line;
    std::getline(metrics, line);
    std::getline(metrics, line);
    EXPECT_TRUE(nlohmann::json::parse(line).contains("val_map_at_r")) << line;

    const std::string parts = (dir_ / "parts").string();
    pupembed::TrainingOutcome last;
    expect_resumed_run_equals(options, parts, 5, whole.final_model, &last);  // inside the first fine-tuning epoch
    ASSERT_TRUE(last.finished);
    EXPECT_DOUBLE_EQ(whole.best_val_map_at_r, last.best_val_map_at_r);
    EXPECT_TRUE(pupembed::is_image_training_run(parts));
}

// What holds the model near its --init (L2-SP, feature and similarity-structure distillation, a
// moving average) is part of the run: a stopped run resumed gives exactly the uninterrupted run's
// weights, and the similarity distillation changes what is learnt.
TEST_F(SmallRun, FinetuneTrunkHeldNearTheInitResumesExactly) {
    ImageTrainingOptions options = held_near_stage1("held");
    options.similarity_distill = 1;
    options.similarity_temperature = 0.2;
    const auto whole = pupembed::train_on_images(options);
    ASSERT_TRUE(whole.finished);
    // Stopped inside the warm-up, where the similarity distillation already counts.
    expect_resumed_run_equals(options, (dir_ / "parts").string(), 2, whole.final_model);

    ImageTrainingOptions without = options;
    without.run_dir = (dir_ / "without").string();
    without.similarity_distill = 0;
    const auto plain = pupembed::train_on_images(without);
    ASSERT_TRUE(plain.finished);
    EXPECT_GT((weights_of(whole.final_model) - weights_of(plain.final_model)).abs().max().item<double>(), 1e-4);

    ImageTrainingOptions no_head = options;
    no_head.run_dir = (dir_ / "no-head").string();
    no_head.embedding_loss.clear();
    EXPECT_NE(error_of(no_head).find("--distill-similarity: needs an embedding loss"), std::string::npos) << error_of(no_head);
}

// --init's weights start the run where they fit: a stage-1 model's trunk and classifier (same
// classes) are taken over, and the warm-up leaves the trunk as it was.
TEST_F(SmallRun, FinetuneTrunkStartsFromTheInitModel) {
    ImageTrainingOptions stage1 = with_run("stage1");
    stage1.warmup_epochs = 1;
    stage1.epochs = 1;
    const auto first = pupembed::train_on_images(stage1);
    ASSERT_TRUE(first.finished);

    ImageTrainingOptions stage2 = with_run("stage2");
    stage2.init = first.final_model;
    stage2.input_size = 0;  // taken from the init model
    stage2.resize = 0;
    stage2.embedding_loss = "proxy";
    stage2.embedding_dim = 8;
    stage2.embedding_hidden = 16;
    stage2.warmup_epochs = 1;
    stage2.epochs = 0;
    stage2.warmup_lr = 1e-9;  // the heads barely move: the classifier's val top-1 stays stage 1's
    const auto second = pupembed::train_on_images(stage2);
    ASSERT_TRUE(second.finished);
    const pupembed::Model init = pupembed::load_model(first.final_model);
    const pupembed::Model after = pupembed::load_model(second.final_model);
    EXPECT_EQ(after.info.preprocessing.input_size, 56);
    EXPECT_EQ(after.info.preprocessing.resize_shorter, 64);
    auto trunk_before = init.network->trunk->named_parameters();
    for (const auto& item : after.network->trunk->named_parameters())
        EXPECT_TRUE(torch::equal(item.value(), trunk_before[item.key()])) << item.key() << " changed in the warm-up";
    const auto classifier_before = init.network->classifier->parameters();
    const auto classifier_after = after.network->classifier->parameters();
    ASSERT_EQ(classifier_before.size(), classifier_after.size());
    for (size_t i = 0; i < classifier_before.size(); ++i)
        EXPECT_LT((classifier_before[i] - classifier_after[i]).abs().max().item<double>(), 1e-5) << "classifier not taken over";
}

// --freeze-until keeps the trunk's first layers at --init's weights through warm-up and
// fine-tuning while the later layers train; a stopped run resumes exactly; a layer the trunk
// lacks, or no --init, is refused before training.
TEST_F(SmallRun, FrozenLayersKeepTheInitWeightsAndResumeExactly) {
    ImageTrainingOptions options = held_near_stage1("frozen");
    options.freeze_until = "fire3";
    const auto whole = pupembed::train_on_images(options);
    ASSERT_TRUE(whole.finished);

    const pupembed::Model init = pupembed::load_model(options.init);
    const pupembed::Model after = pupembed::load_model(whole.final_model);
    auto before = init.network->trunk->named_parameters();
    int frozen = 0, trained = 0;
    for (const auto& item : after.network->trunk->named_parameters()) {
        const std::string& name = item.key();  // conv1, fire2, fire3 are registered as conv0, fire0, fire1
        const bool kept = name.rfind("conv0.", 0) == 0 || name.rfind("fire0.", 0) == 0 || name.rfind("fire1.", 0) == 0;
        const double moved = (item.value() - before[name]).abs().max().item<double>();
        if (kept) {
            EXPECT_EQ(moved, 0.0) << name << " is frozen";
            ++frozen;
        } else if (name.find("weight") != std::string::npos) {
            EXPECT_GT(moved, 1e-6) << name << " should train";
            ++trained;
        }
    }
    EXPECT_EQ(frozen, 14);
    EXPECT_GT(trained, 0);

    expect_resumed_run_equals(options, (dir_ / "parts").string(), 5, whole.final_model);  // inside fine-tuning

    ImageTrainingOptions all = options;  // the whole trunk frozen: only the heads train
    all.run_dir = (dir_ / "all").string();
    all.freeze_until = "fire9";
    all.epochs = 1;
    const auto heads = pupembed::train_on_images(all);
    ASSERT_TRUE(heads.finished);
    const pupembed::Model heads_only = pupembed::load_model(heads.final_model);
    for (const auto& item : heads_only.network->trunk->named_parameters())
        EXPECT_TRUE(torch::equal(item.value(), before[item.key()])) << item.key() << " is frozen";

    ImageTrainingOptions unknown = options;
    unknown.run_dir = (dir_ / "unknown").string();
    unknown.freeze_until = "block6";
    EXPECT_NE(error_of(unknown).find("--freeze-until: layer \"block6\": unknown (squeezenet1.1's are conv1, fire2"),
              std::string::npos)
        << error_of(unknown);
    ImageTrainingOptions scratch = options;
    scratch.run_dir = (dir_ / "scratch").string();
    scratch.init = "none";
    EXPECT_NE(error_of(scratch).find("--freeze-until: needs --init"), std::string::npos) << error_of(scratch);
}
