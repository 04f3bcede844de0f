// The compressed IVF-PQ index of a gallery against exact search (and, with --compare, against
// exact and HNSW indexes held in memory), on a gallery of embedding-like vectors:
//   build/bench/bench_ivf --like EMBEDDINGS.npy [--size 1000000] [--queries 1000] [--dir DIR]
//                         [--probes-list 16,32,64] [--rerank-list 100] [--compare] [--keep-index]
//                         [--model MODEL.pt] [--json]
// --model records the gallery as made with that model (of the same embedding size), so that
// `pupembed serve` answers uploads on it (scripts/bench-big-gallery.sh).
// Makes DIR/like-SIZE.pupembed (rows from the sampler of embedding_like.hpp, put in bulk; kept
// for later runs), computes the exact top 10 of each query by brute force (kept beside it in
// DIR/like-SIZE.pupembed.truth-QUERIES for later runs), builds the gallery's
// IVF-PQ index through Gallery::index (vector file, training, adding: the timed build), opens it
// again as a fresh process would, and measures Recall@10 and queries/s one query at a time on
// one thread. Memory is the index's resident bytes (codes, row numbers, centroids); the float16
// vector file stays on disk and in the page cache.
#include <omp.h>

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "bench_vectors.hpp"
#include "embedding_like.hpp"
#include "pupembed/core/runtime.hpp"
#include "pupembed/gallery/gallery.hpp"
#include "pupembed/gallery/gallery_model.hpp"
#include "pupembed/model/model.hpp"
#include "pupembed/gallery/vector_index.hpp"
#include "pupembed/io/file_io.hpp"

namespace {

using namespace pupembed;
using bench::Clock;

constexpr int kK = 10;
constexpr int64_t kBlock = 100000;

std::vector<int> int_list(const char* text) {
    std::vector<int> values;
    for (const char* p = text; *p;) {
        values.push_back(std::atoi(p));
        while (*p && *p != ',') ++p;
        if (*p == ',') ++p;
    }
    return values;
}

/// Merges hits into the running top kK of one query.
void merge_top(std::vector<SearchHit>& top, const std::vector<SearchHit>& more) {
    top.insert(top.end(), more.begin(), more.end());
    std::sort(top.begin(), top.end(), [](const SearchHit& a, const SearchHit& b) { return a.similarity > b.similarity; });
    if (top.size() > size_t(kK)) top.resize(size_t(kK));
}

/// The exact top kK of each query as "id similarity" lines, kK a query.
void write_truth(const std::string& path, const std::vector<std::vector<SearchHit>>& truth) {
    std::string text;
    for (const auto& hits : truth)
        for (const auto& hit : hits) text += std::to_string(hit.id) + " " + std::to_string(hit.similarity) + "\n";
    write_file_atomically(path, text);
}

bool read_truth(const std::string& path, std::vector<std::vector<SearchHit>>& truth) {
    FILE* file = std::fopen(path.c_str(), "r");
    if (!file) return false;
    for (auto& hits : truth) {
        hits.resize(kK);
        for (auto& hit : hits) {
            long long id = 0;
            if (std::fscanf(file, "%lld %f", &id, &hit.similarity) != 2) {
                std::fclose(file);
                return false;
            }
            hit.id = id;
        }
    }
    std::fclose(file);
    return true;
}

struct Measured {
    double recall = 0, queries_per_second = 0;
};

Measured measure(const VectorIndex& index, const std::vector<float>& queries, int64_t count, int64_t d,
                 const std::vector<std::vector<SearchHit>>& truth) {
    omp_set_num_threads(1);
    index.search(queries.data(), 1, kK);  // warm-up
    const auto start = Clock::now();
    int64_t found = 0;
    std::vector<std::vector<SearchHit>> answers;
    for (int64_t q = 0; q < count; ++q) answers.push_back(index.search(queries.data() + q * d, 1, kK)[0]);
    const double seconds = bench::seconds(start);
    for (int64_t q = 0; q < count; ++q)
        for (const auto& hit : answers[size_t(q)])
            for (const auto& t : truth[size_t(q)]) found += hit.id == t.id;
    return {double(found) / double(count * kK), double(count) / seconds};
}

}  // namespace

