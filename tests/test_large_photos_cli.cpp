// The real command on photos of a phone's size (4032 x 3024 JPEGs, one of them stored sideways
// with an EXIF orientation): decoded at the network's scale, they embed as when decoded in full,
// the gallery keeps their real size, and a damaged one is one line of error.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <fstream>
#include <iterator>
#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>

#include "photo_fixtures.hpp"
#include "pupembed/io/npy.hpp"
#include "test_support.hpp"

namespace fs = std::filesystem;
using pupembed::testing::quote;
using pupembed::testing::run_pupembed;
using pupembed::testing::run_pupembed_json;
using pupembed::testing::shared_dir;

namespace {

const char kVal[] = "data/stanford-dogs-64/val";
const char kBreed[] = "n02099601-golden_retriever";

class LargePhotos : public ::testing::Test {
protected:
    void SetUp() override {
        if (!fs::exists(shared_dir() / kVal / kBreed)) GTEST_SKIP() << "needs " << shared_dir() / kVal / kBreed;
        std::vector<fs::path> sources;
        for (const auto& entry : fs::directory_iterator(shared_dir() / kVal / kBreed)) sources.push_back(entry.path());
        std::sort(sources.begin(), sources.end());
        fs::create_directories(dir_ / "photos");
        for (size_t i = 0; i < 4; ++i) {
            const cv::Mat photo = cv::imread(sources.at(i).string(), cv::IMREAD_COLOR);
            ASSERT_FALSE(photo.empty()) << sources[i];
            const bool portrait = i == 3;
            cv::Mat large;
            cv::resize(photo, large, portrait ? cv::Size(3024, 4032) : cv::Size(4032, 3024), 0, 0, cv::INTER_CUBIC);
            const std::string bytes =
                portrait ? pupembed::testing::sideways_jpeg(large, 90) : pupembed::testing::jpeg_bytes(large, 90);
            pupembed::testing::write_bytes(dir_ / "photos" / ("dog" + std::to_string(i) + ".jpg"), bytes);
        }
    }
    pupembed::testing::TempDir dir_;
};

}  // namespace

TEST_F(LargePhotos, EmbedAsWhenDecodedInFull) {
    const std::string photos = quote((dir_ / "photos").string());
    const auto reduced = run_pupembed("embed " + photos + " -o " + quote((dir_ / "reduced.npy").string()));
    ASSERT_EQ(reduced.exit_code, 0) << reduced.err;
    const auto full = run_pupembed("embed " + photos + " --full-decode -o " + quote((dir_ / "full.npy").string()));
    ASSERT_EQ(full.exit_code, 0) << full.err;
    const pupembed::NpyArray a = pupembed::read_npy((dir_ / "reduced.npy").string());
    const pupembed::NpyArray b = pupembed::read_npy((dir_ / "full.npy").string());
    const int64_t size = 248;  // the shipped model's: a 128-d head and its 120 breeds' posterior
    ASSERT_EQ(a.shape, (std::vector<int64_t>{4, size}));
    ASSERT_EQ(b.shape, a.shape);
    for (int64_t row = 0; row < 4; ++row) {
        double cosine = 0;
        for (int64_t c = 0; c < size; ++c) cosine += double(a.data[size_t(row * size + c)]) * b.data[size_t(row * size + c)];
        EXPECT_GT(cosine, 0.98) << "photo " << row;
        EXPECT_LT(cosine, 1.0 + 1e-5) << "photo " << row;
    }
}

TEST_F(LargePhotos, TheGalleryKeepsTheirRealUprightSize) {
    const std::string db = quote((dir_ / "g.db").string());
    ASSERT_EQ(run_pupembed("index add " + quote((dir_ / "photos").string()) + " --db " + db).exit_code, 0);
    const auto found = run_pupembed_json("search " + quote((dir_ / "photos" / "dog0.jpg").string()) + " -k 4 --db " + db);
    ASSERT_EQ(found.at("results").size(), 3u) << "the three others (a query is not its own result)\n" << found.dump();
    for (const auto& result : found.at("results")) {
        const bool portrait = result.at("path").get<std::string>().find("dog3.jpg") != std::string::npos;
        EXPECT_EQ(result.at("width"), portrait ? 3024 : 4032) << result.dump();
        EXPECT_EQ(result.at("height"), portrait ? 4032 : 3024) << result.dump();
    }
}

TEST_F(LargePhotos, ADamagedOneIsOneLineOfError) {
    std::string bytes;
    {
        std::ifstream in(dir_ / "photos" / "dog0.jpg", std::ios::binary);
        bytes.assign(std::istreambuf_iterator<char>(in), {});
    }
    pupembed::testing::write_bytes(dir_ / "cut.jpg", bytes.substr(0, bytes.size() / 2) + "\xFF\xD9");
    const auto result = run_pupembed("breed " + quote((dir_ / "cut.jpg").string()));
    EXPECT_EQ(result.exit_code, 1);
    EXPECT_EQ(std::count(result.err.begin(), result.err.end(), '\n'), 1) << result.err;
    EXPECT_NE(result.err.find("cut.jpg: damaged JPEG"), std::string::npos) << result.err;
}
