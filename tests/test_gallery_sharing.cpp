// A gallery shared: by threads of one process (one Gallery), by two handles on one file (as two
// processes have), with a file deleted or replaced under it, and read-only: issue 27's defects.
// It needs only the gallery's own code, so the clang tree (fuzz/) runs it under ThreadSanitizer too.
#include <gtest/gtest.h>
#include <sqlite3.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cmath>
#include <filesystem>
#include <functional>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "pupembed/core/error.hpp"
#include "pupembed/gallery/gallery.hpp"
#include "pupembed/gallery/vector_index.hpp"
#include "test_support.hpp"

namespace fs = std::filesystem;
using pupembed::testing::gallery_row;
using pupembed::testing::TempDir;

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
        return guarded([&gallery, &model, offset] {
            for (int64_t start = 0; start < photos; start += 20) {
                std::vector<pupembed::GalleryImage> rows;
                std::vector<float> vectors;
                for (int64_t i = start; i < start + 20; ++i) {
                    const int64_t number = (i + offset) % photos;
                    rows.push_back(gallery_row(photo_path(number), "h" + std::to_string(number)));
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
        return guarded([&gallery] {
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
                    // A search on the index snapshot, as the library's queries and the server make it.
                    const auto index = gallery.index(round % 20 == 0 ? pupembed::IndexKind::Hnsw : pupembed::IndexKind::Exact);
                    const auto hits = index->search(vector_of_photo(round, d).data(), 1, 5, {ids[0]});
                    for (const auto& hit : hits.at(0)) gallery.find(hit.id);
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
    std::vector<pupembed::GalleryImage> rows{gallery_row("/a.jpg", "ha"), gallery_row("/b.jpg", "hb")};
    const std::vector<float> vectors{1, 0, 0, 0, 0, 1, 0, 0};
    const auto added = first.put(model, rows, vectors.data());
    EXPECT_EQ(added.added, 2);
    std::vector<pupembed::GalleryImage> again{gallery_row("/a.jpg", "ha"), gallery_row("/b.jpg", "hb"), gallery_row("/c.jpg", "hc")};
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
    std::vector<pupembed::GalleryImage> changed{gallery_row("/a.jpg", "ha2")};
    EXPECT_EQ(first.put(model, changed, more.data()).updated, 1);
    EXPECT_EQ(changed[0].id, rows[0].id);
}

// Issue 27: `Gallery.add` after the file was deleted reported "added 50" into the unlinked file.
TEST(GallerySharing, WritesToADeletedOrReplacedFileAreRefused) {
    TempDir dir;
    const std::string path = (dir / "g.db").string();
    pupembed::Gallery gallery = pupembed::Gallery::open(path, true);
    const pupembed::GalleryModel model{"m", "/m.pt", 4};
    std::vector<pupembed::GalleryImage> rows{gallery_row("/a.jpg")};
    const std::vector<float> vector{1, 0, 0, 0};
    gallery.put(model, rows, vector.data());
    fs::remove(path);
    EXPECT_ERROR_CONTAINS(gallery.put(model, rows, vector.data()), "deleted or replaced since it was opened");
    EXPECT_ERROR_CONTAINS(gallery.remove({rows[0].id}), "deleted or replaced since it was opened");
    // Another gallery put in its place.
    { pupembed::Gallery::open((dir / "other.db").string(), true); }
    fs::rename(dir / "other.db", path);
    std::vector<pupembed::GalleryImage> more{gallery_row("/b.jpg")};
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
        std::vector<pupembed::GalleryImage> rows{gallery_row("/a.jpg"), gallery_row("/b.jpg")};
        const std::vector<float> vectors{1, 0, 0, 0, 0, 1, 0, 0};
        gallery.put({"m", "/m.pt", d}, rows, vectors.data());
    }
    fs::permissions(path, fs::perms::owner_read | fs::perms::group_read | fs::perms::others_read);  // 444
    auto queries = [&](const std::string& reason) {
        pupembed::Gallery gallery = pupembed::Gallery::open(path, false);
        if (!gallery.read_only()) return std::string("not opened read-only");
        if (gallery.size() != 2) return "size " + std::to_string(gallery.size());
        const std::vector<float> query{0, 1, 0, 0};
        for (const auto kind : {pupembed::IndexKind::Exact, pupembed::IndexKind::Hnsw}) {  // HNSW: its file cannot be saved
            const auto hits = gallery.index(kind)->search(query.data(), 1, 2, {}).at(0);
            if (hits.empty() || gallery.find(hits[0].id)->path != "/b.jpg") return std::string("search found the wrong photo");
        }
        std::vector<int64_t> ids;
        std::vector<float> values;
        gallery.vectors(ids, values);
        if (values.size() != 8) return std::string("vectors");
        std::vector<pupembed::GalleryImage> rows{gallery_row("/c.jpg")};
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
