// The compressed IVF-PQ index of a gallery: recall against brute force, growth without
// retraining, rebuilds after removals, damaged and crafted files never trusted, the float16 rows
// it re-ranks with, the rule that picks an index, and the index built in shards and merged.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <random>
#include <set>

#include "gallery/float16.hpp"
#include "gallery/half_vector_file.hpp"
#include "gallery/ivf_pq_index.hpp"
#include "gallery/vector_index_state.hpp"
#include "pupembed/core/error.hpp"
#include "pupembed/gallery/gallery.hpp"
#include "pupembed/gallery/index_shards.hpp"
#include "pupembed/gallery/search.hpp"
#include "pupembed/io/file_io.hpp"
#include "test_support.hpp"

namespace fs = std::filesystem;
using namespace pupembed;
using pupembed::testing::TempDir;

namespace {

constexpr int64_t kDimension = 248;

/// `count` unit vectors around 40 random centres (embeddings cluster by breed), row after row.
std::vector<float> clustered_vectors(int64_t count, uint64_t seed) {
    std::mt19937_64 centres_rng(7);
    std::normal_distribution<float> normal;
    std::vector<float> centres(40 * kDimension);
    for (auto& value : centres) value = normal(centres_rng);
    std::mt19937_64 rng(seed);
    std::vector<float> values(static_cast<size_t>(count * kDimension));
    for (int64_t i = 0; i < count; ++i) {
        const float* centre = centres.data() + (rng() % 40) * kDimension;
        float* row = values.data() + i * kDimension;
        double norm = 0;
        for (int64_t j = 0; j < kDimension; ++j) {
            row[j] = centre[j] + 0.9f * normal(rng);
            norm += double(row[j]) * row[j];
        }
        for (int64_t j = 0; j < kDimension; ++j) row[j] = float(row[j] / std::sqrt(norm));
    }
    return values;
}

GalleryModel like_model() {
    GalleryModel model;
    model.id = "model-a";
    model.path = "a.pt";
    model.dimension = kDimension;
    return model;
}

/// Adds `count` rows to the gallery (paths from `first`); returns their ids.
std::vector<int64_t> add_rows(Gallery& gallery, const std::vector<float>& values, int64_t first) {
    const int64_t count = int64_t(values.size()) / kDimension;
    std::vector<GalleryImage> images;
    for (int64_t i = 0; i < count; ++i) images.push_back(pupembed::testing::gallery_row("/p/" + std::to_string(first + i) + ".jpg"));
    gallery.put(like_model(), images, values.data());
    std::vector<int64_t> ids;
    for (const auto& image : images) ids.push_back(image.id);
    return ids;
}

/// Recall@10 of the gallery's IVF-PQ index against brute force over its vectors, for `queries`.
double recall_at_10(Gallery& gallery, const std::vector<float>& queries) {
    std::vector<int64_t> ids;
    std::vector<float> values;
    gallery.vectors(ids, values);
    VectorIndex exact(kDimension, IndexKind::Exact);
    exact.add(values.data(), ids.data(), int64_t(ids.size()));
    const int64_t count = int64_t(queries.size()) / kDimension;
    const auto truth = exact.search(queries.data(), count, 10);
    const auto found = gallery.index(IndexKind::IvfPq)->search(queries.data(), count, 10);
    int64_t hits = 0;
    for (int64_t q = 0; q < count; ++q)
        for (const auto& hit : found[size_t(q)])
            for (const auto& t : truth[size_t(q)]) hits += hit.id == t.id;
    return double(hits) / double(count * 10);
}

class CompressedIndexTest : public ::testing::Test {
protected:
    TempDir dir;
    std::string path = (dir.path() / "g.pupembed").string();
    std::vector<float> first_rows = clustered_vectors(6000, 1);
    std::vector<float> queries = clustered_vectors(200, 99);
};

TEST(Float16, PortableConversionRoundsAsF16cDoes) {
    // Every half value survives the round trip (NaNs stay NaNs).
    for (uint32_t bits = 0; bits < 65536; ++bits) {
        const float value = float_from_half_portable(uint16_t(bits));
        if (std::isnan(value)) {
            EXPECT_TRUE(std::isnan(float_from_half_portable(half_from_float_portable(value))));
            continue;
        }
        ASSERT_EQ(half_from_float_portable(value), bits) << bits;
    }
    // Floats between halves, ties, subnormals, overflow: the same bits as the CPU's F16C conversion
    // (floats_to_half uses it where the CPU has it, as this machine's does).
    std::vector<float> values = {0.0f, -0.0f, 1.0f, 65504.0f, 65519.99f, 65520.0f, 1e9f, 5.9604645e-8f, 2.9802322e-8f,
                                 2.98023259e-8f, 6.1035156e-5f, 6.1e-5f, 1.00048828125f, 1.000732421875f, -3.3333f};
    std::mt19937_64 rng(3);
    for (int i = 0; i < 100000; ++i) {
        uint32_t bits = uint32_t(rng());
        float value = 0;
        std::memcpy(&value, &bits, sizeof(value));
        if (!std::isnan(value)) values.push_back(value);
    }
    std::vector<uint16_t> converted(values.size());
    floats_to_half(values.data(), converted.data(), int64_t(values.size()));
    for (size_t i = 0; i < values.size(); ++i) ASSERT_EQ(half_from_float_portable(values[i]), converted[i]) << values[i];
    std::vector<float> back(values.size());
    half_to_floats(converted.data(), back.data(), int64_t(values.size()));
    for (size_t i = 0; i < values.size(); ++i) ASSERT_EQ(float_from_half_portable(converted[i]), back[i]);
}

TEST_F(CompressedIndexTest, FindsWhatBruteForceFindsThroughTheOneQueryPath) {
    Gallery gallery = Gallery::open(path, true);
    const auto ids = add_rows(gallery, first_rows, 0);
    EXPECT_GE(recall_at_10(gallery, queries), 0.95);
    EXPECT_NE(gallery.index_origin().find("built: 128 lists, 62 bytes a code"), std::string::npos) << gallery.index_origin();
    EXPECT_TRUE(fs::exists(path + ".ivfpq"));
    EXPECT_TRUE(fs::exists(path + ".vectors"));

    // A gallery photo as the query: itself left out, its nearest by float16 re-ranking.
    SearchParameters parameters;
    parameters.index = IndexChoice::IvfPq;
    parameters.exclude = {ids[5]};
    FloatRows rows;
    rows.rows = 1;
    rows.columns = kDimension;
    rows.values.assign(first_rows.begin() + 4 * kDimension, first_rows.begin() + 5 * kDimension);
    const NearestIds nearest = search_vectors(gallery, rows, parameters);
    EXPECT_EQ(nearest.ids[0], ids[4]);  // itself, exactly
    EXPECT_NEAR(nearest.distances[0], 0.0f, 2e-3f);
    for (const int64_t id : nearest.ids) EXPECT_NE(id, ids[5]);

    // A fresh process loads the files instead of building.
    Gallery again = Gallery::open(path, false);
    const auto loaded = again.index(IndexKind::IvfPq);
    EXPECT_EQ(again.index_origin(), "loaded");
    EXPECT_EQ(loaded->size(), 6000);
    EXPECT_LT(loaded->memory_bytes(), 6000 * 70 + 400 * kDimension * 4);
}

TEST_F(CompressedIndexTest, GrowsWithoutRetrainingAndRebuildsAfterARemoval) {
    Gallery gallery = Gallery::open(path, true);
    add_rows(gallery, first_rows, 0);
    gallery.index(IndexKind::IvfPq);
    const auto more = clustered_vectors(300, 2);
    const auto new_ids = add_rows(gallery, more, 6000);
    const auto grown = gallery.index(IndexKind::IvfPq);
    EXPECT_EQ(gallery.index_origin(), "grown by 300 rows");
    EXPECT_EQ(grown->size(), 6300);
    // Each new photo is its own nearest neighbour.
    const auto hits = grown->search(more.data(), 300, 1);
    for (int64_t q = 0; q < 300; ++q) ASSERT_EQ(hits[size_t(q)].at(0).id, new_ids[size_t(q)]) << q;
    EXPECT_EQ(Gallery::open(path, false).index(IndexKind::IvfPq)->size(), 6300);

    // A removal rebuilds: the removed photo is never an answer.
    ASSERT_EQ(gallery.remove({new_ids[0]}), 1);
    const auto rebuilt = gallery.index(IndexKind::IvfPq);
    EXPECT_EQ(gallery.index_origin().rfind("built:", 0), 0u) << gallery.index_origin();
    EXPECT_EQ(rebuilt->size(), 6299);
    EXPECT_NE(rebuilt->search(more.data(), 1, 1)[0].at(0).id, new_ids[0]);

    // Growth past a quarter of the rows it was trained on retrains.
    add_rows(gallery, clustered_vectors(1600, 3), 7000);
    gallery.index(IndexKind::IvfPq);
    EXPECT_EQ(gallery.index_origin().rfind("built:", 0), 0u) << gallery.index_origin();
    EXPECT_GE(recall_at_10(gallery, queries), 0.95);
}

TEST_F(CompressedIndexTest, DamagedOrCraftedFilesAreBuiltAgainNeverTrusted) {
    constexpr int64_t kRows = 2000;
    {
        Gallery gallery = Gallery::open(path, true);
        add_rows(gallery, clustered_vectors(kRows, 1), 0);  // fewer rows: ten builds below
        gallery.index(IndexKind::IvfPq);
    }
    const std::string good_index = read_file(path + ".ivfpq"), good_vectors = read_file(path + ".vectors");
    const std::string payload =
        std::string(read_index_file(good_index, "PUPIVFPQ", 1, "x", "IVF-PQ index").payload);
    const std::string note = read_index_file(good_index, "PUPIVFPQ", 1, "x", "IVF-PQ index").note;
    auto crafted = [&](size_t at, const void* value, size_t size) {
        std::string changed = payload;
        std::memcpy(changed.data() + at, value, size);
        return frame_index_file("PUPIVFPQ", 1, kDimension, note, changed);  // a valid CRC
    };
    const size_t rows_at = payload.size() - kRows * (8 + 62);  // the first list's first row number
    const int64_t out_of_range = kRows, negative = -1;
    const uint32_t many_lists = 1u << 30;
    const float not_a_number = std::nanf("");
    struct Case {
        const char* what;
        std::string index_bytes, vector_bytes, reason;
    };
    std::string wrong_version = good_index;
    wrong_version[8] = 9;
    std::string flipped = good_index;
    flipped[flipped.size() / 2] ^= 1;
    std::string flipped_vectors = good_vectors;
    flipped_vectors[5000] ^= 1;
    const std::vector<Case> cases = {
        {"truncated index", good_index.substr(0, good_index.size() / 2), good_vectors, "truncated"},
        {"wrong version", wrong_version, good_vectors, "format version 9"},
        {"wrong CRC", flipped, good_vectors, "CRC mismatch"},
        {"row out of range", crafted(rows_at, &out_of_range, 8), good_vectors, "row 2000"},
        {"negative row", crafted(rows_at, &negative, 8), good_vectors, "row -1"},
        {"2^30 lists", crafted(0, &many_lists, 4), good_vectors, "lists"},
        {"a centroid not a number", crafted(20, &not_a_number, 4), good_vectors, "not a finite number"},
        {"truncated vectors", good_index, good_vectors.substr(0, good_vectors.size() - 8), "bytes where its header says"},
        {"vectors' CRC", good_index, flipped_vectors, "CRC mismatch"},
        {"vectors missing", good_index, "", "cannot open"},
    };
    for (const Case& c : cases) {
        SCOPED_TRACE(c.what);
        write_file_atomically(path + ".ivfpq", c.index_bytes);
        if (c.vector_bytes.empty()) fs::remove(path + ".vectors");
        else write_file_atomically(path + ".vectors", c.vector_bytes);
        Gallery gallery = Gallery::open(path, false);
        const auto index = gallery.index(IndexKind::IvfPq);
        const auto warnings = gallery.take_warnings();
        ASSERT_EQ(warnings.size(), 1u);
        EXPECT_NE(warnings[0].find("the IVF-PQ index is built again"), std::string::npos) << warnings[0];
        EXPECT_NE(warnings[0].find(c.reason), std::string::npos) << warnings[0];
        EXPECT_EQ(index->size(), kRows);
        EXPECT_EQ(read_file(path + ".vectors"), good_vectors);  // the same rows written again
        EXPECT_GE(recall_at_10(gallery, queries), 0.95);
    }
}

TEST(IvfPqIndex, RefusesCraftedPayloadsBeforeAllocatingFromThem) {
    std::string payload(4 * 3 + 8, '\0');
    const uint32_t header[3] = {1, 62, 8};
    std::memcpy(payload.data(), header, sizeof(header));
    const uint64_t rows = uint64_t(1) << 60;
    std::memcpy(payload.data() + 12, &rows, 8);
    EXPECT_THROW(IvfPqIndex::deserialise(payload, kDimension, 0, int64_t(1) << 40, "x"), Error);  // far more than the bytes
    EXPECT_THROW(IvfPqIndex::deserialise(payload, kDimension, 0, 5, "x"), Error);                 // rows of another file
    EXPECT_THROW(IvfPqIndex::deserialise("", kDimension, 0, 0, "x"), Error);
    const uint32_t odd[3] = {1, 61, 8};  // 61 does not divide 248
    std::memcpy(payload.data(), odd, sizeof(odd));
    EXPECT_ERROR_CONTAINS(IvfPqIndex::deserialise(payload, kDimension, 0, 0, "x.ivfpq"), "x.ivfpq: damaged IVF-PQ index (61 sub-quantizers)");
}

TEST(IndexPlan, TheRuleAtItsBoundaries) {
    EXPECT_EQ(plan_index(kApproximateSearchFrom - 1, kDimension, 0).kind, IndexKind::Exact);
    EXPECT_EQ(plan_index(kApproximateSearchFrom, kDimension, 0).kind, IndexKind::Hnsw);
    EXPECT_EQ(plan_index(kCompressedIndexFrom - 1, kDimension, 0).kind, IndexKind::Hnsw);
    EXPECT_EQ(plan_index(kCompressedIndexFrom, kDimension, 0).kind, IndexKind::IvfPq);
    // A budget moves the choice to the first index that fits, exactly at its estimate.
    const int64_t photos = 500000;
    const int64_t hnsw = index_memory_estimate(IndexKind::Hnsw, photos, kDimension);
    const int64_t ivf = index_memory_estimate(IndexKind::IvfPq, photos, kDimension);
    EXPECT_EQ(plan_index(photos, kDimension, hnsw).kind, IndexKind::Hnsw);
    EXPECT_EQ(plan_index(photos, kDimension, hnsw - 1).kind, IndexKind::IvfPq);
    EXPECT_EQ(plan_index(photos, kDimension, ivf).kind, IndexKind::IvfPq);
    EXPECT_ERROR_CONTAINS(plan_index(photos, kDimension, ivf - 1), "no index of 500000 photos fits");
    const int64_t exact = index_memory_estimate(IndexKind::Exact, 1000, kDimension);
    EXPECT_EQ(plan_index(1000, kDimension, exact - 1).kind, IndexKind::Hnsw);
    // About 70 bytes a photo at 248-d: 62-byte codes and 8-byte row numbers.
    EXPECT_NEAR(double(index_memory_estimate(IndexKind::IvfPq, 10000000, kDimension)) / 1e7, 70.0, 3.0);
}

TEST_F(CompressedIndexTest, AnAutomaticSearchUsesTheIndexBuildChose) {
    Gallery gallery = Gallery::open(path, true);
    add_rows(gallery, first_rows, 0);
    EXPECT_EQ(index_kind_for(gallery, IndexChoice::Automatic), IndexKind::Exact);
    gallery.set_chosen_index("ivfpq");
    EXPECT_EQ(Gallery::open(path, false).chosen_index(), "ivfpq");
    EXPECT_EQ(index_kind_for(gallery, IndexChoice::Automatic), IndexKind::IvfPq);
    EXPECT_EQ(index_kind_for(gallery, IndexChoice::Exact), IndexKind::Exact);
    EXPECT_THROW(gallery.set_chosen_index("annoy"), Error);
    gallery.set_chosen_index("");
    EXPECT_EQ(index_kind_for(gallery, IndexChoice::Automatic), IndexKind::Exact);
    // Too small to train: a clear error, not a crash.
    Gallery small = Gallery::open((dir.path() / "small.pupembed").string(), true);
    add_rows(small, clustered_vectors(100, 5), 0);
    EXPECT_ERROR_CONTAINS(small.index(IndexKind::IvfPq), "needs at least 256 photos");
}

}  // namespace

