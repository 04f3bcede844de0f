// End-to-end runs of the gallery commands on real photos: index add / prune / rm / stats, search,
// similar, algebra, breed, dedup, and a SIGKILL in the middle of `index add`.
#include <gtest/gtest.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/file.h>
#include <sqlite3.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <random>
#include <nlohmann/json.hpp>
#include <thread>

#include "pupembed/gallery/gallery.hpp"
#include "pupembed/gallery/queries.hpp"
#include "pupembed/gallery/search.hpp"
#include "pupembed/io/sha256.hpp"
#include "pupembed/io/file_io.hpp"
#include "test_support.hpp"

namespace fs = std::filesystem;
using nlohmann::json;
using pupembed::testing::quote;
using pupembed::testing::run_pupembed;
using pupembed::testing::run_pupembed_json;
using pupembed::testing::shared_dir;
using pupembed::testing::TempDir;

namespace {

const char kWeights[] = "weights/squeezenet1.1-imagenet";
const char kVal[] = "data/stanford-dogs-64/val";

/// Copies the first `count` photos of each of `breeds` (of val) into `to`/<breed>/.
std::vector<fs::path> copy_photos(const fs::path& to, const std::vector<std::string>& breeds, size_t count) {
    std::vector<fs::path> copied;
    for (const auto& breed : breeds) {
        std::vector<fs::path> photos;
        for (const auto& entry : fs::directory_iterator(shared_dir() / kVal / breed)) photos.push_back(entry.path());
        std::sort(photos.begin(), photos.end());
        fs::create_directories(to / breed);
        for (size_t i = 0; i < count && i < photos.size(); ++i) {
            copied.push_back(to / breed / photos[i].filename());
            fs::copy_file(photos[i], copied.back());
        }
    }
    return copied;
}

class GalleryCommands : public ::testing::Test {
protected:
    void SetUp() override {
        if (!fs::exists(shared_dir() / kWeights) || !fs::exists(shared_dir() / kVal))
            GTEST_SKIP() << "skipped: needs " << shared_dir() / kWeights << " and " << shared_dir() / kVal;
        model_ = (dir_ / "m.pt").string();
        const auto imported = run_pupembed("import-imagenet " + quote((shared_dir() / kWeights).string()) + " -o " + quote(model_));
        ASSERT_EQ(imported.exit_code, 0) << imported.err;
        db_ = (dir_ / "g.db").string();
    }
    std::string common() const { return " --db " + quote(db_) + " --threads 1"; }
    TempDir dir_;
    std::string model_, db_;
};

}  // namespace

TEST_F(GalleryCommands, AddIsIncrementalAndPruneAndRmRemove) {
    const auto photos = copy_photos(dir_ / "photos", {"n02085620-Chihuahua", "n02110958-pug"}, 3);
    const std::string add = "index add " + quote((dir_ / "photos").string()) + " -m " + quote(model_) + common();
    json out = run_pupembed_json(add);
    EXPECT_EQ(out.at("added"), 6);
    EXPECT_EQ(out.at("embedded"), 6);
    EXPECT_EQ(out.at("size"), 6);

    out = run_pupembed_json(add);
    EXPECT_EQ(out.at("unchanged"), 6) << "unchanged photos are not embedded again";
    EXPECT_EQ(out.at("embedded"), 0);

    // A changed photo (another photo's bytes) is re-embedded under the same id.
    const auto before = pupembed::Gallery::open(db_, false).find_path(photos[0].string());
    ASSERT_TRUE(before);
    fs::copy_file(photos[4], photos[0], fs::copy_options::overwrite_existing);
    out = run_pupembed_json(add);
    EXPECT_EQ(out.at("updated"), 1);
    EXPECT_EQ(out.at("unchanged"), 5);
    {
        pupembed::Gallery gallery = pupembed::Gallery::open(db_, false);
        const auto after = gallery.find_path(photos[0].string());
        ASSERT_TRUE(after);
        EXPECT_EQ(after->id, before->id);
        EXPECT_NE(after->content_hash, before->content_hash);
        EXPECT_EQ(after->content_hash, pupembed::sha256_hex(pupembed::read_file(photos[4].string())));
        EXPECT_NEAR(pupembed::cosine_similarity(gallery.vector(after->id),
                                                gallery.vector(gallery.find_path(photos[4].string())->id)),
                    1.0, 1e-5);
    }

    // A photo whose file is gone is pruned; rm takes ids and paths.
    fs::remove(photos[1]);
    out = run_pupembed_json("index prune --db " + quote(db_));
    ASSERT_EQ(out.at("removed").size(), 1u);
    EXPECT_EQ(out.at("removed")[0].at("path"), photos[1].string());
    out = run_pupembed_json("index rm " + quote("#" + std::to_string(before->id)) + " " + quote(photos[2].string()) + " --db " + quote(db_));
    EXPECT_EQ(out.at("size"), 3);
    const auto missing = run_pupembed("index rm 999 --db " + quote(db_));
    EXPECT_EQ(missing.exit_code, 1);
    out = run_pupembed_json("index stats --db " + quote(db_));
    EXPECT_EQ(out.at("photos"), 3);
    EXPECT_EQ(out.at("dimension"), 512);
    EXPECT_EQ(out.at("model"), fs::absolute(model_).lexically_normal().string());
}

