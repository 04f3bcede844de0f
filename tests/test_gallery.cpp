// The gallery's parts: the vector index against brute force, the SQLite gallery file, the
// algebra parser, duplicates.
#include <gtest/gtest.h>
#include <sqlite3.h>
#include <torch/torch.h>

#include <algorithm>
#include <cmath>
#include <functional>
#include <numeric>
#include <random>
#include <set>

#include "pupembed/inference/embedding_map.hpp"
#include "pupembed/core/error.hpp"
#include "pupembed/gallery/algebra.hpp"
#include "pupembed/gallery/gallery.hpp"
#include "pupembed/gallery/queries.hpp"
#include "pupembed/gallery/search.hpp"
#include "pupembed/gallery/vector_index.hpp"
#include "pupembed/io/file_io.hpp"
#include "test_support.hpp"

namespace fs = std::filesystem;
using pupembed::Error;
using pupembed::testing::gallery_row;
using pupembed::testing::TempDir;

namespace {

/// `count` random unit vectors of size `dimension`, row after row.
std::vector<float> unit_vectors(int64_t count, int64_t dimension, uint64_t seed) {
    std::mt19937_64 rng(seed);
    std::normal_distribution<float> normal;
    std::vector<float> values(static_cast<size_t>(count * dimension));
    for (int64_t i = 0; i < count; ++i) {
        float* row = values.data() + i * dimension;
        double norm = 0;
        for (int64_t j = 0; j < dimension; ++j) {
            row[j] = normal(rng);
            norm += double(row[j]) * row[j];
        }
        for (int64_t j = 0; j < dimension; ++j) row[j] = float(row[j] / std::sqrt(norm));
    }
    return values;
}

/// The k ids of highest inner product with `query`, by brute force (ties: lower id first).
std::vector<int64_t> brute_force(const std::vector<float>& data, const std::vector<int64_t>& ids, const float* query,
                                 int64_t dimension, int k) {
    std::vector<std::pair<float, int64_t>> scored;
    for (size_t i = 0; i < ids.size(); ++i) {
        float dot = 0;
        for (int64_t j = 0; j < dimension; ++j) dot += data[i * size_t(dimension) + size_t(j)] * query[j];
        scored.push_back({-dot, ids[i]});
    }
    std::sort(scored.begin(), scored.end());
    std::vector<int64_t> best;
    for (int i = 0; i < k && i < int(scored.size()); ++i) best.push_back(scored[size_t(i)].second);
    return best;
}

}  // namespace

TEST(VectorIndex, ExactSearchMatchesBruteForce) {
    const int64_t n = 2000, d = 32;
    const auto data = unit_vectors(n, d, 1);
    std::vector<int64_t> ids(static_cast<size_t>(n));
    for (int64_t i = 0; i < n; ++i) ids[size_t(i)] = 1000 + 3 * i;  // ids need not be positions
    pupembed::VectorIndex index(d, pupembed::IndexKind::Exact);
    index.add(data.data(), ids.data(), n);
    const auto queries = unit_vectors(20, d, 2);
    const auto hits = index.search(queries.data(), 20, 10);
    for (int q = 0; q < 20; ++q) {
        std::vector<int64_t> got;
        for (const auto& hit : hits[size_t(q)]) got.push_back(hit.id);
        EXPECT_EQ(got, brute_force(data, ids, queries.data() + q * d, d, 10)) << "query " << q;
        EXPECT_TRUE(std::is_sorted(hits[size_t(q)].begin(), hits[size_t(q)].end(),
                                   [](const auto& a, const auto& b) { return a.similarity > b.similarity; }));
    }
    // Excluded ids are left out and the next ones take their place.
    const auto first = hits[0];
    const auto without = index.search(queries.data(), 1, 10, {first[0].id, first[3].id});
    std::vector<int64_t> expected;
    for (const auto& id : brute_force(data, ids, queries.data(), d, 12))
        if (id != first[0].id && id != first[3].id) expected.push_back(id);
    std::vector<int64_t> got;
    for (const auto& hit : without[0]) got.push_back(hit.id);
    EXPECT_EQ(got, expected);
    // Asking for more than there is gives all.
    pupembed::VectorIndex small(d, pupembed::IndexKind::Exact);
    small.add(data.data(), ids.data(), 3);
    EXPECT_EQ(small.search(queries.data(), 1, 10)[0].size(), 3u);
}

