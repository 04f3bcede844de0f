// The gallery's parts: the vector index against brute force, the SQLite gallery file, the
// algebra parser, duplicates.
#include <gtest/gtest.h>
#include <sqlite3.h>
#include <torch/torch.h>

#include <algorithm>
#include <atomic>
#include <cmath>
#include <functional>
#include <numeric>
#include <random>
#include <thread>

#include <sys/wait.h>
#include <unistd.h>

#include "pupembed/inference/embedding_map.hpp"
#include "pupembed/core/error.hpp"
#include "pupembed/gallery/algebra.hpp"
#include "pupembed/gallery/gallery.hpp"
#include "pupembed/gallery/queries.hpp"
#include "pupembed/gallery/vector_index.hpp"
#include "pupembed/io/file_io.hpp"
#include "test_support.hpp"

namespace fs = std::filesystem;
using pupembed::Error;
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

pupembed::GalleryImage image(const std::string& path, const std::string& hash = "h") {
    pupembed::GalleryImage result;
    result.path = path;
    result.content_hash = hash;
    result.file_size = 10;
    result.width = result.height = 64;
    result.added = "2026-01-01T00:00:00Z";
    result.breed = "pug";
    result.breed_probability = 0.5;
    return result;
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
    std::vector<pupembed::GalleryImage> images{image("/a.jpg"), image("/b.jpg")};
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
    std::vector<pupembed::GalleryImage> changed{image("/b.jpg", "h2")};
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
    std::vector<pupembed::GalleryImage> other{image("/c.jpg")};
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
    for (int64_t i = 0; i < n; ++i) images.push_back(image("/p" + std::to_string(i) + ".jpg"));
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
        std::vector<pupembed::GalleryImage> images{image("/a.jpg")};
        const std::vector<float> vector{1, 0, 0, 0};
        gallery.put({"m", "/m.pt", 4}, images, vector.data());
    }
    ASSERT_EQ(sqlite3_open(broken.c_str(), &db), SQLITE_OK);
    sqlite3_exec(db, "UPDATE images SET vector = x'0000'", nullptr, nullptr, nullptr);
    sqlite3_close(db);
    pupembed::Gallery gallery = pupembed::Gallery::open(broken, false);
    EXPECT_ERROR_CONTAINS(pupembed::search_gallery(gallery, {1, 0, 0, 0}, 3), "damaged gallery");
}

namespace {

/// The vector a sharing test stores for photo `number`: a unit vector that says which photo it is.
std::vector<float> vector_of_photo(int64_t number, int64_t dimension) {
    std::vector<float> values(static_cast<size_t>(dimension), 0.f);
    values[size_t(number % dimension)] = 0.6f;
    values[size_t((number / dimension) % dimension)] += 0.8f;
    double norm = 0;
    for (const float v : values) norm += double(v) * v;
    for (float& v : values) v = float(v / std::sqrt(norm));
    return values;
}

std::string photo_path(int64_t number) { return "/photos/p" + std::to_string(number) + ".jpg"; }

/// What SQLite's own check says of the file at `path` ("ok" for a sound one).
std::string integrity_of(const std::string& path) {
    sqlite3* db = nullptr;
    std::string answer = "cannot open";
    if (sqlite3_open_v2(path.c_str(), &db, SQLITE_OPEN_READONLY, nullptr) == SQLITE_OK) {
        sqlite3_stmt* check = nullptr;
        if (sqlite3_prepare_v2(db, "PRAGMA integrity_check", -1, &check, nullptr) == SQLITE_OK && sqlite3_step(check) == SQLITE_ROW)
            answer = reinterpret_cast<const char*>(sqlite3_column_text(check, 0));
        sqlite3_finalize(check);
    }
    sqlite3_close(db);
    return answer;
}

/// Runs `checks` in a child process as an unprivileged user (nobody) when this one is the
/// superuser, who may write any file; returns what `checks` returned ("" when all held).
std::string as_unprivileged_user(const std::function<std::string()>& checks) {
    int channel[2];
    if (::pipe(channel) != 0) return "pipe failed";
    const pid_t child = ::fork();
    if (child == 0) {
        ::close(channel[0]);
        std::string answer;
        if (::geteuid() == 0 && (::setgid(65534) != 0 || ::setuid(65534) != 0)) answer = "cannot become nobody";
        if (answer.empty()) {
            try {
                answer = checks();
            } catch (const std::exception& e) {
                answer = std::string("threw: ") + e.what();
            }
        }
        (void)!::write(channel[1], answer.data(), answer.size());
        ::_exit(0);
    }
    ::close(channel[1]);
    std::string answer;
    char buffer[4096];
    for (ssize_t got; (got = ::read(channel[0], buffer, sizeof(buffer))) > 0;) answer.append(buffer, size_t(got));
    ::close(channel[0]);
    int status = 0;
    ::waitpid(child, &status, 0);
    if (!WIFEXITED(status)) return "the child process died (signal " + std::to_string(WTERMSIG(status)) + ")";
    return answer;
}

}  // namespace

