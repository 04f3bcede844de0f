// `pupembed index import` of a large generated job, through the library call the command makes:
//   build/bench/bench_job_import [--photos 1000000] [--shard-size 10000] [--queries 100] [--cold]
//                                [--unsorted] [--model M] [--keep DIR]
// (1) a job folder of --photos generated rows in shards (embedding-like unit vectors of the
//     model's dimension, made-up paths and hashes; open_embedding_job with the model file, then
//     write_job_shard), not timed; the paths in sorted order as a listing gives them (--unsorted:
//     1, 10, 100, ..., 2, an order in which the gallery's path index takes them at random places);
// (2) import_embedding_job into a new gallery, timed (with --cold, after dropping the page cache:
//     root only);
// (3) the same rows put into a second gallery the way `index add` writes them (Gallery::put, a
//     batch of 64 rows a transaction), timed;
// (4) the two galleries compared: the same ids, paths, hashes and vectors (every 97th row), and
//     the same answers (ids and distances) to --queries exact searches.
// Disk: about 3.5 GB at 1,000,000 rows (the job and two galleries), removed at the end.
#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <random>
#include <string>
#include <unistd.h>
#include <vector>

#include "bench_vectors.hpp"
#include "pupembed/core/error.hpp"
#include "pupembed/core/runtime.hpp"
#include "pupembed/gallery/gallery.hpp"
#include "pupembed/gallery/gallery_model.hpp"
#include "pupembed/gallery/job_import.hpp"
#include "pupembed/gallery/search.hpp"
#include "pupembed/inference/embedding_job.hpp"
#include "pupembed/model/model.hpp"

namespace fs = std::filesystem;
using pupembed::bench::argument;
using pupembed::bench::Clock;
using pupembed::bench::seconds;

namespace {

constexpr int64_t kIndexAddBatch = 64;  // index add's default --batch: one put per network batch

std::string hex_of(uint64_t value) {
    static const char digits[] = "0123456789abcdef";
    std::string out(64, '0');
    for (int i = 63; i >= 0 && value; --i, value >>= 4) out[size_t(i)] = digits[value & 15];
    return out;
}

/// Shard `shard` of `job` as generated rows: the job's photos, made-up hashes and sizes, vectors
/// from `rng`.
pupembed::JobShard generated_shard(const pupembed::EmbeddingJob& job, int64_t shard, const std::vector<float>& centres,
                                   std::mt19937_64& rng) {
    pupembed::JobShard rows;
    rows.paths = job.shard_photos(shard);
    const int64_t n = int64_t(rows.paths.size());
    for (int64_t i = 0; i < n; ++i) {
        rows.sha256s.push_back(hex_of(rng()));
        rows.file_sizes.push_back(20000 + int64_t(rng() % 100000));
        rows.widths.push_back(500);
        rows.heights.push_back(375);
        rows.breeds.push_back("breed " + std::to_string(rng() % 120));
        rows.breed_probabilities.push_back(double(rng() % 1000) / 1000.0);
    }
    rows.vectors = pupembed::FloatRows{n, job.dimension, pupembed::bench::embedding_like(n, job.dimension, centres, rng)};
    return rows;
}

}  // namespace