// Built in shards: the same index as one build, byte for byte; every step's refusals.

TEST_F(CompressedIndexTest, ShardsMergeIntoTheIndexOneBuildMakes) {
    Gallery gallery = Gallery::open(path, true);
    add_rows(gallery, first_rows, 0);
    IvfPqSettings settings;
    settings.lists = 64;
    gallery.index(IndexKind::IvfPq, {}, settings);
    const std::string single = read_file(path + ".ivfpq"), single_vectors = read_file(path + ".vectors");
    fs::remove(path + ".ivfpq");
    fs::remove(path + ".vectors");

    const IndexShardsPlan plan = plan_index_shards(gallery, 3, settings);
    EXPECT_EQ(plan.shards, 3);
    EXPECT_EQ(plan.lists, 64);
    EXPECT_FALSE(plan.kept);
    EXPECT_EQ(unfinished_index_shards(path), (std::vector<int>{0, 1, 2}));
    // In any order, from any process: shard 2 first, then 0 and 1.
    for (const int shard : {2, 0, 1}) {
        const IndexShardReport report = add_index_shard(path, shard, 3);
        EXPECT_FALSE(report.skipped);
        EXPECT_EQ(report.first_row, 6000 * shard / 3);
        EXPECT_EQ(report.rows, 2000);
    }
    EXPECT_TRUE(add_index_shard(path, 1, 3).skipped);  // a rerun
    EXPECT_TRUE(unfinished_index_shards(path).empty());
    EXPECT_TRUE(plan_index_shards(gallery, 3, settings).kept);  // the same plan, kept with its shards
    EXPECT_TRUE(add_index_shard(path, 0, 3).skipped);

    const IndexShardsMerge merged = merge_index_shards(gallery);
    EXPECT_EQ(merged.photos, 6000);
    EXPECT_EQ(merged.shards, 3);
    EXPECT_EQ(read_file(path + ".ivfpq"), single);
    EXPECT_EQ(read_file(path + ".vectors"), single_vectors);
    EXPECT_FALSE(fs::exists(index_shards_folder(path)));
    EXPECT_EQ(gallery.chosen_index(), "ivfpq");
    // A fresh process loads it (no rebuild) and searches it as any IVF-PQ index.
    Gallery reopened = Gallery::open(path, false);
    EXPECT_GE(recall_at_10(reopened, queries), 0.95);
    EXPECT_EQ(reopened.index_origin(), "loaded");
}