// Near-ties closer than float16 can tell apart: the exact search still ranks them as float32 does.
TEST(VectorIndex, ExactSearchRanksNearTiesExactly) {
    const int64_t n = 3000, d = 64;
    auto data = unit_vectors(n, d, 7);
    const auto noise = unit_vectors(300, d, 8);
    for (int64_t i = 0; i < 300; ++i) {  // 300 vectors within about 1e-5 of the first one
        double norm = 0;
        for (int64_t j = 0; j < d; ++j) {
            data[size_t((i + 1) * d + j)] = data[size_t(j)] + 2e-5f * noise[size_t(i * d + j)];
            norm += double(data[size_t((i + 1) * d + j)]) * data[size_t((i + 1) * d + j)];
        }
        for (int64_t j = 0; j < d; ++j) data[size_t((i + 1) * d + j)] = float(data[size_t((i + 1) * d + j)] / std::sqrt(norm));
    }
    std::vector<int64_t> ids(static_cast<size_t>(n));
    std::iota(ids.begin(), ids.end(), 0);
    pupembed::VectorIndex index(d, pupembed::IndexKind::Exact);
    index.add(data.data(), ids.data(), n);
    const auto hits = index.search(data.data(), 1, 20, {0});
    std::vector<int64_t> got;
    for (const auto& hit : hits[0]) got.push_back(hit.id);
    auto truth = brute_force(data, ids, data.data(), d, 21);
    truth.erase(std::find(truth.begin(), truth.end(), 0));
    EXPECT_EQ(got, truth);
}

TEST(VectorIndex, HnswFindsMostTrueNeighboursAndSurvivesSaveAndLoad) {
    const int64_t n = 5000, d = 16;
    const auto data = unit_vectors(n, d, 3);
    std::vector<int64_t> ids(static_cast<size_t>(n));
    std::iota(ids.begin(), ids.end(), 1);
    pupembed::VectorIndex index(d, pupembed::IndexKind::Hnsw);
    index.add(data.data(), ids.data(), n);
    const auto queries = unit_vectors(50, d, 4);
    auto recall = [&](const pupembed::VectorIndex& searched) {
        const auto hits = searched.search(queries.data(), 50, 10);
        int found = 0;
        for (int q = 0; q < 50; ++q) {
            const auto truth = brute_force(data, ids, queries.data() + q * d, d, 10);
            for (const auto& hit : hits[size_t(q)]) found += int(std::count(truth.begin(), truth.end(), hit.id));
        }
        return found / 500.0;
    };
    const double before = recall(index);
    EXPECT_GT(before, 0.9);
    TempDir dir;
    const std::string path = (dir / "x.index").string();
    index.save(path, "note");
    std::string note;
    const pupembed::VectorIndex back = pupembed::VectorIndex::load(path, &note);
    EXPECT_EQ(note, "note");
    EXPECT_EQ(back.kind(), pupembed::IndexKind::Hnsw);
    EXPECT_EQ(back.size(), n);
    EXPECT_DOUBLE_EQ(recall(back), before);

    // Damage is refused with the file's name.
    std::string bytes = pupembed::read_file(path);
    pupembed::testing::write_bytes(dir / "cut.index", bytes.substr(0, bytes.size() / 2));
    EXPECT_ERROR_CONTAINS(pupembed::VectorIndex::load((dir / "cut.index").string()), "damaged vector index");
    bytes[bytes.size() / 2] ^= 0x55;
    pupembed::testing::write_bytes(dir / "flip.index", bytes);
    EXPECT_ERROR_CONTAINS(pupembed::VectorIndex::load((dir / "flip.index").string()), "CRC mismatch");
    pupembed::testing::write_bytes(dir / "other.index", "hello, not an index");
    EXPECT_ERROR_CONTAINS(pupembed::VectorIndex::load((dir / "other.index").string()), "not a pupembed vector index");
}

