// Gallery search on random unit vectors (the hardest case for approximate search: no clusters).
//   build/bench/bench_search [--exact-size 100000] [--hnsw-size 1000000] [--dimension 128]
//                            [--queries 1000] [--ef 128] [--links 32] [--ef-construction 80] [--json]
// Exact: per-query latency of a top-10 scan, one thread. HNSW: build time (all cores), memory,
// queries/s on one thread and Recall@10 against the exact answer.
#include <omp.h>
#include <sys/resource.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "pupembed/runtime.hpp"
#include "pupembed/vector_index.hpp"

namespace {

using Clock = std::chrono::steady_clock;
double seconds_since(Clock::time_point start) { return std::chrono::duration<double>(Clock::now() - start).count(); }

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
        const float scale = float(1.0 / std::sqrt(norm));
        for (int64_t j = 0; j < dimension; ++j) row[j] *= scale;
    }
    return values;
}

double max_rss_mb() {
    rusage usage{};
    getrusage(RUSAGE_SELF, &usage);
    return double(usage.ru_maxrss) / 1024.0;
}

double percentile(std::vector<double> values, double p) {
    std::sort(values.begin(), values.end());
    return values[std::min(values.size() - 1, size_t(p * double(values.size())))];
}

int64_t argument(int argc, char** argv, const char* name, int64_t fallback) {
    for (int i = 1; i + 1 < argc; ++i)
        if (std::strcmp(argv[i], name) == 0) return std::atoll(argv[i + 1]);
    return fallback;
}

}  // namespace

int main(int argc, char** argv) {
    pupembed::configure_process(argv);
    const int64_t exact_size = argument(argc, argv, "--exact-size", 100000);
    const int64_t hnsw_size = argument(argc, argv, "--hnsw-size", 1000000);
    const int64_t d = argument(argc, argv, "--dimension", 128);
    const int64_t query_count = argument(argc, argv, "--queries", 1000);
    pupembed::HnswSettings hnsw;
    hnsw.links = int(argument(argc, argv, "--links", 32));
    hnsw.build_candidates = int(argument(argc, argv, "--ef-construction", 80));
    hnsw.search_candidates = int(argument(argc, argv, "--ef", 128));
    bool json = false;
    for (int i = 1; i < argc; ++i) json = json || std::strcmp(argv[i], "--json") == 0;
    const int cores = omp_get_max_threads();
    nlohmann::json out = {{"dimension", d}, {"k", 10}, {"queries", query_count}};
    const auto queries = unit_vectors(query_count, d, 99);

    // Exact top-10 over exact_size vectors, one query at a time on one thread.
    if (exact_size > 0) {
        const auto data = unit_vectors(exact_size, d, 1);
        std::vector<int64_t> ids(static_cast<size_t>(exact_size));
        for (int64_t i = 0; i < exact_size; ++i) ids[size_t(i)] = i;
        pupembed::VectorIndex index(d, pupembed::IndexKind::Exact);
        index.add(data.data(), ids.data(), exact_size);
        omp_set_num_threads(1);
        index.search(queries.data(), 1, 10);  // warm-up
        std::vector<double> latencies;
        for (int64_t q = 0; q < query_count; ++q) {
            const auto start = Clock::now();
            index.search(queries.data() + q * d, 1, 10);
            latencies.push_back(seconds_since(start) * 1e3);
        }
        out["exact"] = {{"size", exact_size}, {"threads", 1}, {"median_ms", percentile(latencies, 0.5)},
                        {"p99_ms", percentile(latencies, 0.99)},
                        {"mean_ms", std::accumulate(latencies.begin(), latencies.end(), 0.0) / double(latencies.size())}};
        std::fprintf(stderr, "exact, %lld x %lld, 1 thread: median %.3f ms, p99 %.3f ms per top-10 query\n",
                     static_cast<long long>(exact_size), static_cast<long long>(d), percentile(latencies, 0.5),
                     percentile(latencies, 0.99));
    }

    // HNSW over hnsw_size vectors: build on all cores, then one thread for queries.
    if (hnsw_size > 0) {
        const auto data = unit_vectors(hnsw_size, d, 2);
        std::vector<int64_t> ids(static_cast<size_t>(hnsw_size));
        for (int64_t i = 0; i < hnsw_size; ++i) ids[size_t(i)] = i;
        omp_set_num_threads(cores);
        // Ground truth with the exact index (BLAS, all cores).
        pupembed::VectorIndex exact(d, pupembed::IndexKind::Exact);
        exact.add(data.data(), ids.data(), hnsw_size);
        auto start = Clock::now();
        const auto truth = exact.search(queries.data(), query_count, 10);
        const double truth_seconds = seconds_since(start);
        const double rss_before = max_rss_mb();
        start = Clock::now();
        pupembed::VectorIndex index(d, pupembed::IndexKind::Hnsw, hnsw);
        index.add(data.data(), ids.data(), hnsw_size);
        const double build_seconds = seconds_since(start);
        const double rss_after = max_rss_mb();
        omp_set_num_threads(1);
        nlohmann::json sweep = nlohmann::json::array();
        for (const int ef : {hnsw.search_candidates / 2, hnsw.search_candidates, hnsw.search_candidates * 2}) {
            index.set_search_candidates(ef);
            start = Clock::now();
            std::vector<std::vector<pupembed::SearchHit>> hits;
            hits.reserve(size_t(query_count));
            for (int64_t q = 0; q < query_count; ++q) hits.push_back(index.search(queries.data() + q * d, 1, 10)[0]);
            const double seconds = seconds_since(start);
            int64_t found = 0;
            for (int64_t q = 0; q < query_count; ++q)
                for (const auto& hit : hits[size_t(q)])
                    for (const auto& t : truth[size_t(q)]) found += hit.id == t.id;
            const double recall = double(found) / double(query_count * 10);
            const double qps = double(query_count) / seconds;
            sweep.push_back({{"ef_search", ef}, {"recall_at_10", recall}, {"queries_per_second", qps}});
            std::fprintf(stderr, "hnsw, %lld x %lld, efSearch %d, 1 thread: Recall@10 %.4f, %.0f queries/s\n",
                         static_cast<long long>(hnsw_size), static_cast<long long>(d), ef, recall, qps);
        }
        out["hnsw"] = {{"size", hnsw_size},
                       {"links", hnsw.links},
                       {"ef_construction", hnsw.build_candidates},
                       {"build_seconds", build_seconds},
                       {"build_threads", cores},
                       {"memory_mb_added", rss_after - rss_before},
                       {"vectors_mb", double(hnsw_size * d * 4) / 1e6},
                       {"exact_ground_truth_seconds", truth_seconds},
                       {"search", sweep}};
        std::fprintf(stderr, "hnsw build: %.1f s on %d threads; memory +%.0f MB (the vectors alone: %.0f MB)\n",
                     build_seconds, cores, rss_after - rss_before, double(hnsw_size * d * 4) / 1e6);
    }
    if (json) std::printf("%s\n", out.dump(2).c_str());
    return 0;
}