TEST_F(GalleryCommands, QueriesAnswerFromTheGallery) {
    const auto photos = copy_photos(dir_ / "photos", {"n02085620-Chihuahua", "n02110958-pug", "n02099601-golden_retriever"}, 4);
    run_pupembed_json("index add " + quote((dir_ / "photos").string()) + " -m " + quote(model_) + common());

    // search: a gallery photo is left out of its own results; distances ascend; brute force agrees.
    json out = run_pupembed_json("search " + quote(photos[5].string()) + " -k 4" + common());
    ASSERT_EQ(out.at("results").size(), 4u);
    const int64_t self = out.at("query").at("gallery_id");
    pupembed::Gallery gallery = pupembed::Gallery::open(db_, false);
    const auto query = gallery.vector(self);
    std::vector<std::pair<float, int64_t>> truth;
    for (const auto& image : gallery.images())
        if (image.id != self) truth.push_back({1 - pupembed::cosine_similarity(query, gallery.vector(image.id)), image.id});
    std::sort(truth.begin(), truth.end());
    for (size_t i = 0; i < 4; ++i) {
        EXPECT_EQ(out.at("results")[i].at("id"), truth[i].second) << "rank " << i + 1;
        EXPECT_NEAR(out.at("results")[i].at("distance").get<double>(), truth[i].first, 1e-4);
    }
    const json by_id = run_pupembed_json("search " + quote("#" + std::to_string(self)) + " -k 4" + common());
    for (size_t i = 0; i < 4; ++i) {
        EXPECT_EQ(by_id.at("results")[i].at("id"), out.at("results")[i].at("id"));
        EXPECT_NEAR(by_id.at("results")[i].at("distance").get<double>(), out.at("results")[i].at("distance").get<double>(), 1e-5);
    }

    // similar: a photo and itself, and two photos; gallery ids work too.
    out = run_pupembed_json("similar " + quote(photos[0].string()) + " " + quote(photos[0].string()) + " -m " + quote(model_));
    EXPECT_NEAR(out.at("similarity").get<double>(), 1.0, 1e-5);
    EXPECT_FALSE(out.at("a").at("breed").get<std::string>().empty());
    out = run_pupembed_json("similar " + quote(photos[0].string()) + " " + quote("#" + std::to_string(self)) + common());
    EXPECT_NEAR(out.at("distance").get<double>(),
                1 - pupembed::cosine_similarity(gallery.vector(gallery.find_path(photos[0].string())->id), query), 1e-4);

    // algebra: the inputs are left out; a syntax error points at its column.
    out = run_pupembed_json("algebra " + quote(photos[0].string() + " + #" + std::to_string(self) + " - 0.5*" + photos[9].string()) +
                   " -k 3" + common());
    ASSERT_EQ(out.at("results").size(), 3u);
    for (const auto& result : out.at("results")) {
        EXPECT_NE(result.at("path"), photos[0].string());
        EXPECT_NE(result.at("id"), self);
        EXPECT_NE(result.at("path"), photos[9].string());
    }
    EXPECT_DOUBLE_EQ(out.at("terms")[2].at("weight").get<double>(), -0.5);
    const auto bad = run_pupembed("algebra \"#1 + (#2\"" + common());
    EXPECT_EQ(bad.exit_code, 1);
    EXPECT_NE(bad.err.find("column 9: expected ')'"), std::string::npos) << bad.err;
    // One line, the column marked in it.
    EXPECT_EQ(std::count(bad.err.begin(), bad.err.end(), '\n'), 1) << bad.err;
    EXPECT_NE(bad.err.find("(here: #1 + (#2[])"), std::string::npos) << bad.err;
    const auto nothing = run_pupembed("algebra \"#1 - #1\"" + common());
    EXPECT_EQ(nothing.exit_code, 1);
    EXPECT_NE(nothing.err.find("adds up to nothing"), std::string::npos) << nothing.err;

    // breed: 5 breeds with probabilities that add up to at most 1.
    out = run_pupembed_json("breed " + quote(photos[4].string()) + " -m " + quote(model_));
    ASSERT_EQ(out.at("predictions")[0].at("top").size(), 5u);
    double total = 0;
    for (const auto& score : out.at("predictions")[0].at("top")) total += score.at("probability").get<double>();
    EXPECT_LE(total, 1.0 + 1e-5);

    // dedup: a copy of a photo under another name is its duplicate.
    fs::copy_file(photos[3], dir_ / "photos" / "copy.jpg");
    run_pupembed_json("index add " + quote((dir_ / "photos" / "copy.jpg").string()) + common());
    out = run_pupembed_json("dedup --threshold 0.001 --db " + quote(db_));
    ASSERT_EQ(out.at("groups").size(), 1u);
    EXPECT_EQ(out.at("groups")[0].size(), 2u);
}

