// Job folders end to end: `pupembed embed --shard I/N` on real photos (four parts make the whole
// job; a rerun skips finished shards without reading a photo; a bad photo is listed, not fatal;
// more photos grow the job without moving a finished shard; another model is refused; the
// large-input setting is recorded and a gallery of two settings warned of) and
// `pupembed index import`, which gives the gallery `index add` gives.
#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "pupembed/gallery/gallery.hpp"
#include "pupembed/io/file_io.hpp"
#include "pupembed/io/npy.hpp"
#include "test_support.hpp"

namespace fs = std::filesystem;
using nlohmann::json;
using pupembed::testing::quote;
using pupembed::testing::run_pupembed;
using pupembed::testing::run_pupembed_json;
using pupembed::testing::shared_dir;
using pupembed::testing::TempDir;

namespace {

const char kVal[] = "data/stanford-dogs-64/val";
const char kWeights[] = "weights/squeezenet1.1-imagenet";

class EmbeddingJobs : public ::testing::Test {
protected:
    void SetUp() override {
        if (!fs::exists(pupembed::testing::default_model_path()) || !fs::exists(shared_dir() / kVal))
            GTEST_SKIP() << "skipped: needs the default model and " << shared_dir() / kVal;
        // 3 breeds x 7 photos and one file that is no photo: 22 photos, shards of 5.
        for (const char* breed : {"n02085620-Chihuahua", "n02110958-pug", "n02099601-golden_retriever"}) {
            std::vector<fs::path> photos;
            for (const auto& entry : fs::directory_iterator(shared_dir() / kVal / breed)) photos.push_back(entry.path());
            std::sort(photos.begin(), photos.end());
            fs::create_directories(dir_ / "photos" / breed);
            for (size_t i = 0; i < 7; ++i) fs::copy_file(photos[i], dir_ / "photos" / breed / photos[i].filename());
        }
        pupembed::write_file_atomically((dir_ / "photos" / "n02110958-pug" / "zz-not-a-photo.jpg").string(), "not a jpeg");
        photos_ = quote((dir_ / "photos").string());
    }
    std::string job(const std::string& name) const { return quote((dir_ / name).string()); }
    static std::string bytes(const fs::path& path) { return pupembed::read_file(path.string()); }

    TempDir dir_;
    std::string photos_;
};

}  // namespace

TEST_F(EmbeddingJobs, FourPartsMakeTheWholeJobAndARerunReadsNoPhoto) {
    const json whole = run_pupembed_json("embed --shard 0/1 " + photos_ + " -o " + job("whole") + " --shard-size 5 --threads 1");
    EXPECT_EQ(whole.at("shards"), 5);
    EXPECT_EQ(whole.at("photos_embedded"), 21);
    EXPECT_EQ(whole.at("photos_failed"), 1);
    int64_t embedded = 0;
    for (int part = 0; part < 4; ++part)
        embedded += run_pupembed_json("embed --shard " + std::to_string(part) + "/4 " + photos_ + " -o " + job("parts") +
                                      " --shard-size 5 --threads 1")
                        .at("photos_embedded")
                        .get<int64_t>();
    EXPECT_EQ(embedded, 21);
    const json manifest = json::parse(bytes(dir_ / "whole" / "manifest.json"));
    EXPECT_EQ(manifest.at("format"), "pupembed-embedding-job");
    EXPECT_EQ(manifest.at("photos"), 22);
    EXPECT_EQ(manifest.at("shard_count"), 5);
    EXPECT_EQ(manifest, [&] {
        json parts = json::parse(bytes(dir_ / "parts" / "manifest.json"));
        parts["created"] = manifest.at("created");
        return parts;
    }());
    for (int shard = 0; shard < 5; ++shard) {
        const std::string name = "shard-0000" + std::to_string(shard);
        for (const char* suffix : {".tsv", ".failed.tsv"})
            EXPECT_EQ(bytes(dir_ / "whole" / (name + suffix)), bytes(dir_ / "parts" / (name + suffix))) << name << suffix;
        const auto a = pupembed::read_npy((dir_ / "whole" / (name + ".npy")).string());
        const auto b = pupembed::read_npy((dir_ / "parts" / (name + ".npy")).string());
        ASSERT_EQ(a.shape, b.shape) << name;
        for (size_t i = 0; i < a.data.size(); ++i) ASSERT_NEAR(a.data[i], b.data[i], 1e-6) << name;
    }
    // The bad photo is listed with its reason in its shard's failures, and the job went on.
    const std::string failed = bytes(dir_ / "whole" / "shard-00004.failed.tsv");
    EXPECT_NE(failed.find("zz-not-a-photo.jpg\tnot a JPEG"), std::string::npos) << failed;
    // A rerun skips every finished shard without reading a photo: they are gone now.
    fs::remove_all(dir_ / "photos");
    const json rerun = run_pupembed_json("embed --shard 0/1 -o " + job("whole"));
    EXPECT_EQ(rerun.at("skipped_shards"), 5);
    EXPECT_EQ(rerun.at("photos_embedded"), 0);
    for (const auto& entry : fs::directory_iterator(dir_ / "whole"))
        EXPECT_EQ(entry.path().filename().string().find(".tmp."), std::string::npos) << entry.path();
}

