// Stage 2 on small made-up features: loss falls, resume is exact, the model files carry the head;
// `extract` on a few real photos.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <algorithm>
#include <nlohmann/json.hpp>

#include "model/network.hpp"
#include "pupembed/core/error.hpp"
#include "pupembed/io/npy.hpp"
#include "pupembed/model/threads.hpp"
#include "pupembed/model/model.hpp"
#include "pupembed/train/features.hpp"
#include "pupembed/train/train_embedding_head.hpp"
#include "test_support.hpp"

namespace fs = std::filesystem;
using pupembed::testing::quote;
using pupembed::testing::TempDir;

namespace {

/// A stage-1-like model file and train/val feature sets of 4 classes, clustered around class
/// centres in the 512-d feature space.
class SmallFeatures : public ::testing::Test {
protected:
    void SetUp() override {
        pupembed::set_thread_count(1);
        pupembed::ModelInfo info;
        info.classifier = pupembed::LinearClassifierHeadImpl::kKind;
        info.class_ids = info.class_names = {"a", "b", "c", "d"};
        model_ = (dir_ / "stage1.pt").string();
        pupembed::save_model(model_, pupembed::create_model(info));
        torch::manual_seed(5);
        const torch::Tensor centres = torch::randn({4, 512}) * 2;
        write("train.npy", centres, 40);
        write("val.npy", centres, 10);
    }
    void write(const std::string& name, const torch::Tensor& centres, int per_class) {
        pupembed::FeatureSet set;
        set.class_names = {"a", "b", "c", "d"};
        set.model = model_;
        std::vector<int64_t> labels;
        for (int c = 0; c < 4; ++c)
            for (int i = 0; i < per_class; ++i) {
                labels.push_back(c);
                set.paths.push_back(name + "/" + std::to_string(c) + "/" + std::to_string(i) + ".jpg");
            }
        set.labels = labels;
        const torch::Tensor features =
            (centres.index_select(0, torch::tensor(labels, torch::kInt64)) + torch::randn({int64_t(labels.size()), 512}) * 3)
                .relu()
                .contiguous();
        set.features = {features.size(0), features.size(1),
                        std::vector<float>(features.data_ptr<float>(), features.data_ptr<float>() + features.numel())};
        pupembed::write_feature_set((dir_ / name).string(), set);
    }
    pupembed::EmbeddingHeadTrainingOptions options(const std::string& run, const std::string& loss) {
        pupembed::EmbeddingHeadTrainingOptions o;
        o.train_features = (dir_ / "train.npy").string();
        o.val_features = (dir_ / "val.npy").string();
        o.run_dir = (dir_ / run).string();
        o.loss = loss;
        o.epochs = 6;
        o.batch = 16;
        o.embedding_dim = 16;
        o.hidden = 32;
        return o;
    }
    TempDir dir_;
    std::string model_;
};

torch::Tensor head_weights(const std::string& model_file) {
    const pupembed::Model model = pupembed::load_model(model_file);
    std::vector<torch::Tensor> parts;
    for (const auto& p : model.network->embedding->parameters()) parts.push_back(p.detach().flatten());
    for (const auto& b : model.network->embedding->buffers()) parts.push_back(b.detach().flatten().to(torch::kFloat32));
    return torch::cat(parts);
}

}  // namespace

TEST_F(SmallFeatures, FeatureSetsRoundTrip) {
    const pupembed::FeatureSet set = pupembed::read_feature_set((dir_ / "train.npy").string());
    EXPECT_EQ(set.features.rows, 160);
    EXPECT_EQ(set.features.columns, 512);
    EXPECT_EQ(set.class_names, (std::vector<std::string>{"a", "b", "c", "d"}));
    EXPECT_EQ(set.labels.at(159), 3);
    EXPECT_EQ(set.model, model_);
    pupembed::testing::write_bytes(dir_ / "val.tsv", "not a table\n");
    EXPECT_THROW(pupembed::read_feature_set((dir_ / "val.npy").string()), pupembed::Error);
}