TEST_F(GalleryCommands, AnotherModelNeedsReembedAndBadGalleriesAreRefused) {
    const auto files = copy_photos(dir_ / "photos", {"n02110958-pug"}, 3);
    const std::string photos = quote((dir_ / "photos").string());
    run_pupembed_json("index add " + photos + " -m " + quote(model_) + common());
    const std::string other = (dir_ / "other.pt").string();
    ASSERT_EQ(run_pupembed("import-imagenet " + quote((shared_dir() / kWeights).string()) + " --input-size 96 -o " +
                           quote(other)).exit_code, 0);
    const auto refused = run_pupembed("index add " + photos + " -m " + quote(other) + common());
    EXPECT_EQ(refused.exit_code, 1);
    EXPECT_NE(refused.err.find("--reembed"), std::string::npos) << refused.err;
    const auto search = run_pupembed("search " + quote(files[0].string()) + " -m " + quote(other) + common());
    EXPECT_EQ(search.exit_code, 1);
    EXPECT_NE(search.err.find("another model"), std::string::npos) << search.err;
    json out = run_pupembed_json("index add " + photos + " -m " + quote(other) + " --reembed" + common());
    EXPECT_EQ(out.at("embedded"), 3);
    EXPECT_EQ(run_pupembed_json("index stats --db " + quote(db_)).at("model"), fs::absolute(other).lexically_normal().string());

    pupembed::testing::write_bytes(dir_ / "bad.db", std::string(5000, 'z'));
    const auto damaged = run_pupembed("search '#1' --db " + quote((dir_ / "bad.db").string()));
    EXPECT_EQ(damaged.exit_code, 1);
    EXPECT_NE(damaged.err.find("not a pupembed gallery"), std::string::npos) << damaged.err;
    const auto absent = run_pupembed("search '#1' --db " + quote((dir_ / "none.db").string()));
    EXPECT_EQ(absent.exit_code, 1);
    EXPECT_NE(absent.err.find("no such gallery"), std::string::npos) << absent.err;
    EXPECT_FALSE(fs::exists(dir_ / "none.db")) << "a query must not create a gallery";
}