TEST(Gallery, StoresFindsReplacesAndRemoves) {
    TempDir dir;
    const std::string path = (dir / "g.db").string();
    EXPECT_ERROR_CONTAINS(pupembed::Gallery::open(path, false), "no such gallery");
    pupembed::Gallery gallery = pupembed::Gallery::open(path, true);
    EXPECT_EQ(gallery.size(), 0);
    EXPECT_TRUE(gallery.model().id.empty());
    const pupembed::GalleryModel model{"m1", "/models/m1.pt", 4};
    std::vector<pupembed::GalleryImage> images{gallery_row("/a.jpg"), gallery_row("/b.jpg")};
    const std::vector<float> vectors{1, 0, 0, 0, 0, 1, 0, 0};
    const int64_t generation = gallery.generation();
    gallery.put(model, images, vectors.data());
    EXPECT_GT(gallery.generation(), generation);
    EXPECT_EQ(gallery.size(), 2);
    EXPECT_GT(images[1].id, images[0].id);
    EXPECT_EQ(gallery.find_path("/b.jpg")->id, images[1].id);
    EXPECT_EQ(gallery.vector(images[1].id), (std::vector<float>{0, 1, 0, 0}));
    EXPECT_EQ(gallery.model().path, "/models/m1.pt");

    // The same path again replaces the row and keeps its id.
    std::vector<pupembed::GalleryImage> changed{gallery_row("/b.jpg", "h2")};
    const std::vector<float> new_vector{0, 0, 1, 0};
    gallery.put(model, changed, new_vector.data());
    EXPECT_EQ(changed[0].id, images[1].id);
    EXPECT_EQ(gallery.size(), 2);
    EXPECT_EQ(gallery.find(images[1].id)->content_hash, "h2");
    EXPECT_EQ(gallery.vector(images[1].id), new_vector);

    // Search sees the change; a query's own id can be left out.
    const auto hits = pupembed::search_gallery(gallery, {0, 0, 1, 0}, 5);
    ASSERT_EQ(hits.size(), 2u);
    EXPECT_EQ(hits[0].image.path, "/b.jpg");
    EXPECT_NEAR(hits[0].distance, 0.0, 1e-6);
    EXPECT_EQ(pupembed::search_gallery(gallery, {0, 0, 1, 0}, 5, {images[1].id}).size(), 1u);

    // Another model is refused unless replacing, which drops the old vectors.
    std::vector<pupembed::GalleryImage> other{gallery_row("/c.jpg")};
    const pupembed::GalleryModel model2{"m2", "/models/m2.pt", 4};
    EXPECT_ERROR_CONTAINS(gallery.put(model2, other, vectors.data()), "another model");
    EXPECT_EQ(gallery.size(), 2) << "a refused change leaves the gallery as it was";
    gallery.put(model2, other, vectors.data(), true);
    EXPECT_EQ(gallery.size(), 1);
    EXPECT_EQ(gallery.model().id, "m2");

    EXPECT_EQ(gallery.remove({other[0].id, 999}), 1);
    EXPECT_EQ(gallery.size(), 0);

    // Reopened, it holds what was committed.
    pupembed::Gallery again = pupembed::Gallery::open(path, false);
    EXPECT_EQ(again.model().id, "m2");
    EXPECT_EQ(again.size(), 0);
}

TEST(Gallery, HnswIndexIsKeptBesideTheFileAndRebuiltWhenStale) {
    TempDir dir;
    const std::string path = (dir / "g.db").string();
    pupembed::Gallery gallery = pupembed::Gallery::open(path, true);
    const int64_t n = 300, d = 8;
    const auto data = unit_vectors(n, d, 5);
    std::vector<pupembed::GalleryImage> images;
    for (int64_t i = 0; i < n; ++i) images.push_back(gallery_row("/p" + std::to_string(i) + ".jpg"));
    gallery.put({"m", "/m.pt", d}, images, data.data());
    const std::vector<float> query(data.begin(), data.begin() + d);
    const auto exact = pupembed::search_gallery(gallery, query, 5, {}, pupembed::IndexChoice::Exact);
    const auto approximate = pupembed::search_gallery(gallery, query, 5, {}, pupembed::IndexChoice::Hnsw);
    EXPECT_EQ(exact[0].image.id, approximate[0].image.id);
    EXPECT_TRUE(fs::exists(path + ".index"));
    // After a change the stored index no longer matches and is rebuilt.
    gallery.remove({exact[0].image.id});
    const auto after = pupembed::search_gallery(gallery, query, 5, {}, pupembed::IndexChoice::Hnsw);
    EXPECT_NE(after[0].image.id, exact[0].image.id);
    // A damaged index file is rebuilt too, not trusted.
    pupembed::testing::write_bytes(path + ".index", "garbage");
    pupembed::Gallery reopened = pupembed::Gallery::open(path, false);
    EXPECT_EQ(pupembed::search_gallery(reopened, query, 5, {}, pupembed::IndexChoice::Hnsw)[0].image.id, after[0].image.id);
}

