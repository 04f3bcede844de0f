// An embedding that carries the breed posterior: the head's unit vector followed by the weighted
// square root of softmax(logits / T), normalised again. Checked against the same sum done by hand
// from the network's own outputs, through the model file, and with the real command.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <algorithm>
#include <cmath>
#include <sstream>
#include <vector>

#include "model/tensor_archive.hpp"
#include "model/network.hpp"
#include "pupembed/core/error.hpp"
#include "pupembed/io/file_io.hpp"
#include "pupembed/io/npy.hpp"
#include "pupembed/model/model.hpp"
#include "test_support.hpp"

namespace fs = std::filesystem;
using pupembed::Model;
using pupembed::testing::quote;
using pupembed::testing::run_pupembed;
using pupembed::testing::run_pupembed_json;
using pupembed::testing::TempDir;

namespace {

std::string exact(double value) {
    std::ostringstream out;
    out.precision(17);
    out << value;
    return out.str();
}

Model model_with_both_heads() {
    pupembed::ModelInfo info;
    info.backbone = "mobilenetv2";
    info.preprocessing.input_size = 32;
    info.preprocessing.resize_shorter = 36;
    info.classifier = pupembed::LinearClassifierHeadImpl::kKind;
    info.class_ids = {"n1", "n2", "n3", "n4"};
    info.class_names = {"one", "two", "three", "four"};
    info.embedding = pupembed::EmbeddingHeadImpl::kKind;
    info.embedding_hidden = 16;
    info.embedding_dim = 6;
    info.source = "test";
    torch::manual_seed(5);
    Model model = pupembed::create_model(info);
    // Give the classifier logits far from uniform, so the temperature matters.
    torch::NoGradGuard no_grad;
    auto* head = model.network->classifier->as<pupembed::LinearClassifierHeadImpl>();
    head->linear->weight.mul_(40);
    model.network->eval();
    return model;
}

torch::Tensor images() {
    torch::manual_seed(9);
    return torch::randn({3, 3, 32, 32});
}

}  // namespace

TEST(EmbeddingPosterior, IsTheHeadThenTheWeightedRootOfTheTemperedPosteriorNormalised) {
    Model model = model_with_both_heads();
    torch::NoGradGuard no_grad;
    const auto plain = model.network->run(images(), true, true);
    ASSERT_EQ(plain.embeddings.size(1), 6);
    EXPECT_EQ(model.embedding_size(), 6);

    const double weight = 0.7, temperature = 0.5;
    pupembed::set_embedding_posterior(model, weight, temperature);
    EXPECT_EQ(model.embedding_size(), 10);
    const auto both = model.network->run(images(), false, true);
    EXPECT_FALSE(both.logits.defined());  // not asked for, though computed
    ASSERT_EQ(both.embeddings.sizes(), (std::vector<int64_t>{3, 10}));

    const auto head = plain.embeddings.accessor<float, 2>();
    const auto logits = plain.logits.accessor<float, 2>();
    const auto got = both.embeddings.accessor<float, 2>();
    for (int64_t i = 0; i < 3; ++i) {
        // By hand: exp((l_k - max) / T), divided by its sum, square-rooted, times the weight; the
        // head part has norm 1 and the root of a distribution has norm 1, so the whole has
        // norm sqrt(1 + weight^2).
        double top = logits[i][0];
        for (int64_t k = 1; k < 4; ++k) top = std::max(top, double(logits[i][k]));
        std::vector<double> p(4);
        double sum = 0;
        for (int64_t k = 0; k < 4; ++k) sum += p[size_t(k)] = std::exp((logits[i][k] - top) / temperature);
        const double norm = std::sqrt(1 + weight * weight);
        for (int64_t d = 0; d < 6; ++d) EXPECT_NEAR(got[i][d], head[i][d] / norm, 1e-5) << i << " " << d;
        for (int64_t k = 0; k < 4; ++k)
            EXPECT_NEAR(got[i][6 + k], weight * std::sqrt(p[size_t(k)] / sum) / norm, 1e-5) << i << " " << k;
    }
    // The temperature counts: at 1 the same photos give another posterior part.
    pupembed::set_embedding_posterior(model, weight, 1.0);
    const auto flatter = model.network->run(images(), false, true);
    EXPECT_GT((flatter.embeddings - both.embeddings).abs().max().item<float>(), 1e-3);
    // Weight 0 is the head alone again.
    pupembed::set_embedding_posterior(model, 0, 1.0);
    EXPECT_EQ(model.embedding_size(), 6);
    EXPECT_TRUE(torch::allclose(model.network->run(images(), false, true).embeddings, plain.embeddings));
}