TEST_F(CompressedIndexTest, ShardStepsRefuseWhatDoesNotBelong) {
    Gallery gallery = Gallery::open(path, true);
    add_rows(gallery, first_rows, 0);
    IvfPqSettings settings;
    settings.lists = 64;
    EXPECT_ERROR_CONTAINS(add_index_shard(path, 0, 2), "has no index shards planned");
    EXPECT_THROW(plan_index_shards(gallery, 0, settings), Error);
    EXPECT_ERROR_CONTAINS(plan_index_shards(gallery, 6001, settings), "more than the gallery's 6000 photos");
    plan_index_shards(gallery, 2, settings);
    EXPECT_ERROR_CONTAINS(add_index_shard(path, 0, 3), "has 2 shards");
    EXPECT_ERROR_CONTAINS(add_index_shard(path, 2, 2), "needs 0 <= I < N");
    add_index_shard(path, 1, 2);
    EXPECT_ERROR_CONTAINS(merge_index_shards(gallery), "1 of 2 shards are not encoded yet (0)");
    add_index_shard(path, 0, 2);
    const std::string folder = index_shards_folder(path);
    const std::string shard0 = folder + "/shard-00000-of-00002.ivfpq", shard1 = folder + "/shard-00001-of-00002.ivfpq";

    // A damaged shard: refused by the merge, encoded again (not skipped) by its step.
    const std::string good = read_file(shard0);
    write_file_atomically(shard0, good.substr(0, good.size() - 100));
    EXPECT_ERROR_CONTAINS(merge_index_shards(gallery), shard0);
    EXPECT_EQ(unfinished_index_shards(path), std::vector<int>{0});
    EXPECT_FALSE(add_index_shard(path, 0, 2).skipped);
    EXPECT_EQ(read_file(shard0), good);

    // One shard's file in another's place: its rows are not that shard's.
    write_file_atomically(shard1, good);
    EXPECT_ERROR_CONTAINS(merge_index_shards(gallery), "was not encoded for this plan");
    add_index_shard(path, 1, 2);

    // A shard encoded with another training (a plan of other lists), its note made to match.
    const std::string other_folder = (dir.path() / "other").string();
    {
        const std::string other_path = (dir.path() / "h.pupembed").string();
        Gallery other = Gallery::open(other_path, true);
        add_rows(other, first_rows, 0);
        IvfPqSettings other_settings;
        other_settings.lists = 32;
        plan_index_shards(other, 2, other_settings);
        add_index_shard(other_path, 0, 2);
        // Our framing around the other's payload, under this plan's note.
        const std::string theirs = read_file(index_shards_folder(other_path) + "/shard-00000-of-00002.ivfpq");
        const IndexFileContents their_contents = read_index_file(theirs, "PUPIVFPQ", 1, "x", "IVF-PQ index");
        const IndexFileContents our_contents = read_index_file(good, "PUPIVFPQ", 1, "x", "IVF-PQ index");
        write_file_atomically(shard0, frame_index_file("PUPIVFPQ", 1, kDimension, our_contents.note, their_contents.payload));
    }
    EXPECT_ERROR_CONTAINS(merge_index_shards(gallery), "with another trained index");
    EXPECT_FALSE(add_index_shard(path, 0, 2).skipped);

    // The gallery changed since the plan: planned again, never merged into an index of other rows.
    add_rows(gallery, clustered_vectors(10, 5), 6000);
    EXPECT_ERROR_CONTAINS(merge_index_shards(gallery), "changed since its index shards were planned");
    EXPECT_FALSE(plan_index_shards(gallery, 2, settings).kept);
    EXPECT_EQ(unfinished_index_shards(path), (std::vector<int>{0, 1}));
}