int main(int argc, char** argv) try {
    configure_process(argv);
    const int cores = omp_get_max_threads();
    const char* like = bench::argument(argc, argv, "--like", nullptr);
    if (!like) throw Error("--like", "needed: embeddings from `pupembed embed` (e.g. of stanford-dogs-64/val) to shape the vectors");
    const int64_t size = std::atoll(bench::argument(argc, argv, "--size", "1000000"));
    const int64_t query_count = std::atoll(bench::argument(argc, argv, "--queries", "1000"));
    const std::string dir = bench::argument(argc, argv, "--dir", "bench-galleries");
    const auto probes_list = int_list(bench::argument(argc, argv, "--probes-list", "16,32,64"));
    const auto rerank_list = int_list(bench::argument(argc, argv, "--rerank-list", "100"));
    const IvfPqSettings settings;
    const bool compare = bench::flag(argc, argv, "--compare");

    const bench::EmbeddingLikeSampler sampler(like);
    const int64_t d = sampler.dimension();
    const auto queries = sampler.sample(query_count, 99);
    std::filesystem::create_directories(dir);
    const std::string path = dir + "/like-" + std::to_string(size) + ".pupembed";
    const bool made = std::filesystem::exists(path);
    nlohmann::json out = {{"vectors", size}, {"dimension", d}, {"queries", query_count}, {"k", kK}, {"gallery", path}};

    // The gallery (made once) and the exact top 10 by brute force, block by block.
    std::vector<std::vector<SearchHit>> truth(static_cast<size_t>(query_count));
    {
        Gallery gallery = Gallery::open(path, true);
        if (made && gallery.size() != size) throw Error(path, "exists with another size; remove it");
        GalleryModel model;
        model.id = std::string("embedding-like:") + like;
        model.path = like;
        model.dimension = d;
        if (const char* as_model = bench::argument(argc, argv, "--model", nullptr)) {
            // Recorded as that model's gallery, so that `pupembed serve` answers uploads on it.
            model = gallery_model_of(as_model, load_query_model(as_model, nullptr));
            if (model.dimension != d) throw Error(as_model, "embeds in " + std::to_string(model.dimension) + " values, the vectors have " + std::to_string(d));
        }
        // The exact answers, kept beside the gallery for later runs (they take minutes at 10M).
        const std::string truth_path = path + ".truth-" + std::to_string(query_count);
        const bool cached_truth = made && read_truth(truth_path, truth);
        auto start = Clock::now();
        double put_seconds = 0;
        for (int64_t first = 0; first < size; first += kBlock) {
            const int64_t count = std::min(kBlock, size - first);
            const auto values = sampler.sample(count, uint64_t(1000 + first / kBlock));
            std::vector<int64_t> ids(static_cast<size_t>(count));
            for (int64_t i = 0; i < count; ++i) ids[size_t(i)] = first + i + 1;  // the ids a new gallery gives
            if (made && cached_truth) break;
            if (!made) {
                const auto put_start = Clock::now();
                std::vector<GalleryImage> images(static_cast<size_t>(count));
                for (int64_t i = 0; i < count; ++i) {
                    images[size_t(i)].path = "/like/" + std::to_string(first + i) + ".jpg";
                    images[size_t(i)].content_hash = std::to_string(first + i);
                }
                gallery.put(model, images, values.data());
                for (int64_t i = 0; i < count; ++i)
                    if (images[size_t(i)].id != ids[size_t(i)]) throw Error(path, "unexpected ids");
                put_seconds += bench::seconds(put_start);
            }
            if (cached_truth) continue;
            VectorIndex block(d, IndexKind::Exact);
            block.add(values.data(), ids.data(), count);
            omp_set_num_threads(cores);
            const auto hits = block.search(queries.data(), query_count, kK);
            for (int64_t q = 0; q < query_count; ++q) merge_top(truth[size_t(q)], hits[size_t(q)]);
        }
        if (!cached_truth) write_truth(truth_path, truth);
        std::fprintf(stderr, "gallery %s: %lld rows of %lld values (%s); exact top 10 of %lld queries in %.0f s\n", path.c_str(),
                     static_cast<long long>(size), static_cast<long long>(d),
                     made ? "made before" : ("put in " + std::to_string(int(put_seconds)) + " s").c_str(),
                     static_cast<long long>(query_count), bench::seconds(start));
    }

    // The build, timed as a user meets it: the first IVF-PQ search of a gallery without its files
    // (--keep-index: the files of an earlier run, to measure searches alone).
    if (!bench::flag(argc, argv, "--keep-index")) {
        std::filesystem::remove(path + ".ivfpq");
        std::filesystem::remove(path + ".vectors");
        omp_set_num_threads(cores);
        Gallery gallery = Gallery::open(path, false);
        const auto start = Clock::now();
        const auto index = gallery.index(IndexKind::IvfPq, {}, settings);
        const double build_seconds = bench::seconds(start);
        out["ivfpq_build"] = {{"seconds", build_seconds}, {"threads", cores}, {"steps", gallery.index_origin()}};
        std::fprintf(stderr, "ivfpq build: %.1f s on %d threads (%s)\n", build_seconds, cores, gallery.index_origin().c_str());
    }
    Gallery::open(path, false).set_chosen_index("ivfpq");  // what `serve` and --index auto then use
    const auto open_start = Clock::now();
    Gallery gallery = Gallery::open(path, false);
    const auto index = gallery.index(IndexKind::IvfPq, {}, settings);
    const double open_seconds = bench::seconds(open_start);
    const double bytes_per_vector = double(index->memory_bytes()) / double(size);
    const auto file_mb = [](const std::string& file) { return double(std::filesystem::file_size(file)) / 1e6; };
    out["ivfpq"] = {{"open_seconds", open_seconds},
                    {"memory_bytes_per_vector", bytes_per_vector},
                    {"memory_mb", double(index->memory_bytes()) / 1e6},
                    {"index_file_mb", file_mb(path + ".ivfpq")},
                    {"vector_file_mb", file_mb(path + ".vectors")}};
    std::fprintf(stderr, "ivfpq opened in %.1f s: %.1f bytes a vector in memory (%.0f MB); files %.0f MB (codes) and %.0f MB (float16 vectors)\n",
                 open_seconds, bytes_per_vector, double(index->memory_bytes()) / 1e6, file_mb(path + ".ivfpq"),
                 file_mb(path + ".vectors"));
    nlohmann::json sweep = nlohmann::json::array();
    for (const int rerank : rerank_list)
        for (const int probes : probes_list) {
            const auto tuned = index->with_ivf_search(probes, rerank);
            const Measured m = measure(*tuned, queries, query_count, d, truth);
            sweep.push_back({{"probes", probes}, {"rerank", rerank}, {"recall_at_10", m.recall}, {"queries_per_second", m.queries_per_second}});
            std::fprintf(stderr, "ivfpq, %lld x %lld, probes %d, re-rank %d, 1 thread: Recall@10 %.4f, %.0f queries/s\n",
                         static_cast<long long>(size), static_cast<long long>(d), probes, rerank, m.recall, m.queries_per_second);
        }
    out["ivfpq"]["search"] = sweep;

    if (compare) {  // the in-memory indexes over the same vectors
        std::vector<float> values;
        std::vector<int64_t> ids;
        for (int64_t first = 0; first < size; first += kBlock) {
            const int64_t count = std::min(kBlock, size - first);
            const auto block = sampler.sample(count, uint64_t(1000 + first / kBlock));
            values.insert(values.end(), block.begin(), block.end());
            for (int64_t i = 0; i < count; ++i) ids.push_back(first + i + 1);
        }
        for (const IndexKind kind : {IndexKind::Exact, IndexKind::Hnsw}) {
            omp_set_num_threads(cores);
            const auto start = Clock::now();
            VectorIndex other(d, kind);
            other.add(values.data(), ids.data(), size);
            const double build_seconds = bench::seconds(start);
            const Measured m = measure(other, queries, query_count, d, truth);
            out[index_kind_name(kind)] = {{"build_seconds", build_seconds},
                                          {"memory_bytes_per_vector", double(other.memory_bytes()) / double(size)},
                                          {"recall_at_10", m.recall},
                                          {"queries_per_second", m.queries_per_second}};
            std::fprintf(stderr, "%s, %lld x %lld, 1 thread: Recall@10 %.4f, %.0f queries/s; %.0f bytes a vector in memory; built in %.1f s\n",
                         index_kind_name(kind).c_str(), static_cast<long long>(size), static_cast<long long>(d), m.recall,
                         m.queries_per_second, double(other.memory_bytes()) / double(size), build_seconds);
        }
    }
    if (bench::flag(argc, argv, "--json")) std::printf("%s\n", out.dump(2).c_str());
    return 0;
} catch (const std::exception& e) {
    std::fprintf(stderr, "bench_ivf: error: %s\n", e.what());
    return 1;
}