TEST_F(EmbeddingJobs, AKilledShardIsRedoneAndAnotherModelIsRefused) {
    ASSERT_EQ(run_pupembed("embed --shard 0/1 " + photos_ + " -o " + job("j") + " --shard-size 5 --threads 1").exit_code, 0);
    // What a run killed while writing shard 2 leaves: its temporary file, no .npy.
    fs::remove(dir_ / "j" / "shard-00002.npy");
    pupembed::write_file_atomically((dir_ / "j" / "shard-00002.npy.tmp.99999").string(), "half a shard");
    const json redo = run_pupembed_json("embed --shard 0/1 " + photos_ + " -o " + job("j"));
    EXPECT_EQ(redo.at("embedded_shards"), 1);
    EXPECT_EQ(redo.at("photos_embedded"), 5);
    EXPECT_FALSE(fs::exists(dir_ / "j" / "shard-00002.npy.tmp.99999"));
    EXPECT_TRUE(fs::exists(dir_ / "j" / "shard-00002.npy"));

    // Another shard size or large-input setting: refused, saying what differs.
    auto refused = run_pupembed("embed --shard 0/1 " + photos_ + " -o " + job("j") + " --shard-size 6");
    EXPECT_NE(refused.err.find("shards of 5 photos"), std::string::npos) << refused.err;
    refused = run_pupembed("embed --shard 0/1 " + photos_ + " -o " + job("j") + " --shard-size 5 --large-input off");
    EXPECT_NE(refused.err.find("large input"), std::string::npos) << refused.err;
    refused = run_pupembed("embed --shard 4/4 " + photos_ + " -o " + job("j"));
    EXPECT_EQ(refused.exit_code, 1);
    EXPECT_NE(refused.err.find("0 <= I < N"), std::string::npos) << refused.err;
    fs::create_directories(dir_ / "notajob");
    pupembed::write_file_atomically((dir_ / "notajob" / "x").string(), "x");
    refused = run_pupembed("embed --shard 0/1 " + photos_ + " -o " + job("notajob"));
    EXPECT_NE(refused.err.find("not a job folder"), std::string::npos) << refused.err;

    if (!fs::exists(shared_dir() / kWeights)) GTEST_SKIP() << "the rest needs " << shared_dir() / kWeights;
    const std::string other = (dir_ / "other.pt").string();
    ASSERT_EQ(run_pupembed("import-imagenet " + quote((shared_dir() / kWeights).string()) + " -o " + quote(other)).exit_code, 0);
    refused = run_pupembed("embed --shard 0/1 " + photos_ + " -o " + job("j") + " -m " + quote(other));
    EXPECT_EQ(refused.exit_code, 1);
    EXPECT_NE(refused.err.find("another model file"), std::string::npos) << refused.err;
    // A gallery of another model does not take the job's vectors.
    const std::string db = quote((dir_ / "other.db").string());
    ASSERT_EQ(run_pupembed("index add " + photos_ + " -m " + quote(other) + " --db " + db + " --threads 1").exit_code, 0);
    refused = run_pupembed("index import " + job("j") + " --db " + db);
    EXPECT_EQ(refused.exit_code, 1);
    EXPECT_NE(refused.err.find("another model"), std::string::npos) << refused.err;
}