TEST(EmbeddingPosterior, TheModelFileKeepsItAsVersion3) {
    TempDir dir;
    Model model = model_with_both_heads();
    pupembed::save_model((dir / "plain.pt").string(), model);
    EXPECT_EQ(pupembed::read_file((dir / "plain.pt").string())[8], 1);  // the version, after the 8-byte magic

    pupembed::set_embedding_posterior(model, 0.5, 0.25);
    EXPECT_EQ(pupembed::format_version(model.info), 3u);
    pupembed::save_model((dir / "posterior.pt").string(), model);
    EXPECT_EQ(pupembed::read_file((dir / "posterior.pt").string())[8], 3);
    Model loaded = pupembed::load_model((dir / "posterior.pt").string());
    EXPECT_DOUBLE_EQ(loaded.info.posterior_weight, 0.5);
    EXPECT_DOUBLE_EQ(loaded.info.posterior_temperature, 0.25);
    EXPECT_EQ(loaded.embedding_size(), 10);
    loaded.network->eval();
    torch::NoGradGuard no_grad;
    EXPECT_TRUE(torch::allclose(loaded.network->run(images(), false, true).embeddings,
                                model.network->run(images(), false, true).embeddings));
}

TEST(EmbeddingPosterior, AFileWithBadSettingsIsAnErrorNamingIt) {
    TempDir dir;
    Model model = model_with_both_heads();
    pupembed::set_embedding_posterior(model, 0.5, 0.25);
    const std::string good = (dir / "good.pt").string();
    pupembed::save_model(good, model);
    const pupembed::TensorArchive archive = pupembed::read_tensor_archive(good, "PUPMODEL", 3, "pupembed model");
    std::vector<std::pair<std::string, torch::Tensor>> tensors(archive.tensors.begin(), archive.tensors.end());
    const std::pair<const char*, nlohmann::json> damages[] = {
        {"bad posterior temperature", {{"weight", 0.5}, {"temperature", -1}}},
        {"bad posterior weight", {{"weight", 1e9}, {"temperature", 1}}},
        {"bad settings", {{"weight", "heavy"}, {"temperature", 1}}},
        {"bad settings", {{"weight", 0.5}}},
    };
    for (const auto& [message, posterior] : damages) {
        nlohmann::json meta = archive.meta;
        meta["embedding_posterior"] = posterior;
        const std::string bad = (dir / "bad.pt").string();
        pupembed::write_tensor_archive(bad, "PUPMODEL", 3, meta, tensors);
        EXPECT_ERROR_CONTAINS(pupembed::load_model(bad), message);
        EXPECT_ERROR_CONTAINS(pupembed::load_model(bad), bad);
    }
    // A version-2 reader's view: this build refuses a version it does not know.
    pupembed::write_tensor_archive((dir / "v4.pt").string(), "PUPMODEL", 4, archive.meta, tensors);
    EXPECT_THROW(pupembed::load_model((dir / "v4.pt").string()), pupembed::Error);
}

TEST(EmbeddingPosterior, BadSettingsAreRefusedAndLeaveTheModelAsItWas) {
    Model model = model_with_both_heads();
    EXPECT_ERROR_CONTAINS(pupembed::set_embedding_posterior(model, -0.5, 1), "bad posterior weight");
    EXPECT_ERROR_CONTAINS(pupembed::set_embedding_posterior(model, 0.5, 0), "bad posterior temperature");
    EXPECT_ERROR_CONTAINS(pupembed::set_embedding_posterior(model, NAN, 1), "bad posterior weight");
    EXPECT_ERROR_CONTAINS(pupembed::set_embedding_posterior(model, 0.5, INFINITY), "bad posterior temperature");
    EXPECT_EQ(model.info.posterior_weight, 0);
    EXPECT_EQ(model.network->posterior_weight, 0);
    EXPECT_EQ(model.embedding_size(), 6);

    pupembed::ModelInfo features_only = model.info;
    features_only.classifier.clear();
    features_only.class_ids.clear();
    features_only.class_names.clear();
    Model no_classifier = pupembed::create_model(features_only);
    EXPECT_ERROR_CONTAINS(pupembed::set_embedding_posterior(no_classifier, 0.5, 1), "has no classifier");
    pupembed::ModelInfo no_head_info = model.info;
    no_head_info.embedding.clear();
    Model no_head = pupembed::create_model(no_head_info);
    EXPECT_ERROR_CONTAINS(pupembed::set_embedding_posterior(no_head, 0.5, 1), "has no embedding head");
}