TEST(Gallery, ForeignDamagedAndNewerFilesAreRefused) {
    TempDir dir;
    pupembed::testing::write_bytes(dir / "text.db", std::string(4096, 'x'));
    EXPECT_ERROR_CONTAINS(pupembed::Gallery::open((dir / "text.db").string(), false), "not a pupembed gallery");
    // Another program's SQLite database.
    sqlite3* db = nullptr;
    ASSERT_EQ(sqlite3_open((dir / "other.db").string().c_str(), &db), SQLITE_OK);
    sqlite3_exec(db, "CREATE TABLE t (x INTEGER)", nullptr, nullptr, nullptr);
    sqlite3_close(db);
    EXPECT_ERROR_CONTAINS(pupembed::Gallery::open((dir / "other.db").string(), false), "another program");
    // A newer version.
    const std::string newer = (dir / "newer.db").string();
    pupembed::Gallery::open(newer, true);
    ASSERT_EQ(sqlite3_open(newer.c_str(), &db), SQLITE_OK);
    sqlite3_exec(db, "PRAGMA user_version = 99", nullptr, nullptr, nullptr);
    sqlite3_close(db);
    EXPECT_ERROR_CONTAINS(pupembed::Gallery::open(newer, false), "newer than this build reads");
    // A vector of the wrong size.
    const std::string broken = (dir / "broken.db").string();
    {
        pupembed::Gallery gallery = pupembed::Gallery::open(broken, true);
        std::vector<pupembed::GalleryImage> images{gallery_row("/a.jpg")};
        const std::vector<float> vector{1, 0, 0, 0};
        gallery.put({"m", "/m.pt", 4}, images, vector.data());
    }
    ASSERT_EQ(sqlite3_open(broken.c_str(), &db), SQLITE_OK);
    sqlite3_exec(db, "UPDATE images SET vector = x'0000'", nullptr, nullptr, nullptr);
    sqlite3_close(db);
    pupembed::Gallery gallery = pupembed::Gallery::open(broken, false);
    EXPECT_ERROR_CONTAINS(pupembed::search_gallery(gallery, {1, 0, 0, 0}, 3), "damaged gallery");
}

TEST(Algebra, ParsesWeightsParenthesesIdsAndQuotes) {
    auto terms = pupembed::parse_algebra("a.jpg + b.jpg - c.jpg");
    ASSERT_EQ(terms.size(), 3u);
    EXPECT_EQ(terms[0].operand, "a.jpg");
    EXPECT_DOUBLE_EQ(terms[1].weight, 1);
    EXPECT_DOUBLE_EQ(terms[2].weight, -1);
    EXPECT_EQ(terms[2].column, 17);

    terms = pupembed::parse_algebra("0.5*a.jpg - 2*(#12 - 'my dog (1).jpg') + n02085620-Chihuahua/x.jpg");
    ASSERT_EQ(terms.size(), 4u);
    EXPECT_DOUBLE_EQ(terms[0].weight, 0.5);
    EXPECT_EQ(terms[1].operand, "#12");
    EXPECT_DOUBLE_EQ(terms[1].weight, -2);
    EXPECT_EQ(terms[2].operand, "my dog (1).jpg");
    EXPECT_DOUBLE_EQ(terms[2].weight, 2);
    EXPECT_EQ(terms[3].operand, "n02085620-Chihuahua/x.jpg") << "a '-' inside a name is part of it";

    terms = pupembed::parse_algebra("-a.jpg");
    ASSERT_EQ(terms.size(), 1u);
    EXPECT_DOUBLE_EQ(terms[0].weight, -1);
    long long id = 0;
    EXPECT_TRUE(pupembed::parse_gallery_id("#12", id));
    EXPECT_EQ(id, 12);
    EXPECT_FALSE(pupembed::parse_gallery_id("#1x", id));
}

