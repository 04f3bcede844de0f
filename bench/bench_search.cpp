// Gallery search benchmark.
//   build/bench/bench_search [--exact-size 100000] [--hnsw-size 1000000] [--dimension 128]
//                            [--queries 1000] [--ef 128] [--links 16] [--ef-construction 128]
//                            [--ef-list 32,64,128] [--like EMBEDDINGS.npy] [--write-vectors PREFIX] [--json]
// Exact: per-query latency of a top-10 scan, one thread. HNSW: build time (all cores), memory,
// queries/s on one thread and Recall@10 against the exact answer.
//
// The vectors are random unit vectors unless --like names embeddings from `pupembed embed`
// (with their .tsv). Random vectors in 128 dimensions have no structure at all: every vector is
// nearly as far from a query as its nearest neighbour, the worst case for any approximate index.
// With --like, the HNSW vectors and queries are drawn instead from a Gaussian mixture fitted to
// real embeddings: one component per breed (the folder a photo is in) at that breed's mean, all
// with the pooled within-breed covariance, then normalised. That keeps the real embeddings'
// spread and their low-dimensional structure, which is what a large gallery of dogs looks like.
#include <omp.h>

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

#include <torch/torch.h>

#include <fstream>
#include <map>

#include "pupembed/core/clock.hpp"
#include "pupembed/core/error.hpp"
#include "pupembed/core/runtime.hpp"
#include "pupembed/gallery/vector_index.hpp"
#include "pupembed/io/npy.hpp"
#include "embedding_like.hpp"

namespace {

using pupembed::Clock;
using pupembed::seconds_since;

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

double percentile(std::vector<double> values, double p) {
    std::sort(values.begin(), values.end());
    return values[std::min(values.size() - 1, size_t(p * double(values.size())))];
}

const char* text_argument(int argc, char** argv, const char* name) {
    for (int i = 1; i + 1 < argc; ++i)
        if (std::strcmp(argv[i], name) == 0) return argv[i + 1];
    return nullptr;
}

int64_t argument(int argc, char** argv, const char* name, int64_t fallback) {
    const char* text = text_argument(argc, argv, name);
    return text ? std::atoll(text) : fallback;
}

}  // namespace

int main(int argc, char** argv) try {
    pupembed::configure_process(argv);
    const int cores = omp_get_max_threads();
    const char* like = text_argument(argc, argv, "--like");
    std::unique_ptr<pupembed::bench::EmbeddingLikeSampler> sampler;
    if (like) sampler = std::make_unique<pupembed::bench::EmbeddingLikeSampler>(like);
    const int64_t exact_size = argument(argc, argv, "--exact-size", 100000);
    const int64_t hnsw_size = argument(argc, argv, "--hnsw-size", 1000000);
    const int64_t d = sampler ? sampler->dimension() : argument(argc, argv, "--dimension", 128);
    const int64_t query_count = argument(argc, argv, "--queries", 1000);
    pupembed::HnswSettings hnsw;
    hnsw.links = int(argument(argc, argv, "--links", hnsw.links));
    hnsw.build_candidates = int(argument(argc, argv, "--ef-construction", hnsw.build_candidates));
    hnsw.search_candidates = int(argument(argc, argv, "--ef", hnsw.search_candidates));
    std::vector<int> ef_list;
    if (const char* list = text_argument(argc, argv, "--ef-list")) {
        for (const char* p = list; *p;) {
            ef_list.push_back(std::atoi(p));
            while (*p && *p != ',') ++p;
            if (*p == ',') ++p;
        }
    } else {
        ef_list = {hnsw.search_candidates / 2, hnsw.search_candidates, hnsw.search_candidates * 2};
    }
    bool json = false;
    for (int i = 1; i < argc; ++i) json = json || std::strcmp(argv[i], "--json") == 0;
    nlohmann::json out = {{"dimension", d}, {"k", 10}, {"queries", query_count},
                          {"hnsw_vectors", like ? std::string("embedding-like, fitted to ") + like : "random unit vectors"}};
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
        const auto data = sampler ? sampler->sample(hnsw_size, 2) : unit_vectors(hnsw_size, d, 2);
        const auto hnsw_queries = sampler ? sampler->sample(query_count, 99) : queries;
        if (const char* prefix = text_argument(argc, argv, "--write-vectors")) {
            // The same vectors for another program (e.g. to compare libraries): PREFIX-base.npy, PREFIX-queries.npy.
            pupembed::write_npy(std::string(prefix) + "-base.npy", {{hnsw_size, d}, data});
            pupembed::write_npy(std::string(prefix) + "-queries.npy", {{query_count, d}, hnsw_queries});
            std::fprintf(stderr, "wrote %s-base.npy and %s-queries.npy\n", prefix, prefix);
            return 0;
        }
        std::vector<int64_t> ids(static_cast<size_t>(hnsw_size));
        for (int64_t i = 0; i < hnsw_size; ++i) ids[size_t(i)] = i;
        omp_set_num_threads(cores);
        // Ground truth with the exact index (BLAS, all cores).
        pupembed::VectorIndex exact(d, pupembed::IndexKind::Exact);
        exact.add(data.data(), ids.data(), hnsw_size);
        auto start = Clock::now();
        const auto truth = exact.search(hnsw_queries.data(), query_count, 10);
        const double truth_seconds = seconds_since(start);
        std::fprintf(stderr, "building HNSW (M %d, efConstruction %d) over %lld vectors on %d threads...\n", hnsw.links,
                     hnsw.build_candidates, static_cast<long long>(hnsw_size), cores);
        start = Clock::now();
        pupembed::VectorIndex index(d, pupembed::IndexKind::Hnsw, hnsw);
        index.add(data.data(), ids.data(), hnsw_size);
        const double build_seconds = seconds_since(start);
        omp_set_num_threads(1);
        nlohmann::json sweep = nlohmann::json::array();
        for (const int ef : ef_list) {
            index.set_search_candidates(ef);
            start = Clock::now();
            std::vector<std::vector<pupembed::SearchHit>> hits;
            hits.reserve(size_t(query_count));
            for (int64_t q = 0; q < query_count; ++q) hits.push_back(index.search(hnsw_queries.data() + q * d, 1, 10)[0]);
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
                       {"index_mb", double(index.memory_bytes()) / 1e6},
                       {"vectors_mb", double(hnsw_size * d * 4) / 1e6},
                       {"exact_ground_truth_seconds", truth_seconds},
                       {"search", sweep}};
        std::fprintf(stderr,
                     "hnsw build (M %d, efConstruction %d): %.1f s on %d threads; index %.0f MB (the vectors alone: %.0f MB)\n",
                     hnsw.links, hnsw.build_candidates, build_seconds, cores, double(index.memory_bytes()) / 1e6,
                     double(hnsw_size * d * 4) / 1e6);
    }
    if (json) std::printf("%s\n", out.dump(2).c_str());
    return 0;
} catch (const std::exception& e) {
    std::fprintf(stderr, "bench_search: error: %s\n", e.what());
    return 1;
}