// Issue 27: one Gallery shared by threads (a Python program's, the server's) once corrupted the
// file, crashed and hung. Every operation at once, on one handle and on a second handle of the
// same file (another connection, as another process has): the file stays sound and every
// vector is the one written for its photo.
TEST(GallerySharing, EveryOperationFromManyThreadsAtOnceKeepsTheFileSound) {
    TempDir dir;
    const std::string path = (dir / "g.db").string();
    const int64_t d = 16, photos = 400;
    pupembed::Gallery shared = pupembed::Gallery::open(path, true);
    pupembed::Gallery second = pupembed::Gallery::open(path, false);
    const pupembed::GalleryModel model{"m", "/m.pt", d};
    std::atomic<int> failures{0};
    std::mutex failure_mutex;
    std::string first_failure;
    auto guarded = [&](const std::function<void()>& work) {
        return [&, work] {
            try {
                work();
            } catch (const std::exception& e) {
                std::lock_guard<std::mutex> lock(failure_mutex);
                if (failures++ == 0) first_failure = e.what();
            }
        };
    };
    // Adders: batches of photos (each photo in two threads' batches, so rows are also replaced).
    auto adder = [&](pupembed::Gallery& gallery, int64_t offset) {
        return guarded([&gallery, &model, offset, d] {
            for (int64_t start = 0; start < photos; start += 20) {
                std::vector<pupembed::GalleryImage> rows;
                std::vector<float> vectors;
                for (int64_t i = start; i < start + 20; ++i) {
                    const int64_t number = (i + offset) % photos;
                    rows.push_back(image(photo_path(number), "h" + std::to_string(number)));
                    const auto v = vector_of_photo(number, d);
                    vectors.insert(vectors.end(), v.begin(), v.end());
                }
                gallery.put(model, rows, vectors.data());
            }
        });
    };
    auto remover = guarded([&] {
        for (int round = 0; round < 40; ++round) {
            std::vector<int64_t> ids;
            for (const auto& row : shared.images())
                if (row.id % 7 == round % 7) ids.push_back(row.id);
            shared.remove(ids);
        }
    });
    auto reader = [&](pupembed::Gallery& gallery) {
        return guarded([&gallery, d] {
            for (int round = 0; round < 60; ++round) {
                std::vector<int64_t> ids;
                std::vector<float> values;
                gallery.vectors(ids, values);
                if (values.size() != ids.size() * size_t(d)) throw std::runtime_error("vectors() of a mixed state");
                const auto rows = gallery.images();
                for (const auto& row : rows) gallery.find(row.id);
                gallery.find_path(photo_path(round));
                gallery.size();
                gallery.generation();
                if (!ids.empty()) {
                    pupembed::search_gallery(gallery, vector_of_photo(round, d), 5, {ids[0]}, pupembed::IndexChoice::Exact);
                    pupembed::find_duplicates(gallery, 0.01);
                    gallery.vector(ids.back());
                }
            }
        });
    };
    std::vector<std::thread> threads;
    threads.emplace_back(adder(shared, 0));
    threads.emplace_back(adder(shared, photos / 2));
    threads.emplace_back(adder(second, photos / 4));
    threads.emplace_back(remover);
    threads.emplace_back(reader(shared));
    threads.emplace_back(reader(shared));
    threads.emplace_back(reader(second));
    for (auto& thread : threads) thread.join();
    EXPECT_EQ(failures.load(), 0) << first_failure;

    EXPECT_EQ(integrity_of(path), "ok");
    // Still a working gallery: every photo once more, then each row holds its own photo's vector.
    pupembed::Gallery reopened = pupembed::Gallery::open(path, false);
    std::thread last(adder(reopened, 0));
    last.join();
    EXPECT_EQ(failures.load(), 0) << first_failure;
    std::vector<int64_t> ids;
    std::vector<float> values;
    reopened.vectors(ids, values);
    const auto rows = reopened.images();
    ASSERT_EQ(rows.size(), ids.size());
    EXPECT_EQ(int64_t(rows.size()), photos);
    for (size_t i = 0; i < rows.size(); ++i) {
        const int64_t number = std::stoll(rows[i].content_hash.substr(1));
        EXPECT_EQ(rows[i].path, photo_path(number));
        const std::vector<float> stored(values.begin() + long(i) * d, values.begin() + long(i + 1) * d);
        EXPECT_EQ(stored, vector_of_photo(number, d)) << rows[i].path;
    }
}