// SIGKILL during `index add`: the gallery opens and holds whole committed batches, each photo
// with its file's hash and a vector; adding again completes it without re-embedding those.
TEST_F(GalleryCommands, KilledAddLeavesACommittedSubset) {
    const auto photos = copy_photos(dir_ / "photos",
                                    {"n02085620-Chihuahua", "n02110958-pug", "n02099601-golden_retriever", "n02106662-German_shepherd"}, 30);
    const size_t total = photos.size();
    const std::string command = quote(pupembed::testing::cli_path()) + " index add " + quote((dir_ / "photos").string()) + " -m " +
                                quote(model_) + " --batch 4" + common() + " > /dev/null 2>&1";
    const pid_t pid = fork();
    ASSERT_GE(pid, 0);
    if (pid == 0) {
        execl("/bin/sh", "sh", "-c", ("exec " + command).c_str(), static_cast<char*>(nullptr));
        _exit(127);
    }
    // Kill it once a few batches are committed (read-only polling, so the test never writes).
    int64_t seen = 0;
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
    while (seen < 12 && std::chrono::steady_clock::now() < deadline) {
        std::this_thread::sleep_for(std::chrono::milliseconds(20));
        sqlite3* db = nullptr;
        if (sqlite3_open_v2(db_.c_str(), &db, SQLITE_OPEN_READONLY, nullptr) == SQLITE_OK) {
            sqlite3_stmt* statement = nullptr;
            if (sqlite3_prepare_v2(db, "SELECT count(*) FROM images", -1, &statement, nullptr) == SQLITE_OK &&
                sqlite3_step(statement) == SQLITE_ROW)
                seen = sqlite3_column_int64(statement, 0);
            sqlite3_finalize(statement);
        }
        sqlite3_close(db);
    }
    kill(pid, SIGKILL);
    int status = 0;
    waitpid(pid, &status, 0);
    ASSERT_TRUE(WIFSIGNALED(status)) << "the run finished before it could be killed";

    int64_t committed = 0;
    {
        pupembed::Gallery gallery = pupembed::Gallery::open(db_, false);
        committed = gallery.size();
        EXPECT_GE(committed, 12);
        EXPECT_LT(committed, int64_t(total));
        EXPECT_EQ(committed % 4, 0) << "whole batches only";
        for (const auto& image : gallery.images()) {
            EXPECT_EQ(image.content_hash, pupembed::sha256_hex(pupembed::read_file(image.path)));
            EXPECT_EQ(gallery.vector(image.id).size(), 512u);
        }
        EXPECT_EQ(pupembed::search_gallery(gallery, gallery.vector(gallery.images()[0].id), 3).size(), 3u);
    }
    const json out = run_pupembed_json("index add " + quote((dir_ / "photos").string()) + " -m " + quote(model_) + common());
    EXPECT_EQ(out.at("unchanged"), committed);
    EXPECT_EQ(out.at("added"), int64_t(total) - committed);
    EXPECT_EQ(out.at("size"), int64_t(total));
}

// After the build, with no flags: breed, similar, eval and the gallery commands use the shipped
// default model (models/pupembed-default.pt).
TEST(DefaultModel, CommandsUseItWithoutFlags) {
    const fs::path model = pupembed::testing::default_model_path();
    if (!fs::exists(model)) GTEST_SKIP() << "skipped: " << model << " is absent";
    if (!fs::exists(shared_dir() / kVal)) GTEST_SKIP() << "skipped: " << shared_dir() / kVal << " is absent";
    TempDir dir;
    const auto photos = copy_photos(dir / "photos", {"n02085620-Chihuahua", "n02110958-pug"}, 3);
    json out = run_pupembed_json("breed " + quote(photos[3].string()));
    EXPECT_EQ(out.at("model"), model.string());
    EXPECT_EQ(out.at("predictions")[0].at("top")[0].at("name"), "pug");
    out = run_pupembed_json("similar " + quote(photos[3].string()) + " " + quote(photos[4].string()));
    EXPECT_EQ(out.at("model"), model.string());
    EXPECT_GT(out.at("similarity").get<double>(), 0.3) << "two pugs";
    out = run_pupembed_json("eval " + quote((dir / "photos").string()));
    EXPECT_EQ(out.at("datasets")[0].at("models")[0].at("model"), model.string());
    const std::string db = quote((dir / "g.db").string());
    out = run_pupembed_json("index add " + quote((dir / "photos").string()) + " --db " + db);
    EXPECT_EQ(out.at("model"), model.string());
    EXPECT_EQ(run_pupembed_json("search " + quote(photos[0].string()) + " -k 2 --db " + db).at("results").size(), 2u);
    EXPECT_EQ(run_pupembed_json("algebra " + quote(photos[0].string() + " + " + photos[3].string()) + " -k 2 --db " + db)
                  .at("results").size(), 2u);
}