// The real command with the shipped model on real photos: export adds the posterior, info and
// embed show it, and the embedding's parts are the plain model's embedding and its posterior.
TEST(EmbeddingPosteriorCommand, ExportInfoAndEmbedOnRealPhotos) {
    PUPEMBED_REQUIRE_SHARED("data/stanford-dogs-64/val/n02099601-golden_retriever");
    const fs::path breed = pupembed::testing::shared_dir() / "data/stanford-dogs-64/val/n02099601-golden_retriever";
    TempDir dir;
    const std::string shipped = quote(pupembed::testing::default_model_path().string());
    const std::string plain = quote((dir / "plain.pt").string()), posterior = quote((dir / "posterior.pt").string());
    ASSERT_EQ(run_pupembed("export " + shipped + " --posterior-weight 0 -o " + plain).exit_code, 0);
    const auto exported = run_pupembed("export " + shipped + " --posterior-weight 0.6 --posterior-temperature 0.5 -o " + posterior);
    ASSERT_EQ(exported.exit_code, 0) << exported.err;
    EXPECT_NE(exported.out.find("(head and breed posterior)"), std::string::npos) << exported.out;

    const auto info = run_pupembed_json("info " + posterior);
    EXPECT_EQ(info["format_version"], 3);
    EXPECT_EQ(info["embedding_posterior"]["weight"], 0.6);
    EXPECT_EQ(info["embedding_posterior"]["temperature"], 0.5);
    const int64_t classes = info["classes"].get<int64_t>();
    const int64_t head = run_pupembed_json("info " + plain)["embedding_size"].get<int64_t>();
    EXPECT_EQ(info["embedding_size"].get<int64_t>(), head + classes);

    const auto a = run_pupembed("embed -m " + plain + " " + quote(breed.string()) + " -o " + quote((dir / "a.npy").string()));
    ASSERT_EQ(a.exit_code, 0) << a.err;
    const auto b = run_pupembed("embed -m " + posterior + " " + quote(breed.string()) + " -o " + quote((dir / "b.npy").string()));
    ASSERT_EQ(b.exit_code, 0) << b.err;
    const pupembed::NpyArray plain_rows = pupembed::read_npy((dir / "a.npy").string());
    const pupembed::NpyArray rows = pupembed::read_npy((dir / "b.npy").string());
    ASSERT_EQ(rows.shape.at(0), plain_rows.shape.at(0));
    ASSERT_EQ(rows.shape.at(1), head + classes);
    const double norm = std::sqrt(1 + 0.6 * 0.6);
    for (int64_t i = 0; i < rows.shape[0]; ++i) {
        const float* row = rows.data.data() + i * rows.shape[1];
        double head_part = 0, root_part = 0;
        for (int64_t d = 0; d < head; ++d) {
            EXPECT_NEAR(row[d], plain_rows.data[size_t(i * head + d)] / norm, 2e-4);
            head_part += double(row[d]) * row[d];
        }
        for (int64_t k = 0; k < classes; ++k) root_part += double(row[head + k]) * row[head + k];
        EXPECT_NEAR(head_part, 1 / (1 + 0.36), 1e-3);
        EXPECT_NEAR(root_part, 0.36 / (1 + 0.36), 1e-3);  // a distribution's root has norm 1
    }
    // Bad settings are one line of error and leave no file.
    const auto bad = run_pupembed("export " + plain + " --posterior-weight -1 -o " + quote((dir / "bad.pt").string()));
    EXPECT_NE(bad.exit_code, 0);
    EXPECT_FALSE(fs::exists(dir / "bad.pt"));
}