TEST(IvfPqIndex, MergesOnlyPartsOfTheSameTrainingAndOtherRows) {
    const std::vector<float> rows = clustered_vectors(3000, 4);
    IvfPqIndex trained = IvfPqIndex::train(kDimension, rows.data(), 3000, 16, 31);
    IvfPqIndex other = IvfPqIndex::train(kDimension, rows.data(), 3000, 8, 31);
    IvfPqIndex whole = IvfPqIndex::deserialise(trained.serialise(), kDimension, 0, 0, "x");
    IvfPqIndex a = IvfPqIndex::deserialise(trained.serialise(), kDimension, 0, 0, "x");
    IvfPqIndex b = IvfPqIndex::deserialise(trained.serialise(), kDimension, 0, 0, "x");
    whole.add(rows.data(), 0, 3000);
    a.add(rows.data(), 0, 1000);
    b.add(rows.data() + 1000 * kDimension, 1000, 2000);
    EXPECT_TRUE(a.same_training(b));
    EXPECT_FALSE(a.same_training(other));
    other.add(rows.data() + 1000 * kDimension, 1000, 10);
    EXPECT_ERROR_CONTAINS(a.merge(other), "trained otherwise");
    IvfPqIndex overlapping = IvfPqIndex::deserialise(trained.serialise(), kDimension, 0, 0, "x");
    overlapping.add(rows.data(), 500, 10);
    EXPECT_ERROR_CONTAINS(a.merge(overlapping), "a part of rows 500 to 509 does not come after this index's rows (up to 999)");
    a.merge(b);
    EXPECT_EQ(a.size(), 3000);
    EXPECT_EQ(b.size(), 0);
    EXPECT_EQ(a.row_range(), (std::pair<int64_t, int64_t>{0, 3000}));
    EXPECT_EQ(a.serialise(), whole.serialise());
    // A part's rows read back only in its own range.
    IvfPqIndex part = IvfPqIndex::deserialise(trained.serialise(), kDimension, 0, 0, "x");
    part.add(rows.data(), 1000, 500);
    EXPECT_NO_THROW(IvfPqIndex::deserialise(part.serialise(), kDimension, 1000, 500, "x"));
    EXPECT_ERROR_CONTAINS(IvfPqIndex::deserialise(part.serialise(), kDimension, 0, 500, "x"), "damaged IVF-PQ index (row 1");
    EXPECT_ERROR_CONTAINS(IvfPqIndex::deserialise(part.serialise(), kDimension, 1001, 500, "x"), "(row 1000)");
}