// The shipped model's embedding carries the breed posterior, which brings any two photos the
// classifier is sure of close together: near-duplicates are judged on the head's columns alone,
// so dedup finds the groups the same model without the posterior finds.
TEST(DefaultModel, DuplicatesAreJudgedOnTheHeadNotOnTheBreedPosterior) {
    const fs::path model = pupembed::testing::default_model_path();
    if (!fs::exists(model)) GTEST_SKIP() << "skipped: " << model << " is absent";
    if (!fs::exists(shared_dir() / kVal)) GTEST_SKIP() << "skipped: " << shared_dir() / kVal << " is absent";
    TempDir dir;
    const auto photos = copy_photos(dir / "photos", {"n02095889-Sealyham_terrier"}, 16);
    fs::copy_file(photos[0], photos[0].parent_path() / "copy.jpg");
    const std::string head_only = quote((dir / "head.pt").string());
    ASSERT_EQ(run_pupembed("export " + quote(model.string()) + " --posterior-weight 0 -o " + head_only).exit_code, 0);
    const std::string with = quote((dir / "with.db").string()), without = quote((dir / "without.db").string());
    run_pupembed_json("index add " + quote((dir / "photos").string()) + " --db " + with);
    run_pupembed_json("index add " + quote((dir / "photos").string()) + " -m " + head_only + " --db " + without);

    pupembed::Gallery gallery = pupembed::Gallery::open((dir / "with.db").string(), false);
    ASSERT_EQ(gallery.model().dimension, 248);
    EXPECT_EQ(gallery.model().appearance_dimension, 128);
    EXPECT_EQ(pupembed::Gallery::open((dir / "without.db").string(), false).model().appearance_dimension, 0);
    // On the whole 248-d vectors more pairs would count (the case this guards against).
    std::vector<int64_t> ids;
    std::vector<float> values;
    gallery.vectors(ids, values);
    const double threshold = 0.1;
    int whole = 0, head = 0;
    for (size_t a = 0; a < ids.size(); ++a)
        for (size_t b = a + 1; b < ids.size(); ++b) {
            double dot = 0, dot_head = 0, na = 0, nb = 0;
            for (size_t c = 0; c < 248; ++c) dot += double(values[a * 248 + c]) * values[b * 248 + c];
            for (size_t c = 0; c < 128; ++c) {
                dot_head += double(values[a * 248 + c]) * values[b * 248 + c];
                na += double(values[a * 248 + c]) * values[a * 248 + c];
                nb += double(values[b * 248 + c]) * values[b * 248 + c];
            }
            whole += 1 - dot <= threshold;
            head += 1 - dot_head / std::sqrt(na * nb) <= threshold;
        }
    EXPECT_GT(whole, head) << "the posterior should pull these same-breed photos together";

    auto groups = [&](const std::string& db) {
        std::vector<std::vector<std::string>> found;
        const json out = run_pupembed_json("dedup --threshold 0.1 --db " + db);
        for (const auto& group : out.at("groups")) {
            found.emplace_back();
            for (const auto& photo : group) found.back().push_back(photo.at("path").get<std::string>());
        }
        return found;
    };
    const auto expected = groups(without);
    EXPECT_EQ(groups(with), expected);
    ASSERT_FALSE(expected.empty()) << "the copy is a duplicate";
}

// Issue 27: with the file mode 444 or in a read-only folder (a mounted volume, a shared copy),
// index stats, search and dedup failed with "cannot switch to write-ahead logging". A read-only
// copy answers as the writable one does, and index add says why it cannot add. Run as nobody
// when the tests run as the superuser, who may write any file.
TEST_F(GalleryCommands, ReadOnlyCopyAnswersAsTheWritableOne) {
    copy_photos(dir_ / "photos", {"n02110958-pug", "n02085620-Chihuahua"}, 4);
    run_pupembed_json("index add " + quote((dir_ / "photos").string()) + " -m " + quote(model_) + common());
    const fs::path shared = dir_ / "shared";
    fs::create_directories(shared);
    fs::copy_file(db_, shared / "g.db");
    const std::string copy = quote((shared / "g.db").string());
    fs::permissions(shared / "g.db", fs::perms::owner_read | fs::perms::group_read | fs::perms::others_read);
    fs::permissions(shared, fs::perms::owner_read | fs::perms::owner_exec | fs::perms::group_read | fs::perms::group_exec |
                                fs::perms::others_read | fs::perms::others_exec);
    for (const std::string& query : std::vector<std::string>{"index stats", "search '#3' -k 4 -m " + quote(model_), "dedup --threshold 0.5"}) {
        json writable = run_pupembed_json(query + " --db " + quote(db_));
        const auto read_only = pupembed::testing::run_pupembed_unprivileged(query + " --db " + copy + " --json");
        ASSERT_EQ(read_only.exit_code, 0) << query << ": " << read_only.err;
        json answer = json::parse(read_only.out);
        writable.erase("gallery");  // the file's own name
        answer.erase("gallery");
        EXPECT_EQ(answer, writable) << query;
    }
    const auto add = pupembed::testing::run_pupembed_unprivileged("index add " + quote((dir_ / "photos").string()) + " --db " + copy);
    EXPECT_EQ(add.exit_code, 1);
    EXPECT_NE(add.err.find("read-only gallery ("), std::string::npos) << add.err;
    fs::permissions(shared, fs::perms::owner_all);
}

