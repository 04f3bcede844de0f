// Many queries at once against a loop of single searches, through the library call every front
// end uses (search_vectors: the Python module's Gallery.search(X, k), the server, the command).
//   build/bench/bench_batch_search [--photos 100000] [--queries 1000] [--dimension 248] [-k 10]
//                                  [--rounds 3] [--index exact|hnsw] [--keep GALLERY] [--json]
// A gallery of --photos embedding-like vectors (unit vectors around 120 breed centres) is written
// to a temporary file (to GALLERY with --keep, for bench/python_batch_search.py); then, alternately in each round: the queries one call each (a loop), and
// all of them in one call, on one thread and on every core. The answers must be the same ids.
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <random>
#include <string>
#include <thread>
#include <unistd.h>
#include <vector>

#include <nlohmann/json.hpp>

#include "bench_vectors.hpp"
#include "pupembed/core/error.hpp"
#include "pupembed/core/runtime.hpp"
#include "pupembed/gallery/gallery.hpp"
#include "pupembed/gallery/search.hpp"
#include "pupembed/model/threads.hpp"

using pupembed::bench::argument;
using pupembed::bench::Clock;
using pupembed::bench::embedding_like;
using pupembed::bench::seconds;

int main(int argc, char** argv) try {
    pupembed::configure_process(argv);
    const int64_t photos = std::atoll(argument(argc, argv, "--photos", "100000"));
    const int64_t queries = std::atoll(argument(argc, argv, "--queries", "1000"));
    const int64_t d = std::atoll(argument(argc, argv, "--dimension", "248"));
    const int k = std::atoi(argument(argc, argv, "-k", "10"));
    const int rounds = std::atoi(argument(argc, argv, "--rounds", "3"));
    const std::string index = argument(argc, argv, "--index", "exact");
    const std::string keep = argument(argc, argv, "--keep", "");
    const bool json = pupembed::bench::flag(argc, argv, "--json");
    if (photos < 1 || queries < 1 || d < 1 || k < 1 || rounds < 1) throw pupembed::Error("every count must be positive");

    std::mt19937_64 rng(7);
    const std::vector<float> centres = pupembed::bench::breed_centres(d, rng);
    const std::string path =
        keep.empty() ? (std::filesystem::temp_directory_path() / ("bench_batch_search_" + std::to_string(::getpid()) + ".db")).string()
                     : keep;
    if (std::filesystem::exists(path)) throw pupembed::Error(path, "exists already; the benchmark makes its own gallery");
    pupembed::Gallery gallery = pupembed::Gallery::open(path, true);
    const auto made = Clock::now();
    for (int64_t first = 0; first < photos; first += 10000) {
        const int64_t count = std::min<int64_t>(10000, photos - first);
        std::vector<pupembed::GalleryImage> rows(static_cast<size_t>(count));
        for (int64_t i = 0; i < count; ++i) {
            rows[size_t(i)].path = "/bench/" + std::to_string(first + i) + ".jpg";
            rows[size_t(i)].content_hash = std::to_string(first + i);
        }
        const std::vector<float> vectors = embedding_like(count, d, centres, rng);
        gallery.put({"bench", "/bench/model.pt", d, 0}, rows, vectors.data());
    }
    const double make_seconds = seconds(made);
    const std::vector<float> query_values = embedding_like(queries, d, centres, rng);
    pupembed::SearchParameters parameters;
    parameters.k = k;
    parameters.index = pupembed::index_choice_from_name(index);
    const pupembed::FloatRows all{queries, d, query_values};
    (void)pupembed::search_vectors(gallery, all, parameters);  // the index snapshot, made once

    const int cores = int(std::max(1u, std::thread::hardware_concurrency()));
    std::vector<double> loop_rates, batch_one_rates, batch_all_rates;
    bool same = true;
    for (int round = 0; round < rounds; ++round) {
        pupembed::set_thread_count(1);
        auto start = Clock::now();
        std::vector<int64_t> loop_ids;
        for (int64_t q = 0; q < queries; ++q) {
            const pupembed::FloatRows one{1, d, std::vector<float>(all.row(q), all.row(q) + d)};
            const auto nearest = pupembed::search_vectors(gallery, one, parameters);
            loop_ids.insert(loop_ids.end(), nearest.ids.begin(), nearest.ids.end());
        }
        loop_rates.push_back(double(queries) / seconds(start));

        start = Clock::now();
        const auto batch_one = pupembed::search_vectors(gallery, all, parameters);
        batch_one_rates.push_back(double(queries) / seconds(start));

        pupembed::set_thread_count(cores);
        start = Clock::now();
        const auto batch_all = pupembed::search_vectors(gallery, all, parameters);
        batch_all_rates.push_back(double(queries) / seconds(start));
        same = same && batch_one.ids == loop_ids && batch_all.ids == loop_ids;
    }
    if (keep.empty()) {
        std::filesystem::remove(path);
        std::filesystem::remove(path + ".index");
    }
    auto median = [](std::vector<double> values) {
        std::sort(values.begin(), values.end());
        return values[values.size() / 2];
    };
    const double loop = median(loop_rates), batch_one = median(batch_one_rates), batch_all = median(batch_all_rates);
    if (json) {
        std::printf("%s\n", nlohmann::json{{"photos", photos},
                                           {"queries", queries},
                                           {"dimension", d},
                                           {"k", k},
                                           {"index", index},
                                           {"rounds", rounds},
                                           {"cores", cores},
                                           {"loop_queries_per_second", loop_rates},
                                           {"batch_one_thread_queries_per_second", batch_one_rates},
                                           {"batch_queries_per_second", batch_all_rates},
                                           {"speedup_one_thread", batch_one / loop},
                                           {"speedup", batch_all / loop},
                                           {"same_answers", same}}
                                .dump()
                                .c_str());
    } else {
        std::printf("gallery: %lld photos of %lld-d vectors (made in %.1f s), %lld queries, k %d, %s index, median of %d rounds\n",
                    static_cast<long long>(photos), static_cast<long long>(d), make_seconds, static_cast<long long>(queries), k,
                    index.c_str(), rounds);
        std::printf("  a loop of single searches (1 thread):  %8.0f queries/s\n", loop);
        std::printf("  one batch search, 1 thread:            %8.0f queries/s  (%.1fx)\n", batch_one, batch_one / loop);
        std::printf("  one batch search, %d threads:           %8.0f queries/s  (%.1fx)\n", cores, batch_all, batch_all / loop);
        std::printf("  same answers: %s\n", same ? "yes" : "NO");
    }
    return same ? 0 : 1;
} catch (const std::exception& e) {
    std::fprintf(stderr, "bench_batch_search: error: %s\n", e.what());
    return 1;
}
