// The server's gallery service without HTTP: each question it answers, checked against the
// library's own answers (brute-force similarity over the stored vectors, the command's embedder),
// the kinds of its errors (which the routes turn into statuses), and that every forward pass it
// makes goes through its inference queue.
#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <cmath>
#include <filesystem>
#include <map>
#include <optional>
#include <thread>
#include <nlohmann/json.hpp>

#include "pupembed/core/error.hpp"
#include "pupembed/gallery/gallery.hpp"
#include "pupembed/gallery/ingest.hpp"
#include "pupembed/inference/embedder.hpp"
#include "pupembed/io/file_io.hpp"
#include "pupembed/model/model.hpp"
#include "serve/gallery_service.hpp"
#include "test_support.hpp"

namespace fs = std::filesystem;
using nlohmann::json;
using namespace pupembed;
using pupembed::testing::have_shared;
using pupembed::testing::shared_dir;
using pupembed::testing::TempDir;

namespace {

const char kVal[] = "data/stanford-dogs-64/val";
const std::vector<std::string> kBreeds = {"n02085620-Chihuahua", "n02110958-pug", "n02099601-golden_retriever"};

std::string default_model() { return pupembed::testing::default_model_path().string(); }

/// The kind of the Error `action` throws (a test failure when it throws none).
ErrorKind error_kind_of(const std::function<void()>& action) {
    try {
        action();
    } catch (const Error& e) {
        return e.kind();
    }
    ADD_FAILURE() << "no error";
    return ErrorKind::Failure;
}

class GalleryServiceTest : public ::testing::Test {
protected:
    void SetUp() override {
        std::string why;
        if (!have_shared(kVal, why)) GTEST_SKIP() << why;
        for (const auto& breed : kBreeds) {
            std::vector<std::string> files;
            for (const auto& entry : fs::directory_iterator(shared_dir() / kVal / breed)) files.push_back(entry.path().string());
            std::sort(files.begin(), files.end());
            photos_.insert(photos_.end(), files.begin(), files.begin() + 4);
        }
        options_.gallery = (dir_ / "g.db").string();
        options_.model = default_model();
        options_.upload_folder = (dir_ / "uploads").string();
        Gallery gallery = Gallery::open(options_.gallery, true);
        Model model = load_query_model(options_.model, &gallery);
        BatchEmbedder embedder(model, InferenceOptions{});
        add_to_gallery(gallery, embedder, gallery_model_of(options_.model, model), photos_, {});
        for (const auto& image : gallery.images()) vectors_[image.id] = gallery.vector(image.id);
        for (const auto& photo : photos_) ids_.push_back(gallery.find_path(photo).value().id);
    }

    /// Gallery ids by similarity to `query`, most similar first (brute force), leaving out `exclude`.
    std::vector<int64_t> brute_force(const std::vector<float>& query, const std::vector<int64_t>& exclude) {
        std::vector<std::pair<double, int64_t>> scored;
        for (const auto& [id, vector] : vectors_) {
            if (std::find(exclude.begin(), exclude.end(), id) != exclude.end()) continue;
            double dot = 0;
            for (size_t i = 0; i < vector.size(); ++i) dot += double(vector[i]) * query[i];
            scored.push_back({-dot, id});
        }
        std::sort(scored.begin(), scored.end());
        std::vector<int64_t> ids;
        for (const auto& [score, id] : scored) ids.push_back(id);
        return ids;
    }

    static std::vector<int64_t> ids_of(const json& results) {
        std::vector<int64_t> ids;
        for (const auto& item : results) ids.push_back(item["id"].get<int64_t>());
        return ids;
    }