// Issue 27: two `index add` runs of one folder into one gallery embedded every photo twice, side
// by side. A run that finds another adding (its lock on GALLERY.adding taken) goes through the
// photos from the end, so the two meet in the middle.
TEST_F(GalleryCommands, ASecondAdderGoesThroughThePhotosFromTheEnd) {
    const auto photos = copy_photos(dir_ / "photos", {"n02110958-pug"}, 3);
    std::vector<std::string> sorted;
    for (const auto& photo : photos) sorted.push_back(fs::absolute(photo).lexically_normal().string());
    std::sort(sorted.begin(), sorted.end());
    {
        const int other = ::open((db_ + ".adding").c_str(), O_RDONLY | O_CREAT | O_CLOEXEC, 0644);  // another adder
        ASSERT_EQ(::flock(other, LOCK_EX | LOCK_NB), 0);
        run_pupembed_json("index add " + quote((dir_ / "photos").string()) + " -m " + quote(model_) + common());
        ::close(other);
    }
    pupembed::Gallery gallery = pupembed::Gallery::open(db_, false);
    const auto rows = gallery.images();  // by id
    ASSERT_EQ(rows.size(), 3u);
    EXPECT_EQ(rows[0].path, sorted[2]);
    EXPECT_EQ(rows[2].path, sorted[0]);
    // Alone, a run goes from the start (what it adds gets ids in the photos' order).
    const auto more = copy_photos(dir_ / "more", {"n02085620-Chihuahua"}, 2);
    run_pupembed_json("index add " + quote((dir_ / "more").string()) + common());
    const auto after = gallery.images();
    ASSERT_EQ(after.size(), 5u);
    EXPECT_LT(after[3].path, after[4].path);
}

namespace {

/// A gallery of `count` unit vectors of 248 values around 30 centres, made through the library.
void make_vector_gallery(const std::string& path, int64_t count) {
    std::mt19937_64 rng(11);
    std::normal_distribution<float> normal;
    std::vector<float> centres(30 * 248), values(size_t(count) * 248);
    for (auto& value : centres) value = normal(rng);
    std::vector<pupembed::GalleryImage> images;
    for (int64_t i = 0; i < count; ++i) {
        float* row = values.data() + i * 248;
        const float* centre = centres.data() + (rng() % 30) * 248;
        double norm = 0;
        for (int j = 0; j < 248; ++j) {
            row[j] = centre[j] + normal(rng);
            norm += double(row[j]) * row[j];
        }
        for (int j = 0; j < 248; ++j) row[j] = float(row[j] / std::sqrt(norm));
        images.push_back(pupembed::testing::gallery_row("/v/" + std::to_string(i) + ".jpg"));
    }
    pupembed::GalleryModel model;
    model.id = "vectors";
    model.path = "vectors.pt";
    model.dimension = 248;
    pupembed::Gallery::open(path, true).put(model, images, values.data());
}

}  // namespace