// Issue 27: two `index add` runs into one gallery each re-wrote every photo the other had
// committed, counted it "updated" and spent ids. A photo already there with the same contents
// and model is left as it is, and keeps its id.
TEST(GallerySharing, PhotosAnotherHandleCommittedAreUnchangedAndKeepTheirIds) {
    TempDir dir;
    const std::string path = (dir / "g.db").string();
    pupembed::Gallery first = pupembed::Gallery::open(path, true);
    pupembed::Gallery second = pupembed::Gallery::open(path, true);
    const pupembed::GalleryModel model{"m", "/m.pt", 4};
    std::vector<pupembed::GalleryImage> rows{image("/a.jpg", "ha"), image("/b.jpg", "hb")};
    const std::vector<float> vectors{1, 0, 0, 0, 0, 1, 0, 0};
    const auto added = first.put(model, rows, vectors.data());
    EXPECT_EQ(added.added, 2);
    std::vector<pupembed::GalleryImage> again{image("/a.jpg", "ha"), image("/b.jpg", "hb"), image("/c.jpg", "hc")};
    const std::vector<float> more{1, 0, 0, 0, 0, 1, 0, 0, 0, 0, 1, 0};
    const int64_t generation = second.generation();
    const auto put = second.put(model, again, more.data());
    EXPECT_EQ(put.added, 1);
    EXPECT_EQ(put.updated, 0);
    EXPECT_EQ(put.unchanged, 2);
    EXPECT_EQ(again[0].id, rows[0].id);
    EXPECT_EQ(again[1].id, rows[1].id);
    EXPECT_EQ(again[2].id, rows[1].id + 1) << "no id is spent on a photo already there";
    // Nothing but unchanged photos: the generation (and so the search index) stays.
    const auto same = second.put(model, again, more.data());
    EXPECT_EQ(same.unchanged, 3);
    EXPECT_EQ(second.generation(), generation + 1);
    // A changed photo is updated in place.
    std::vector<pupembed::GalleryImage> changed{image("/a.jpg", "ha2")};
    EXPECT_EQ(first.put(model, changed, more.data()).updated, 1);
    EXPECT_EQ(changed[0].id, rows[0].id);
}