TEST(Algebra, SyntaxErrorsNameTheirColumn) {
    EXPECT_ERROR_CONTAINS(pupembed::parse_algebra(""), "column 1: empty expression");
    EXPECT_ERROR_CONTAINS(pupembed::parse_algebra("a.jpg +"), "column 8: expected a photo");
    EXPECT_ERROR_CONTAINS(pupembed::parse_algebra("a.jpg b.jpg"), "column 7: expected + or - before 'b.jpg'");
    EXPECT_ERROR_CONTAINS(pupembed::parse_algebra("(a.jpg + b.jpg"), "column 15: expected ')' to close the '(' at column 1");
    EXPECT_ERROR_CONTAINS(pupembed::parse_algebra("a.jpg)"), "column 6: ')' without a matching '('");
    EXPECT_ERROR_CONTAINS(pupembed::parse_algebra("2 a.jpg"), "column 3: expected '*' after the weight 2");
    EXPECT_ERROR_CONTAINS(pupembed::parse_algebra("a.jpg + 'b.jpg"), "column 9: unterminated quote");
    EXPECT_ERROR_CONTAINS(pupembed::parse_algebra("a.jpg + * b.jpg"), "column 9: expected a photo");
}

TEST(Queries, CombineNormalisesAndRefusesNothing) {
    pupembed::QueryPhoto a, b;
    a.vector = {1, 0};
    b.vector = {0, 1};
    const auto sum = pupembed::combine({a, b}, {1, 1});
    EXPECT_NEAR(sum[0], std::sqrt(0.5), 1e-6);
    EXPECT_NEAR(sum[1], std::sqrt(0.5), 1e-6);
    EXPECT_ERROR_CONTAINS(pupembed::combine({a, a}, {1, -1}), "adds up to nothing");
    EXPECT_NEAR(pupembed::cosine_similarity({1, 0}, {1, 1}), std::sqrt(0.5), 1e-6);
}

TEST(Queries, DuplicatesAreGroupedTransitively) {
    TempDir dir;
    pupembed::Gallery gallery = pupembed::Gallery::open((dir / "g.db").string(), true);
    // 1 ~ 2 ~ 3 (each step 0.02 apart in cosine distance, 1 and 3 about 0.08), 4 alone, 5 ~ 6.
    auto unit = [](double angle) { return std::vector<float>{float(std::cos(angle)), float(std::sin(angle)), 0}; };
    const double step = std::acos(1 - 0.02);
    std::vector<std::vector<float>> rows{unit(0), unit(step), unit(2 * step), {0, 0, 1}, unit(2.0), unit(2.0 + step / 2)};
    std::vector<float> values;
    std::vector<pupembed::GalleryImage> images;
    for (size_t i = 0; i < rows.size(); ++i) {
        values.insert(values.end(), rows[i].begin(), rows[i].end());
        images.push_back(gallery_row("/" + std::to_string(i) + ".jpg"));
    }
    gallery.put({"m", "/m.pt", 3}, images, values.data());
    const auto groups = pupembed::find_duplicates(gallery, 0.03);
    ASSERT_EQ(groups.size(), 2u);
    EXPECT_EQ(groups[0], (std::vector<int64_t>{images[0].id, images[1].id, images[2].id}));
    EXPECT_EQ(groups[1], (std::vector<int64_t>{images[4].id, images[5].id}));
    EXPECT_TRUE(pupembed::find_duplicates(gallery, 0.001).empty());
}