TEST(IndexBuild, ChoosesBuildsAndRecordsTheIndexThatSearchesThenUse) {
    TempDir dir;
    const std::string db = (dir.path() / "g.pupembed").string();
    make_vector_gallery(db, 3000);

    // The rule for 3,000 photos: exact, and nothing written beside the gallery.
    json built = run_pupembed_json("index build --db " + quote(db));
    EXPECT_EQ(built["index"], "exact");
    EXPECT_EQ(built["files"].size(), 0u);

    // Asked for IVF-PQ: built, recorded, used by searches with --index auto.
    built = run_pupembed_json("index build --db " + quote(db) + " --index ivfpq");
    EXPECT_EQ(built["index"], "ivfpq");
    EXPECT_EQ(built["photos"], 3000);
    EXPECT_EQ(built["files"].size(), 2u);
    EXPECT_EQ(built["how"].get<std::string>().rfind("built: 64 lists, 62 bytes a code", 0), 0u) << built.dump();
    EXPECT_LT(built["memory_bytes"].get<int64_t>(), 3000 * 70 + (64 + 256) * 248 * 4 + 1);
    const json stats = run_pupembed_json("index stats --db " + quote(db));
    EXPECT_EQ(stats["index"], "ivfpq");
    EXPECT_EQ(stats["index_chosen"], true);
    EXPECT_EQ(stats["index_files"].size(), 2u);
    for (const char* id : {"#1", "#17", "#2999"}) {
        const json automatic = run_pupembed_json(std::string("search '") + id + "' -k 3 --db " + quote(db));
        const json exact = run_pupembed_json(std::string("search '") + id + "' -k 3 --db " + quote(db) + " --index exact");
        ASSERT_EQ(automatic["results"].size(), 3u);
        EXPECT_EQ(automatic["results"][0]["id"], exact["results"][0]["id"]) << id;
        EXPECT_NEAR(automatic["results"][0]["similarity"].get<double>(), exact["results"][0]["similarity"].get<double>(), 2e-3);
    }

    // A budget nothing fits: one clear line, exit status 1.
    const auto refused = run_pupembed("index build --db " + quote(db) + " --memory-budget 100K");
    EXPECT_EQ(refused.exit_code, 1);
    EXPECT_NE(refused.err.find("--memory-budget: no index of 3000 photos fits in 0.1 MB"), std::string::npos) << refused.err;
    // Too few photos for IVF-PQ: said so, not a crash.
    const std::string small = (dir.path() / "small.pupembed").string();
    make_vector_gallery(small, 100);
    const auto too_small = run_pupembed("index build --db " + quote(small) + " --index ivfpq");
    EXPECT_EQ(too_small.exit_code, 1);
    EXPECT_NE(too_small.err.find("needs at least 256 photos"), std::string::npos) << too_small.err;
}

TEST(IndexBuild, InShardsByOtherProcessesGivesTheSameIndex) {
    TempDir dir;
    const std::string db = (dir.path() / "g.pupembed").string();
    make_vector_gallery(db, 3000);
    run_pupembed_json("index build --db " + quote(db) + " --index ivfpq --lists 32");
    const std::string single = pupembed::read_file(db + ".ivfpq");

    const json plan = run_pupembed_json("index build --db " + quote(db) + " --shards 3 --lists 32");
    EXPECT_EQ(plan["shards"], 3);
    EXPECT_EQ(plan["lists"], 32);
    EXPECT_EQ(plan["folder"], db + ".ivfpq-shards");
    // Step 3 before step 2 is done: one clear line naming what is missing.
    run_pupembed_json("index build --db " + quote(db) + " --shard 1/3 --threads 1");
    const auto early = run_pupembed("index build --db " + quote(db) + " --merge");
    EXPECT_EQ(early.exit_code, 1);
    EXPECT_NE(early.err.find("2 of 3 shards are not encoded yet (0, 2)"), std::string::npos) << early.err;
    for (const char* shard : {"0/3", "2/3", "1/3"}) {
        const json report = run_pupembed_json(std::string("index build --db ") + quote(db) + " --shard " + shard + " --threads 1");
        EXPECT_EQ(report["skipped"], std::string(shard) == "1/3") << shard;
    }
    const json merged = run_pupembed_json("index build --db " + quote(db) + " --merge");
    EXPECT_EQ(merged["photos"], 3000);
    EXPECT_EQ(merged["index"], "ivfpq");
    EXPECT_EQ(pupembed::read_file(db + ".ivfpq"), single);
    EXPECT_EQ(run_pupembed_json("index stats --db " + quote(db))["index"], "ivfpq");

    // Steps that cannot run (no plan after the merge, a shard out of range, not I/N, another index): one line each.
    for (const std::string& bad : {std::string(" --shard 0/3"), std::string(" --shard 3/3"), std::string(" --shard x"),
                                   std::string(" --shards 2 --index hnsw"), std::string(" --merge")}) {
        const auto refused = run_pupembed("index build --db " + quote(db) + bad);
        EXPECT_NE(refused.exit_code, 0) << bad;
        const size_t error = refused.err.find("pupembed: error: ");
        EXPECT_NE(error, std::string::npos) << bad << ": " << refused.err;
        EXPECT_EQ(std::count(refused.err.begin() + std::min(error, refused.err.size()), refused.err.end(), '\n'), 1) << refused.err;
    }
}