TEST_F(SmallFeatures, BothLossesLearnAndWriteModelsWithTheHead) {
    for (const char* loss : {"proxy", "contrastive"}) {
        std::vector<double> losses;
        pupembed::TrainingCallbacks callbacks;
        callbacks.on_epoch = [&](const pupembed::EpochReport& r) { losses.push_back(r.train_loss); };
        const auto outcome = pupembed::train_embedding_head(options(std::string("run-") + loss, loss), callbacks);
        ASSERT_TRUE(outcome.finished) << loss;
        EXPECT_LT(losses.back(), losses.front()) << loss;
        EXPECT_GT(outcome.best_val_map_at_r, 0.5) << loss << ": 4 well-separated classes";
        pupembed::Model model = pupembed::load_model(outcome.best_model);
        ASSERT_TRUE(model.network->embedding) << loss;
        EXPECT_EQ(model.info.embedding_dim, 16);
        EXPECT_TRUE(model.network->classifier) << "the classifier of the features' model is kept";
        model.network->eval();
        torch::NoGradGuard no_grad;
        const torch::Tensor e = model.network->run(torch::randn({2, 3, 64, 64}), false, true).embeddings;
        EXPECT_EQ(e.size(1), 16);
        EXPECT_NEAR(e.norm(2, 1)[0].item<double>(), 1.0, 1e-5);
    }
}

TEST_F(SmallFeatures, StoppedAndResumedEqualsUninterrupted) {
    for (const char* loss : {"proxy", "contrastive"}) {
        const auto whole = pupembed::train_embedding_head(options(std::string("whole-") + loss, loss));
        auto parts = options(std::string("parts-") + loss, loss);
        parts.stop_after_steps = 13;  // 10 steps an epoch: inside the second epoch
        ASSERT_FALSE(pupembed::train_embedding_head(parts).finished);
        const auto last = pupembed::resume_embedding_head_training(parts.run_dir);
        ASSERT_TRUE(last.finished);
        const double difference = (head_weights(whole.final_model) - head_weights(last.final_model)).abs().max().item<double>();
        EXPECT_LT(difference, 1e-6) << loss;
    }
}

TEST_F(SmallFeatures, RefusesFeaturesOfDifferentClasses) {
    torch::manual_seed(1);
    pupembed::FeatureSet other = pupembed::read_feature_set((dir_ / "val.npy").string());
    other.class_names = {"a", "b", "c", "x"};
    pupembed::write_feature_set((dir_ / "other.npy").string(), other);
    auto o = options("bad", "proxy");
    o.val_features = (dir_ / "other.npy").string();
    try {
        pupembed::train_embedding_head(o);
        FAIL() << "no error";
    } catch (const pupembed::Error& e) {
        EXPECT_NE(std::string(e.what()).find("different classes"), std::string::npos) << e.what();
    }
}