// Issue 27: `Gallery.add` after the file was deleted reported "added 50" into the unlinked file.
TEST(GallerySharing, WritesToADeletedOrReplacedFileAreRefused) {
    TempDir dir;
    const std::string path = (dir / "g.db").string();
    pupembed::Gallery gallery = pupembed::Gallery::open(path, true);
    const pupembed::GalleryModel model{"m", "/m.pt", 4};
    std::vector<pupembed::GalleryImage> rows{image("/a.jpg")};
    const std::vector<float> vector{1, 0, 0, 0};
    gallery.put(model, rows, vector.data());
    fs::remove(path);
    EXPECT_ERROR_CONTAINS(gallery.put(model, rows, vector.data()), "deleted or replaced since it was opened");
    EXPECT_ERROR_CONTAINS(gallery.remove({rows[0].id}), "deleted or replaced since it was opened");
    // Another gallery put in its place.
    { pupembed::Gallery::open((dir / "other.db").string(), true); }
    fs::rename(dir / "other.db", path);
    std::vector<pupembed::GalleryImage> more{image("/b.jpg")};
    EXPECT_ERROR_CONTAINS(gallery.put(model, more, vector.data()), "deleted or replaced since it was opened");
    EXPECT_FALSE(pupembed::Gallery::open(path, false).find_path("/b.jpg")) << "nothing was written to the new file";
}

// Issue 27: a gallery whose file (mode 444) or folder is read-only could not even be searched.
TEST(GallerySharing, ReadOnlyFileOrFolderIsQueriedNotChanged) {
    // The modes are for every user, since a test run by the superuser checks as nobody.
    TempDir dir;
    fs::permissions(dir.path(), fs::perms::all);
    const std::string path = (dir / "g.db").string();
    const int64_t d = 4;
    {
        pupembed::Gallery gallery = pupembed::Gallery::open(path, true);
        std::vector<pupembed::GalleryImage> rows{image("/a.jpg"), image("/b.jpg")};
        const std::vector<float> vectors{1, 0, 0, 0, 0, 1, 0, 0};
        gallery.put({"m", "/m.pt", d}, rows, vectors.data());
    }
    fs::permissions(path, fs::perms::owner_read | fs::perms::group_read | fs::perms::others_read);  // 444
    auto queries = [&](const std::string& reason) {
        pupembed::Gallery gallery = pupembed::Gallery::open(path, false);
        if (!gallery.read_only()) return std::string("not opened read-only");
        if (gallery.size() != 2) return "size " + std::to_string(gallery.size());
        const auto hits = pupembed::search_gallery(gallery, {0, 1, 0, 0}, 2, {}, pupembed::IndexChoice::Exact);
        if (hits.empty() || hits[0].image.path != "/b.jpg") return std::string("search found the wrong photo");
        if (pupembed::find_duplicates(gallery, 0.05).size() != 0) return std::string("duplicates");
        if (pupembed::search_gallery(gallery, {0, 1, 0, 0}, 2, {}, pupembed::IndexChoice::Hnsw).at(0).image.path != "/b.jpg")
            return std::string("HNSW search (its index file cannot be saved) found the wrong photo");
        std::vector<pupembed::GalleryImage> rows{image("/c.jpg")};
        const std::vector<float> vector{0, 0, 1, 0};
        std::string refusal = pupembed::testing::error_message_of([&] { gallery.put({"m", "/m.pt", d}, rows, vector.data()); });
        if (refusal.find("read-only gallery (" + reason + ")") == std::string::npos) return "put: " + refusal;
        refusal = pupembed::testing::error_message_of([&] { gallery.remove({1}); });
        if (refusal.find("read-only gallery") == std::string::npos) return "remove: " + refusal;
        return std::string();
    };
    EXPECT_EQ(as_unprivileged_user([&] { return queries("the file is not writable"); }), "");
    fs::permissions(path, fs::perms::owner_read | fs::perms::owner_write | fs::perms::group_read | fs::perms::group_write |
                              fs::perms::others_read | fs::perms::others_write);  // 666
    fs::permissions(dir.path(), fs::perms::owner_read | fs::perms::owner_exec | fs::perms::group_read | fs::perms::group_exec |
                                    fs::perms::others_read | fs::perms::others_exec);  // 555
    EXPECT_EQ(as_unprivileged_user([&] { return queries("its folder is not writable"); }), "");
    EXPECT_EQ(as_unprivileged_user([&] {
                  return pupembed::testing::error_message_of([&] { pupembed::Gallery::open((dir / "new.db").string(), true); });
              }),
              (dir / "new.db").string() + ": cannot make a gallery here: the folder is not writable");
    fs::permissions(dir.path(), fs::perms::owner_all);
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
        images.push_back(image("/" + std::to_string(i) + ".jpg"));
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