// --tune-posterior on a few real breeds: the temperature it picks has a lower negative
// log-likelihood than its neighbours (computed here from `predict`'s probabilities), each
// weight's Recall@1 and MAP@R are what `eval` measures for a model exported with it, and the
// chosen weight is the best of them.
TEST(EmbeddingPosteriorCommand, TuningCalibratesThenPicksTheBestRecall) {
    // Six terriers the model confuses, so the weights differ (with 12 photos of each).
    const char* breeds[] = {"n02094114-Norfolk_terrier", "n02094258-Norwich_terrier", "n02094433-Yorkshire_terrier",
                            "n02096177-cairn",           "n02096294-Australian_terrier", "n02097658-silky_terrier"};
    const fs::path val = pupembed::testing::shared_dir() / "data/stanford-dogs-64/val";
    for (const char* breed : breeds)
        if (!fs::exists(val / breed)) GTEST_SKIP() << "needs " << val / breed;
    TempDir dir;
    std::string photo_args;
    for (const char* breed : breeds) {
        fs::create_directories(dir / "photos" / breed);
        int copied = 0;
        std::vector<fs::path> files;
        for (const auto& entry : fs::directory_iterator(val / breed)) files.push_back(entry.path());
        std::sort(files.begin(), files.end());
        for (const auto& file : files) {
            if (copied++ == 12) break;
            fs::copy_file(file, dir / "photos" / breed / file.filename());
            photo_args += " " + quote((dir / "photos" / breed / file.filename()).string());
        }
    }
    const std::string shipped = quote(pupembed::testing::default_model_path().string());
    const std::string photos = quote((dir / "photos").string()), tuned = quote((dir / "tuned.pt").string());
    const auto out = run_pupembed_json("export " + shipped + " --tune-posterior " + photos +
                                       " --tune-weights 0,0.5,1,2 -o " + tuned);
    const auto& tuning = out["posterior_tuning"];
    ASSERT_EQ(tuning["tried"].size(), 4u) << out.dump();
    ASSERT_GT(tuning["weight"].get<double>(), 0) << "the posterior helps on these breeds: " << tuning.dump();
    EXPECT_EQ(tuning["images"], 72);
    const double temperature = tuning["temperature"].get<double>();
    EXPECT_EQ(out["embedding_posterior"]["temperature"].get<double>(), temperature);
    EXPECT_EQ(out["embedding_posterior"]["weight"], tuning["weight"]);

    // The negative log-likelihood by hand, from the probabilities at temperature 1.
    const auto predicted = run_pupembed_json("predict -m " + shipped + " -k 1000" + photo_args);
    auto nll = [&](double t) {
        double sum = 0;
        for (const auto& photo : predicted["predictions"]) {
            const std::string folder = fs::path(photo["path"].get<std::string>()).parent_path().filename().string();
            double norm = 0, truth = 0;
            for (const auto& c : photo["top"]) {
                const double scaled = std::pow(std::max(c["probability"].get<double>(), 1e-30), 1 / t);
                norm += scaled;
                if (folder.rfind(c["id"].get<std::string>(), 0) == 0) truth = scaled;
            }
            sum -= std::log(truth / norm);
        }
        return sum / double(predicted["predictions"].size());
    };
    EXPECT_NEAR(tuning["negative_log_likelihood"].get<double>(), nll(temperature), 1e-3);
    EXPECT_NEAR(tuning["negative_log_likelihood_at_1"].get<double>(), nll(1), 1e-3);
    EXPECT_LT(nll(temperature), nll(temperature * 1.1));
    EXPECT_LT(nll(temperature), nll(temperature / 1.1));

    double best = -1;
    for (const auto& row : tuning["tried"]) best = std::max(best, row["recall_at_1"].get<double>());
    bool chose_a_best = false;
    for (const auto& row : tuning["tried"]) {
        const std::string weight = exact(row["weight"].get<double>());
        const std::string model = quote((dir / ("w" + weight + ".pt")).string());
        run_pupembed_json("export " + shipped + " --posterior-weight " + weight + " --posterior-temperature " +
                          exact(temperature) + " -o " + model);
        const auto measured = run_pupembed_json("eval -m " + model + " " + photos)["datasets"][0]["models"][0];
        EXPECT_NEAR(measured["recall_at"]["1"].get<double>(), row["recall_at_1"].get<double>(), 1e-9) << weight;
        EXPECT_NEAR(measured["map_at_r"].get<double>(), row["map_at_r"].get<double>(), 1e-3) << weight;
        if (row["weight"] == tuning["weight"]) chose_a_best = row["recall_at_1"].get<double>() == best;
    }
    EXPECT_TRUE(chose_a_best) << tuning.dump();
}