TEST(Extract, CommandWritesFeaturesOfRealPhotos) {
    PUPEMBED_REQUIRE_SHARED("weights/squeezenet1.1-imagenet");
    PUPEMBED_REQUIRE_SHARED("data/stanford-dogs-64/val");
    TempDir dir;
    const fs::path val = pupembed::testing::shared_dir() / "data/stanford-dogs-64/val";
    for (const char* breed : {"n02085620-Chihuahua", "n02110958-pug"}) {
        fs::create_directories(dir / "photos" / breed);
        int copied = 0;
        for (const auto& entry : fs::directory_iterator(val / breed))
            if (copied++ < 3) fs::copy_file(entry.path(), dir / "photos" / breed / entry.path().filename());
    }
    const std::string model = (dir / "m.pt").string();
    ASSERT_EQ(pupembed::testing::run_pupembed("import-imagenet " +
                                              quote((pupembed::testing::shared_dir() / "weights/squeezenet1.1-imagenet").string()) +
                                              " -o " + quote(model))
                  .exit_code,
              0);
    const std::string common = "extract -m " + quote(model) + " --cache-dir " + quote((dir / "cache").string()) + " " +
                               quote((dir / "photos").string());
    const auto plain = pupembed::testing::run_pupembed(common + " -o " + quote((dir / "f.npy").string()));
    ASSERT_EQ(plain.exit_code, 0) << plain.err;
    const auto augmented = pupembed::testing::run_pupembed(common + " --augment 2 -o " + quote((dir / "g.npy").string()));
    ASSERT_EQ(augmented.exit_code, 0) << augmented.err;
    const pupembed::FeatureSet f = pupembed::read_feature_set((dir / "f.npy").string());
    const pupembed::FeatureSet g = pupembed::read_feature_set((dir / "g.npy").string());
    EXPECT_EQ(f.features.rows, 6);
    EXPECT_EQ(f.features.columns, 512);
    EXPECT_EQ(g.features.rows, 12);
    EXPECT_EQ(g.features.columns, 512);
    EXPECT_EQ(f.class_names, (std::vector<std::string>{"n02085620-Chihuahua", "n02110958-pug"}));
    EXPECT_GT(*std::min_element(f.features.values.begin(), f.features.values.end()), -1e-6) << "pooled ReLU features are not negative";
    EXPECT_EQ(f.layer, "fire9");
    const auto fire7 = pupembed::testing::run_pupembed(common + " --layer fire7 -o " + quote((dir / "h.npy").string()));
    ASSERT_EQ(fire7.exit_code, 0) << fire7.err;
    const pupembed::FeatureSet h = pupembed::read_feature_set((dir / "h.npy").string());
    EXPECT_EQ(h.features.columns, 384);  // fire7: 384 channels
    EXPECT_EQ(h.layer, "fire7");
    EXPECT_EQ(pupembed::testing::run_pupembed(common + " --layer fire10 -o " + quote((dir / "x.npy").string())).exit_code, 1);
    // The centre-crop features are what the model's own preprocessing gives for the photo.
    pupembed::Model m = pupembed::load_model(model);
    m.network->eval();
    std::vector<float> chw(3 * 128 * 128);
    pupembed::preprocess(pupembed::load_image(f.paths[0]), m.info.preprocessing, chw.data());
    torch::NoGradGuard no_grad;
    const torch::Tensor direct = m.network->pooled_features(torch::from_blob(chw.data(), {1, 3, 128, 128}));
    const torch::Tensor extracted = torch::from_blob(const_cast<float*>(f.features.row(0)), {f.features.columns});
    EXPECT_LT((direct[0] - extracted).abs().max().item<double>(), 1e-3);
}

namespace {

/// 8 training photos of each of two breeds into `dir`: 6 in train/, 2 in val/.
void copy_two_breeds(const fs::path& dir) {
    const fs::path train = pupembed::testing::shared_dir() / "data/stanford-dogs-64/train";
    for (const char* breed : {"n02085620-Chihuahua", "n02110958-pug"}) {
        std::vector<fs::path> photos;
        for (const auto& entry : fs::directory_iterator(train / breed)) photos.push_back(entry.path());
        std::sort(photos.begin(), photos.end());
        for (const char* part : {"train", "val"}) fs::create_directories(dir / part / breed);
        for (size_t i = 0; i < 8; ++i)
            fs::copy_file(photos.at(i), dir / (i < 6 ? "train" : "val") / breed / photos[i].filename());
    }
}

}  // namespace