    TempDir dir_;
    std::vector<std::string> photos_;
    std::map<int64_t, std::vector<float>> vectors_;
    std::vector<int64_t> ids_;  ///< the gallery id of each of photos_
    ServerOptions options_;
};

TEST_F(GalleryServiceTest, SearchesByIdAndByUploadAsBruteForceDoes) {
    GalleryService service(options_);
    const int64_t id = ids_[2];
    const json by_id = service.search({std::nullopt, id, "#" + std::to_string(id)}, 5);
    EXPECT_EQ(by_id["query"]["gallery_id"], id);
    const auto expected = brute_force(vectors_[id], {id});
    EXPECT_EQ(ids_of(by_id["results"]), std::vector<int64_t>(expected.begin(), expected.begin() + 5));

    // An upload of the same photo embeds as the command does, and is not known as a gallery image.
    const std::string bytes = read_file(photos_[2]);
    const json by_upload = service.search({Upload{&bytes, "photo.jpg"}, -1, ""}, 12);
    EXPECT_EQ(by_upload["query"]["query"], "photo.jpg");
    EXPECT_TRUE(by_upload["query"]["gallery_id"].is_null());
    const auto results = by_upload["results"];
    ASSERT_EQ(results.size(), 12u);
    EXPECT_EQ(results[0]["id"], id);  // itself, stored
    EXPECT_NEAR(results[0]["similarity"].get<double>(), 1.0, 1e-5);
    for (size_t i = 1; i < results.size(); ++i)
        EXPECT_GE(results[i - 1]["similarity"].get<double>(), results[i]["similarity"].get<double>());
}

TEST_F(GalleryServiceTest, EmbedGivesTheCommandsVectorAndTopBreeds) {
    GalleryService service(options_);
    const std::string bytes = read_file(photos_[0]);
    const json out = service.embed({&bytes, "a.jpg"});
    const auto vector = out["vector"].get<std::vector<float>>();
    const std::vector<float>& stored = vectors_[ids_[0]];
    ASSERT_EQ(vector.size(), stored.size());
    for (size_t i = 0; i < vector.size(); ++i) EXPECT_NEAR(vector[i], stored[i], 1e-5) << i;
    ASSERT_EQ(out["top"].size(), 5u);
    EXPECT_EQ(out["top"][0]["breed"], out["breed"]);
    for (size_t i = 1; i < 5; ++i) EXPECT_GE(out["top"][i - 1]["probability"].get<double>(), out["top"][i]["probability"].get<double>());
}

TEST_F(GalleryServiceTest, SimilarAndAlgebra) {
    GalleryService service(options_);
    const json same = service.similar({std::nullopt, 2, "#2"}, {std::nullopt, 2, "2"});
    EXPECT_NEAR(same["similarity"].get<double>(), 1.0, 1e-6);
    EXPECT_NEAR(same["distance"].get<double>(), 0.0, 1e-6);

    const std::string bytes = read_file(photos_[5]);
    auto uploads = [&bytes](const std::string& name) -> std::optional<Upload> {
        if (name == "mine") return Upload{&bytes, name};
        return std::nullopt;
    };
    const json out = service.algebra("#1 + #5 - #9", uploads, 4);
    std::vector<float> sum(vectors_[1].size());
    for (size_t i = 0; i < sum.size(); ++i) sum[i] = vectors_[1][i] + vectors_[5][i] - vectors_[9][i];
    const auto expected = brute_force(sum, {1, 5, 9});
    EXPECT_EQ(ids_of(out["results"]), std::vector<int64_t>(expected.begin(), expected.begin() + 4));
    EXPECT_EQ(out["inputs"].size(), 3u);
    EXPECT_EQ(service.algebra("mine - #" + std::to_string(ids_[0]), uploads, 3)["results"].size(), 3u);

    EXPECT_EQ(error_kind_of([&] { service.algebra("#1 +", uploads, 3); }), ErrorKind::BadInput);
    EXPECT_EQ(error_kind_of([&] { service.algebra("#1 + other", uploads, 3); }), ErrorKind::BadInput);
    EXPECT_EQ(error_kind_of([&] { service.algebra("#1 - #1", uploads, 3); }), ErrorKind::BadInput);
}

TEST_F(GalleryServiceTest, ErrorsHaveKinds) {
    GalleryService service(options_);
    const std::string damaged = read_file(photos_[0]).substr(0, 600);
    const std::string empty;
    EXPECT_EQ(error_kind_of([&] { service.search({std::nullopt, 999, "#999"}, 3); }), ErrorKind::NotFound);
    EXPECT_EQ(error_kind_of([&] { service.image(999); }), ErrorKind::NotFound);
    EXPECT_EQ(error_kind_of([&] { service.thumbnail(999); }), ErrorKind::NotFound);
    EXPECT_EQ(error_kind_of([&] { service.embed({&damaged, "bad.jpg"}); }), ErrorKind::BadInput);
    EXPECT_EQ(error_kind_of([&] { service.embed({&empty, "empty.jpg"}); }), ErrorKind::BadInput);
    bool created = false;
    const std::string bytes = read_file(photos_[0]);
    EXPECT_EQ(error_kind_of([&] { service.add_image({&bytes, "a.jpg"}, created); }), ErrorKind::Forbidden);
    EXPECT_NE(pupembed::testing::error_message_of([&] { service.embed({&damaged, "bad.jpg"}); }).find("bad.jpg"),
              std::string::npos);
}

TEST_F(GalleryServiceTest, ImagesThumbnailsAndStats) {
    GalleryService service(options_);
    const json image = service.image(4);
    EXPECT_EQ(image["id"], 4);
    EXPECT_EQ(image["thumb"], "/api/images/4/thumb");
    const auto thumb = service.thumbnail(4);
    ASSERT_GE(thumb->size(), 2u);
    EXPECT_EQ(uint8_t((*thumb)[0]), 0xFF);
    EXPECT_EQ(uint8_t((*thumb)[1]), 0xD8);
    EXPECT_EQ(service.thumbnail(4), thumb);  // cached
    const auto [bytes, type] = service.file(4);
    EXPECT_EQ(bytes, read_file(photos_[3]));
    EXPECT_EQ(type, "image/jpeg");
    const json stats = service.stats();
    EXPECT_EQ(stats["images"], int64_t(photos_.size()));
    EXPECT_EQ(stats["breeds"].get<int64_t>() >= 1, true);
    EXPECT_EQ(service.health()["images"], int64_t(photos_.size()));
    const json map = json::parse(service.map(false).get());
    EXPECT_EQ(map["points"].size(), photos_.size());
}

TEST_F(GalleryServiceTest, AddingAnUploadGoesThroughTheInferenceQueue) {
    options_.allow_upload_to_gallery = true;
    GalleryService service(options_);
    const std::string bytes = read_file((shared_dir() / kVal / "n02085936-Maltese_dog").string() + "/" +
                                        fs::directory_iterator(shared_dir() / kVal / "n02085936-Maltese_dog")->path().filename().string());
    const int64_t before = service.stats()["server"]["inference_images"];
    bool created = false;
    const json added = service.add_image({&bytes, "new.jpg"}, created);
    EXPECT_TRUE(created);
    EXPECT_EQ(service.stats()["images"], int64_t(photos_.size()) + 1);
    // Validating the upload decodes it; the forward pass is the queue's.
    EXPECT_EQ(service.stats()["server"]["inference_images"].get<int64_t>(), before + 1);
    EXPECT_EQ(fs::path(added["path"].get<std::string>()).parent_path(), fs::path(options_.upload_folder));
    service.add_image({&bytes, "again.jpg"}, created);
    EXPECT_FALSE(created);
    EXPECT_EQ(service.stats()["images"], int64_t(photos_.size()) + 1);
    const std::string damaged = bytes.substr(0, 500);
    EXPECT_EQ(error_kind_of([&] { service.add_image({&damaged, "bad.jpg"}, created); }), ErrorKind::BadInput);
}

TEST_F(GalleryServiceTest, SearchesFromManyThreadsAnswerAsOneDoes) {
    GalleryService service(options_);
    std::map<int64_t, json> expected;
    for (const int64_t id : ids_) expected[id] = service.search({std::nullopt, id, "#" + std::to_string(id)}, 6)["results"];
    std::atomic<int> mismatches{0};
    std::vector<std::thread> threads;
    for (int t = 0; t < 8; ++t)
        threads.emplace_back([&, t] {
            for (int round = 0; round < 25; ++round) {
                const int64_t id = ids_[size_t(t + round) % ids_.size()];
                if (service.search({std::nullopt, id, "#" + std::to_string(id)}, 6)["results"] != expected[id]) ++mismatches;
            }
        });
    for (auto& thread : threads) thread.join();
    EXPECT_EQ(mismatches.load(), 0);
}

}  // namespace