TEST_F(EmbeddingJobs, ImportGivesTheGalleryIndexAddGives) {
    ASSERT_EQ(run_pupembed("embed --shard 1/2 " + photos_ + " -o " + job("j") + " --shard-size 5 --threads 1").exit_code, 0);
    // Half the shards done: the import takes those and says the others are missing.
    const std::string imported_db = (dir_ / "imported.db").string();
    json half = run_pupembed_json("index import " + job("j") + " --db " + quote(imported_db));
    EXPECT_EQ(half.at("shards"), 2);
    EXPECT_EQ(half.at("missing_shards"), 3);
    ASSERT_EQ(run_pupembed("embed --shard 0/2 " + photos_ + " -o " + job("j") + " --threads 1").exit_code, 0);
    const json all = run_pupembed_json("index import " + job("j") + " --db " + quote(imported_db));
    EXPECT_EQ(all.at("rows"), 21);
    EXPECT_EQ(all.at("unchanged"), half.at("rows"));
    EXPECT_EQ(all.at("size"), 21);

    const std::string added_db = (dir_ / "added.db").string();
    ASSERT_EQ(run_pupembed("index add " + photos_ + " --db " + quote(added_db) + " --threads 1").exit_code, 0);
    pupembed::Gallery imported = pupembed::Gallery::open(imported_db, false);
    pupembed::Gallery added = pupembed::Gallery::open(added_db, false);
    EXPECT_EQ(imported.model().id, added.model().id);
    EXPECT_EQ(imported.model().appearance_dimension, added.model().appearance_dimension);
    // The same photos, each with its row and its vector (ids differ: the import went shard 1 first).
    const auto a = imported.images(), b = added.images();
    ASSERT_EQ(a.size(), b.size());
    for (const auto& image : b) {
        const auto same = imported.find_path(image.path);
        ASSERT_TRUE(same) << image.path;
        EXPECT_EQ(same->content_hash, image.content_hash);
        EXPECT_EQ(same->file_size, image.file_size);
        EXPECT_EQ(same->width, image.width);
        EXPECT_EQ(same->height, image.height);
        EXPECT_EQ(same->breed, image.breed);
        EXPECT_NEAR(same->breed_probability, image.breed_probability, 1e-5);  // batches of other sizes
        const auto u = imported.vector(same->id), v = added.vector(image.id);
        ASSERT_EQ(u.size(), v.size());
        for (size_t i = 0; i < u.size(); ++i) ASSERT_NEAR(u[i], v[i], 1e-6) << image.path;
    }
    // And it answers as the other does.
    const json by_import = run_pupembed_json("search " + quote(b[3].path) + " -k 5 --db " + quote(imported_db));
    const json by_add = run_pupembed_json("search " + quote(b[3].path) + " -k 5 --db " + quote(added_db));
    ASSERT_EQ(by_import.at("results").size(), 5u);
    for (size_t r = 0; r < 5; ++r) EXPECT_EQ(by_import["results"][r]["path"], by_add["results"][r]["path"]);
}