// train-siamese --finetune-trunk from the command: photos in, a model with an embedding head out,
// stoppable and resumable by the same command; its options need the flag.
TEST(TrainSiamese, CommandFinetunesTheTrunkOnPhotos) {
    PUPEMBED_REQUIRE_SHARED("data/stanford-dogs-64/train");
    TempDir dir;
    copy_two_breeds(dir.path());
    const std::string run = (dir / "run").string();
    const std::string common = "train-siamese --finetune-trunk " + quote((dir / "train").string()) + " --val " +
                               quote((dir / "val").string()) + " --init none --cache-dir " +
                               quote((dir / "cache").string()) +
                               " --input-size 56 --resize 64 --batch 4 --dim 8 --hidden 16 --warmup-epochs 0 --epochs 2 --threads 1";
    const auto stopped = pupembed::testing::run_pupembed(common + " --stop-after 2 --out " + quote(run));
    EXPECT_EQ(stopped.exit_code, 130) << stopped.err;
    EXPECT_NE(stopped.err.find("pupembed train-siamese --resume " + run), std::string::npos) << stopped.err;
    const auto resumed = pupembed::testing::run_pupembed("train-siamese --json --resume " + quote(run));
    ASSERT_EQ(resumed.exit_code, 0) << resumed.err;
    const auto json = nlohmann::json::parse(resumed.out);
    EXPECT_TRUE(json.at("finished").get<bool>());
    EXPECT_EQ(json.at("steps_done"), 6);
    EXPECT_GE(json.at("best_val_map_at_r").get<double>(), 0.0);
    const pupembed::Model model = pupembed::load_model(json.at("best_model").get<std::string>());
    EXPECT_EQ(model.network->embedding_size(), 8);
    EXPECT_TRUE(model.network->classifier);

    // Options of the image run need --finetune-trunk; the contrastive loss needs features.
    const auto no_flag = pupembed::testing::run_pupembed("train-siamese a.npy --val b.npy --out x --init m.pt");
    EXPECT_EQ(no_flag.exit_code, 2);
    EXPECT_NE(no_flag.err.find("--init needs --finetune-trunk"), std::string::npos) << no_flag.err;
    const auto contrastive = pupembed::testing::run_pupembed(common + " --loss contrastive --out " + quote((dir / "c").string()));
    EXPECT_EQ(contrastive.exit_code, 2) << contrastive.err;
}

// --teacher: another model's embeddings of the training photos are computed once (RUN/teacher.npy,
// one unit row per photo), kept through a stop and a resume, and need --distill-similarity.
TEST(TrainSiamese, ATeachersEmbeddingsAreComputedOnceAndKept) {
    PUPEMBED_REQUIRE_SHARED("data/stanford-dogs-64/train");
    PUPEMBED_REQUIRE_SHARED("weights/squeezenet1.1-imagenet");
    TempDir dir;
    copy_two_breeds(dir.path());
    const std::string teacher = (dir / "teacher.pt").string();
    ASSERT_EQ(pupembed::testing::run_pupembed("import-imagenet " +
                                              quote((pupembed::testing::shared_dir() / "weights/squeezenet1.1-imagenet").string()) +
                                              " -o " + quote(teacher))
                  .exit_code,
              0);
    const std::string run = (dir / "run").string();
    const std::string common = "train-siamese --finetune-trunk " + quote((dir / "train").string()) + " --val " +
                               quote((dir / "val").string()) + " --init none --cache-dir " + quote((dir / "cache").string()) +
                               " --input-size 56 --resize 64 --batch 4 --dim 8 --hidden 16 --warmup-epochs 0 --epochs 2 --threads 1";
    const auto stopped = pupembed::testing::run_pupembed(common + " --teacher " + quote(teacher) +
                                                         " --distill-similarity 1 --stop-after 2 --out " + quote(run));
    EXPECT_EQ(stopped.exit_code, 130) << stopped.err;
    EXPECT_NE(stopped.err.find("teacher: 12 embeddings of 512 values"), std::string::npos) << stopped.err;
    const fs::path rows_file = dir / "run" / "teacher.npy";
    const pupembed::NpyArray rows = pupembed::read_npy(rows_file.string());
    ASSERT_EQ(rows.shape, (std::vector<int64_t>{12, 512}));
    for (int64_t r = 0; r < 12; ++r) {
        double norm = 0;
        for (int64_t c = 0; c < 512; ++c) norm += double(rows.data[size_t(r * 512 + c)]) * rows.data[size_t(r * 512 + c)];
        EXPECT_NEAR(norm, 1.0, 1e-4) << r;
    }
    const auto written = fs::last_write_time(rows_file);
    const auto resumed = pupembed::testing::run_pupembed("train-siamese --resume " + quote(run));
    ASSERT_EQ(resumed.exit_code, 0) << resumed.err;
    EXPECT_EQ(resumed.err.find("teacher:"), std::string::npos) << "computed again: " << resumed.err;
    EXPECT_EQ(fs::last_write_time(rows_file), written);

    const auto alone = pupembed::testing::run_pupembed(common + " --teacher " + quote(teacher) + " --out " +
                                                       quote((dir / "alone").string()));
    EXPECT_NE(alone.exit_code, 0);
    EXPECT_NE(alone.err.find("--teacher: needs --distill-similarity"), std::string::npos) << alone.err;
}