int main(int argc, char** argv) try {
    pupembed::configure_process(argv);
    std::setvbuf(stdout, nullptr, _IOLBF, 0);  // a line at a time, also into a log
    const int64_t photos = std::atoll(argument(argc, argv, "--photos", "1000000"));
    const int64_t shard_size = std::atoll(argument(argc, argv, "--shard-size", "10000"));
    const int64_t queries = std::atoll(argument(argc, argv, "--queries", "100"));
    const bool cold = pupembed::bench::flag(argc, argv, "--cold");
    const bool unsorted = pupembed::bench::flag(argc, argv, "--unsorted");
    const std::string model_path = pupembed::model_path_or_default(argument(argc, argv, "--model", ""));
    const std::string keep = argument(argc, argv, "--keep", "");
    if (photos < 1 || shard_size < 1 || queries < 1) throw pupembed::Error("every count must be positive");
    const fs::path folder = keep.empty() ? fs::temp_directory_path() / ("bench-job-import-" + std::to_string(::getpid())) : fs::path(keep);
    if (fs::exists(folder)) throw pupembed::Error(folder.string(), "exists already; the benchmark makes its own");
    fs::create_directories(folder);

    // (1) The job.
    const pupembed::Model model = pupembed::load_model_for_inference(model_path);
    std::vector<std::string> paths(static_cast<size_t>(photos));
    for (int64_t i = 0; i < photos; ++i) {  // in sorted order, as a folder's photos are listed, unless --unsorted
        char name[64];
        std::snprintf(name, sizeof(name), unsorted ? "/photos/generated/%lld.jpg" : "/photos/generated/%09lld.jpg",
                      static_cast<long long>(i));
        paths[size_t(i)] = name;
    }
    auto start = Clock::now();
    pupembed::JobSettings settings;
    settings.shard_size = shard_size;
    const pupembed::EmbeddingJob job = pupembed::open_embedding_job((folder / "job").string(), paths, model_path, model, settings);
    std::mt19937_64 rng(11);
    const std::vector<float> centres = pupembed::bench::breed_centres(job.dimension, rng);
    for (int64_t shard = 0; shard < job.shard_count; ++shard)
        pupembed::write_job_shard(job, shard, generated_shard(job, shard, centres, rng));
    std::printf("job: %lld rows of %lld values in %lld shards of %lld, written in %.1f s\n", static_cast<long long>(photos),
                static_cast<long long>(job.dimension), static_cast<long long>(job.shard_count),
                static_cast<long long>(shard_size), seconds(start));

    // (2) index import.
    if (cold) {
        ::sync();
        std::ofstream("/proc/sys/vm/drop_caches") << "3\n";
    }
    const std::string imported_path = (folder / "imported.db").string();
    pupembed::Gallery imported = pupembed::Gallery::open(imported_path, true);
    const pupembed::JobImportReport report = pupembed::import_embedding_job(imported, (folder / "job").string());
    std::printf("index import%s: %lld rows in %.1f s: %.0f rows/s (%lld shards, %lld added)\n", cold ? " (cold page cache)" : "",
                static_cast<long long>(report.rows), report.seconds, double(report.rows) / report.seconds,
                static_cast<long long>(report.shards), static_cast<long long>(report.added));

    // (3) The same rows the way index add writes them.
    const std::string added_path = (folder / "added.db").string();
    pupembed::Gallery added = pupembed::Gallery::open(added_path, true);
    const pupembed::GalleryModel identity = pupembed::gallery_model_of(model_path, model);
    double put_seconds = 0, read_seconds = 0;
    for (int64_t shard = 0; shard < job.shard_count; ++shard) {
        start = Clock::now();
        const pupembed::JobShard rows = pupembed::read_job_shard(job, shard);
        read_seconds += seconds(start);
        start = Clock::now();
        const int64_t n = int64_t(rows.paths.size());
        for (int64_t first = 0; first < n; first += kIndexAddBatch) {
            std::vector<pupembed::GalleryImage> images;
            for (int64_t i = first; i < std::min(n, first + kIndexAddBatch); ++i) {
                pupembed::GalleryImage image;
                image.path = rows.paths[size_t(i)];
                image.content_hash = rows.sha256s[size_t(i)];
                image.file_size = rows.file_sizes[size_t(i)];
                image.width = rows.widths[size_t(i)];
                image.height = rows.heights[size_t(i)];
                image.breed = rows.breeds[size_t(i)];
                image.breed_probability = rows.breed_probabilities[size_t(i)];
                images.push_back(std::move(image));
            }
            added.put(identity, images, rows.vectors.row(first));
        }
        put_seconds += seconds(start);
    }
    std::printf("index add's writes (a put of %lld rows a transaction, no network): %.1f s: %.0f rows/s (reading the shards "
                "again: %.1f s)\n",
                static_cast<long long>(kIndexAddBatch), put_seconds, double(photos) / put_seconds, read_seconds);

    // (4) The same gallery.
    bool same = imported.size() == added.size() && imported.model().id == added.model().id &&
                imported.model().large_input_size == added.model().large_input_size;
    int64_t compared = 0;
    for (int64_t id = 1; id <= photos && same; id += 97, ++compared) {
        const auto a = imported.find(id), b = added.find(id);
        same = a && b && a->path == b->path && a->content_hash == b->content_hash && a->breed == b->breed &&
               imported.vector(id) == added.vector(id);
    }
    const pupembed::FloatRows query_rows{queries, job.dimension,
                                         pupembed::bench::embedding_like(queries, job.dimension, centres, rng)};
    pupembed::SearchParameters parameters;
    parameters.k = 10;
    parameters.index = pupembed::IndexChoice::Exact;  // the answers to compare, not an HNSW graph's build
    start = Clock::now();
    const pupembed::NearestIds from_import = pupembed::search_vectors(imported, query_rows, parameters);
    const double search_seconds = seconds(start);
    const pupembed::NearestIds from_add = pupembed::search_vectors(added, query_rows, parameters);
    bool same_answers = from_import.ids == from_add.ids;
    for (size_t i = 0; i < from_import.distances.size() && same_answers; ++i)
        same_answers = std::abs(from_import.distances[i] - from_add.distances[i]) <= 1e-6f;
    std::printf("the same gallery: %s (size, model, %lld rows' ids, paths, hashes, breeds and vectors); the same answers to "
                "%lld exact searches, k = 10: %s (%.1f s, the first loading the gallery)\n",
                same ? "yes" : "NO", static_cast<long long>(compared), static_cast<long long>(queries),
                same_answers ? "yes" : "NO", search_seconds);
    if (keep.empty()) fs::remove_all(folder);
    return same && same_answers ? 0 : 1;
} catch (const std::exception& e) {
    std::fprintf(stderr, "bench_job_import: %s\n", e.what());
    return 1;
}