TEST_F(EmbeddingJobs, MorePhotosGrowTheJobWithoutMovingAFinishedShard) {
    ASSERT_EQ(run_pupembed("embed --shard 0/1 " + photos_ + " -o " + job("j") + " --shard-size 5 --threads 1").exit_code, 0);
    std::vector<std::string> before;
    std::vector<fs::file_time_type> written;
    for (int shard = 0; shard < 5; ++shard) {
        const fs::path name = dir_ / "j" / ("shard-0000" + std::to_string(shard));
        before.push_back(bytes(name.string() + ".tsv") + bytes(name.string() + ".npy"));
        written.push_back(fs::last_write_time(name.string() + ".npy"));
    }
    // Two new photos that sort into the middle of the listing (a folder's listing is sorted).
    const fs::path pug = dir_ / "photos" / "n02110958-pug";
    const fs::path chihuahua = dir_ / "photos" / "n02085620-Chihuahua";
    for (const fs::path& folder : {pug, chihuahua}) {  // each breed's 8th photo (the job has its first 7)
        std::vector<fs::path> photos;
        for (const auto& entry : fs::directory_iterator(shared_dir() / kVal / folder.filename())) photos.push_back(entry.path());
        std::sort(photos.begin(), photos.end());
        fs::copy_file(photos.at(7), folder / "0-new.jpg");
    }

    // Part 0 of 2 grows the job by one shard (shard 5, part 1's) and finds its own shards done.
    json grown = run_pupembed_json("embed --shard 0/2 " + photos_ + " -o " + job("j") + " --threads 1");
    EXPECT_EQ(grown.at("photos_added_to_job"), 2);
    EXPECT_EQ(grown.at("embedded_shards"), 0);
    grown = run_pupembed_json("embed --shard 1/2 " + photos_ + " -o " + job("j") + " --threads 1");
    EXPECT_EQ(grown.at("photos_added_to_job"), 0);
    EXPECT_EQ(grown.at("embedded_shards"), 1);
    EXPECT_EQ(grown.at("photos_embedded"), 2);
    for (int shard = 0; shard < 5; ++shard) {
        const fs::path name = dir_ / "j" / ("shard-0000" + std::to_string(shard));
        EXPECT_EQ(bytes(name.string() + ".tsv") + bytes(name.string() + ".npy"), before[size_t(shard)]) << name;
        EXPECT_EQ(fs::last_write_time(name.string() + ".npy"), written[size_t(shard)]) << name;
    }
    const std::string added = bytes(dir_ / "j" / "inputs" / "shard-00005.txt");
    EXPECT_EQ(added, (chihuahua / "0-new.jpg").string() + "\n" + (pug / "0-new.jpg").string() + "\n");
    const json manifest = json::parse(bytes(dir_ / "j" / "manifest.json"));
    EXPECT_EQ(manifest.at("version"), 2);
    EXPECT_EQ(manifest.at("photos"), 24);
    EXPECT_EQ(manifest.at("shard_count"), 6);
    EXPECT_EQ(manifest.at("segments"), json::array({22, 2}));

    // The same list again, or a part of it: nothing added, nothing embedded.
    json again = run_pupembed_json("embed --shard 0/1 " + photos_ + " -o " + job("j"));
    EXPECT_EQ(again.at("photos_added_to_job"), 0);
    EXPECT_EQ(again.at("skipped_shards"), 6);
    again = run_pupembed_json("embed --shard 0/1 " + quote(pug.string()) + " -o " + job("j"));
    EXPECT_EQ(again.at("photos_added_to_job"), 0);
    EXPECT_EQ(again.at("skipped_shards"), 6);
    // Every photo once in the gallery.
    const json imported = run_pupembed_json("index import " + job("j") + " --db " + quote((dir_ / "g.db").string()));
    EXPECT_EQ(imported.at("rows"), 23);
    EXPECT_EQ(imported.at("size"), 23);
}

TEST_F(EmbeddingJobs, TwoInputSettingsInOneGalleryAreRecordedAndWarnedOf) {
    const std::string db = quote((dir_ / "g.db").string());
    const std::string pug = quote((dir_ / "photos" / "n02110958-pug").string());
    ASSERT_EQ(run_pupembed("index add " + pug + " --db " + db + " --threads 1").exit_code, 0);
    EXPECT_EQ(run_pupembed_json("index stats --db " + db).at("large_input"), 224);
    // A job of all three breeds at the base input (its pugs are in the gallery already, unchanged).
    ASSERT_EQ(run_pupembed("embed --shard 0/1 " + photos_ + " -o " + job("base") + " --large-input off --threads 1").exit_code, 0);
    const json manifest = json::parse(bytes(dir_ / "base" / "manifest.json"));
    EXPECT_EQ(manifest.at("large_input"), false);
    EXPECT_EQ(manifest.at("model").at("large_input_size"), 0);
    // Its other photos join the gallery: warned of, on stderr and in the JSON, and recorded.
    const auto mixed = run_pupembed("index import " + job("base") + " --db " + db + " --json");
    ASSERT_EQ(mixed.exit_code, 0) << mixed.err;
    EXPECT_NE(mixed.err.find("warning: the gallery's photos ran at the large input (224 px) and these at the base input"),
              std::string::npos)
        << mixed.err;
    EXPECT_EQ(json::parse(mixed.out).at("warnings").size(), 1u);
    EXPECT_EQ(run_pupembed_json("index stats --db " + db).at("large_input"), "mixed");
    EXPECT_NE(run_pupembed("index stats --db " + db).out.find("MIXED"), std::string::npos);
    // A gallery of that job alone is of one setting.
    const std::string base_db = quote((dir_ / "base.db").string());
    const auto alone = run_pupembed("index import " + job("base") + " --db " + base_db);
    EXPECT_EQ(alone.err.find("warning"), std::string::npos) << alone.err;
    EXPECT_EQ(run_pupembed_json("index stats --db " + base_db).at("large_input"), 0);
}