// The map: photos of one cluster end up next to each other in 2-D, which a linear projection of
// many clusters cannot do; and the same input gives the same picture.
TEST(GalleryMap, UmapLayoutKeepsClustersTogether) {
    std::mt19937_64 random(7);
    std::normal_distribution<float> normal;
    const int64_t clusters = 12, per_cluster = 40, d = 32;
    std::vector<float> centres(size_t(clusters * d)), values;
    for (auto& c : centres) c = normal(random);
    std::vector<int64_t> ids, cluster_of;
    for (int64_t c = 0; c < clusters; ++c)
        for (int64_t i = 0; i < per_cluster; ++i) {
            std::vector<float> v(static_cast<size_t>(d));
            double norm = 0;
            for (int64_t j = 0; j < d; ++j) {
                v[size_t(j)] = centres[size_t(c * d + j)] + 0.35f * normal(random);
                norm += double(v[size_t(j)]) * v[size_t(j)];
            }
            for (auto& x : v) x = float(x / std::sqrt(norm));
            values.insert(values.end(), v.begin(), v.end());
            ids.push_back(1000 + int64_t(ids.size()));
            cluster_of.push_back(c);
        }
    auto agreement = [&](const pupembed::GalleryMap& map) {
        int same = 0;
        for (size_t i = 0; i < map.points.size(); ++i) {
            size_t best = i;
            double best_distance = 1e300;
            for (size_t j = 0; j < map.points.size(); ++j) {
                const double dx = map.points[i].x - map.points[j].x, dy = map.points[i].y - map.points[j].y;
                if (j != i && dx * dx + dy * dy < best_distance) best = j, best_distance = dx * dx + dy * dy;
            }
            same += cluster_of[size_t(map.points[i].id - 1000)] == cluster_of[size_t(map.points[best].id - 1000)];
        }
        return double(same) / double(map.points.size());
    };
    const auto umap = pupembed::umap_layout(ids, values, 100000);
    ASSERT_EQ(umap.points.size(), ids.size());
    EXPECT_EQ(umap.total, int64_t(ids.size()));
    EXPECT_GT(agreement(umap), 0.95);
    const auto again = pupembed::umap_layout(ids, values, 100000);
    for (size_t i = 0; i < ids.size(); ++i) EXPECT_EQ(again.points[i].x, umap.points[i].x);
    // A subset when asked for fewer points.
    EXPECT_EQ(pupembed::umap_layout(ids, values, 100).points.size(), 100u);
    const auto pca = pupembed::project_on_principal_plane(ids, values, 100000);
    EXPECT_GT(pca.explained[0], 0);
    EXPECT_GE(pca.explained[0], pca.explained[1]);
    std::printf("nearest dot in the same cluster: UMAP-style %.3f, PCA %.3f\n", agreement(umap), agreement(pca));
}

TEST(Gallery, SamplesRowsAndCountsBreedsWithoutReadingTheRest) {
    TempDir dir;
    auto gallery = pupembed::Gallery::open((dir.path() / "g.db").string(), true);
    const auto values = unit_vectors(50, 8, 4);
    std::vector<pupembed::GalleryImage> images;
    for (int i = 0; i < 50; ++i) {
        images.push_back(gallery_row("/s/" + std::to_string(i) + ".jpg"));
        images.back().breed = i % 5 == 0 ? "" : i % 2 ? "pug" : "beagle";
    }
    gallery.put({"m", "m.pt", 8}, images, values.data());
    gallery.remove({images[3].id, images[4].id});
    EXPECT_EQ(gallery.size(), 48);

    std::vector<int64_t> ids, again_ids;
    std::vector<float> rows, again_rows;
    std::vector<std::string> breeds, again_breeds;
    gallery.sample(10, 7, ids, rows, breeds);
    ASSERT_EQ(ids.size(), 10u);
    EXPECT_TRUE(std::is_sorted(ids.begin(), ids.end()));
    EXPECT_EQ(std::set<int64_t>(ids.begin(), ids.end()).size(), 10u);
    for (size_t i = 0; i < ids.size(); ++i) {
        EXPECT_NE(ids[i], images[3].id);  // removed rows are never drawn
        EXPECT_EQ(std::vector<float>(rows.begin() + long(i) * 8, rows.begin() + long(i + 1) * 8), gallery.vector(ids[i]));
        EXPECT_EQ(breeds[i], gallery.find(ids[i])->breed);
    }
    gallery.sample(10, 7, again_ids, again_rows, again_breeds);
    EXPECT_EQ(again_ids, ids);  // the same seed, the same rows
    gallery.sample(100, 7, ids, rows, breeds);
    EXPECT_EQ(ids.size(), 48u);  // more than there are: every row

    // 10 without a breed, 19 beagles (20 less one removed), 19 pugs (20 less one removed).
    const std::vector<std::pair<std::string, int64_t>> expected = {{"beagle", 19}, {"pug", 19}, {"", 10}};
    EXPECT_EQ(gallery.breed_counts(), expected);
}
