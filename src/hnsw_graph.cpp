#include "hnsw_graph.hpp"

#include <hnswlib/hnswlib.h>
#include <immintrin.h>
#include <omp.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <filesystem>

#include "pupembed/error.hpp"
#include "pupembed/file_io.hpp"

namespace fs = std::filesystem;

namespace pupembed {
namespace {

__attribute__((target("avx2,fma"))) float dot_avx2(const float* a, const float* b, size_t d) {
    __m256 acc0 = _mm256_setzero_ps(), acc1 = _mm256_setzero_ps();
    size_t j = 0;
    for (; j + 16 <= d; j += 16) {
        acc0 = _mm256_fmadd_ps(_mm256_loadu_ps(a + j), _mm256_loadu_ps(b + j), acc0);
        acc1 = _mm256_fmadd_ps(_mm256_loadu_ps(a + j + 8), _mm256_loadu_ps(b + j + 8), acc1);
    }
    __m256 acc = _mm256_add_ps(acc0, acc1);
    __m128 s = _mm_add_ps(_mm256_castps256_ps128(acc), _mm256_extractf128_ps(acc, 1));
    s = _mm_hadd_ps(s, s);
    s = _mm_hadd_ps(s, s);
    float sum = _mm_cvtss_f32(s);
    for (; j < d; ++j) sum += a[j] * b[j];
    return sum;
}

float dot_plain(const float* a, const float* b, size_t d) {
    float sum = 0;
    for (size_t j = 0; j < d; ++j) sum += a[j] * b[j];
    return sum;
}

bool cpu_has_avx2_fma() {
    static const bool has = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
    return has;
}

// hnswlib wants a distance (smaller: nearer): 1 - inner product.
float distance_avx2(const void* a, const void* b, const void* d) {
    return 1.0f - dot_avx2(static_cast<const float*>(a), static_cast<const float*>(b), *static_cast<const size_t*>(d));
}
float distance_plain(const void* a, const void* b, const void* d) {
    return 1.0f - dot_plain(static_cast<const float*>(a), static_cast<const float*>(b), *static_cast<const size_t*>(d));
}

class InnerProductSpace : public hnswlib::SpaceInterface<float> {
public:
    explicit InnerProductSpace(size_t dimension) : dimension_(dimension) {}
    size_t get_data_size() override { return dimension_ * sizeof(float); }
    hnswlib::DISTFUNC<float> get_dist_func() override { return cpu_has_avx2_fma() ? distance_avx2 : distance_plain; }
    void* get_dist_func_param() override { return &dimension_; }

private:
    size_t dimension_;
};

// hnswlib reads and writes files only: a temporary file stands between it and bytes.
class TemporaryFile {
public:
    TemporaryFile() {
        path_ = (fs::temp_directory_path() / ("pupembed-hnsw-" + std::to_string(getpid()) + "-" +
                                              std::to_string(counter_++)))
                    .string();
    }
    ~TemporaryFile() {
        std::error_code ignored;
        fs::remove(path_, ignored);
    }
    const std::string& path() const { return path_; }

private:
    static std::atomic<int> counter_;
    std::string path_;
};
std::atomic<int> TemporaryFile::counter_{0};

}  // namespace

struct HnswGraph::State {
    InnerProductSpace space;
    std::unique_ptr<hnswlib::HierarchicalNSW<float>> graph;
    int links, build_candidates, search_candidates;
    State(size_t dimension, int m, int ef_construction, int ef)
        : space(dimension), links(m), build_candidates(ef_construction), search_candidates(ef) {}
};

HnswGraph::HnswGraph(int64_t dimension, int links, int build_candidates, int search_candidates)
    : state_(std::make_unique<State>(size_t(dimension), std::max(2, links), std::max(1, build_candidates),
                                     std::max(1, search_candidates))),
      dimension_(dimension) {}

HnswGraph::~HnswGraph() = default;

bool HnswGraph::accelerated() { return cpu_has_avx2_fma(); }

void HnswGraph::add(const float* vectors, const int64_t* ids, int64_t count) {
    if (count <= 0) return;
    auto& graph = state_->graph;
    const size_t needed = size_t(size() + count);
    if (!graph) {
        graph = std::make_unique<hnswlib::HierarchicalNSW<float>>(&state_->space, needed, size_t(state_->links),
                                                                  size_t(state_->build_candidates), 100);
        graph->setEf(size_t(state_->search_candidates));
    } else if (graph->max_elements_ < needed) {
        graph->resizeIndex(needed);
    }
    // The first point alone (it becomes the entry point), then the rest on all threads.
    int64_t first = 0;
    if (graph->cur_element_count == 0) {
        graph->addPoint(vectors, size_t(ids[0]));
        first = 1;
    }
    std::exception_ptr failure;
#pragma omp parallel for schedule(dynamic, 256)
    for (int64_t i = first; i < count; ++i) {
        try {
            graph->addPoint(vectors + i * dimension_, size_t(ids[i]));
        } catch (...) {
#pragma omp critical
            failure = std::current_exception();
        }
    }
    if (failure) std::rethrow_exception(failure);
}

std::vector<std::pair<int64_t, float>> HnswGraph::search(const float* query, int k) const {
    std::vector<std::pair<int64_t, float>> hits;
    if (!state_->graph || state_->graph->cur_element_count == 0 || k <= 0) return hits;
    auto found = state_->graph->searchKnn(query, size_t(k));
    hits.resize(found.size());
    for (size_t i = found.size(); i-- > 0; found.pop()) hits[i] = {int64_t(found.top().second), 1.0f - found.top().first};
    return hits;
}

int64_t HnswGraph::size() const { return state_->graph ? int64_t(state_->graph->cur_element_count) : 0; }

void HnswGraph::set_search_candidates(int candidates) {
    state_->search_candidates = std::max(1, candidates);
    if (state_->graph) state_->graph->setEf(size_t(state_->search_candidates));
}

int64_t HnswGraph::memory_bytes() const {
    const auto* g = state_->graph.get();
    if (!g) return 0;
    int64_t bytes = int64_t(g->max_elements_ * g->size_data_per_element_);  // level 0: vector, links, id
    for (size_t i = 0; i < g->cur_element_count; ++i)
        bytes += int64_t(g->element_levels_[i]) * int64_t(g->size_links_per_element_);
    bytes += int64_t(g->label_lookup_.size() * (sizeof(size_t) + sizeof(unsigned int) + 16));  // hash table, roughly
    return bytes;
}

std::string HnswGraph::serialise() const {
    if (!state_->graph) return std::string();
    TemporaryFile file;
    state_->graph->saveIndex(file.path());
    return read_file(file.path());
}

std::unique_ptr<HnswGraph> HnswGraph::deserialise(const std::string& bytes, int64_t dimension, int search_candidates,
                                                  const std::string& name) {
    auto graph = std::make_unique<HnswGraph>(dimension, 16, 128, search_candidates);
    if (bytes.empty()) return graph;
    TemporaryFile file;
    write_file_atomically(file.path(), bytes);
    try {
        graph->state_->graph = std::make_unique<hnswlib::HierarchicalNSW<float>>(&graph->state_->space, file.path());
    } catch (const std::exception& e) {
        throw Error(name, std::string("damaged vector index (") + e.what() + ")");
    }
    const auto* g = graph->state_->graph.get();
    if (g->data_size_ != size_t(dimension) * sizeof(float)) throw Error(name, "damaged vector index (wrong dimension)");
    graph->state_->links = int(g->M_);
    graph->state_->build_candidates = int(g->ef_construction_);
    graph->set_search_candidates(search_candidates);
    return graph;
}

}  // namespace pupembed
