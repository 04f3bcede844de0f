#include "gallery/hnsw_graph.hpp"

#include <hnswlib/hnswlib.h>
#include <immintrin.h>
#include <omp.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <filesystem>

#include "pupembed/core/error.hpp"
#include "pupembed/io/file_io.hpp"

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

using Graph = hnswlib::HierarchicalNSW<float>;

/// hnswlib's file header, in the order saveIndex() writes it.
struct SavedHeader {
    size_t offset_level0, max_elements, count, size_data_per_element, label_offset, offset_data;
    int max_level;
    hnswlib::tableint entry_point;
    size_t max_links, max_links0, links;
    double level_multiplier;
    size_t build_candidates;
};
constexpr size_t kSavedHeaderSize = 6 * sizeof(size_t) + sizeof(int) + sizeof(hnswlib::tableint) + 3 * sizeof(size_t) +
                                    sizeof(double) + sizeof(size_t);
constexpr int kMaxLevel = 64;   // a level is drawn as -ln(U) / ln(M): 64 is never reached honestly
constexpr size_t kMaxLinks = 4096;

template <typename T>
T read_pod(const std::string& bytes, size_t& offset) {
    T value;
    std::memcpy(&value, bytes.data() + offset, sizeof(T));
    offset += sizeof(T);
    return value;
}

/// Checks a saved graph's header and the sizes of its parts against what a graph of vectors of
/// `dimension` floats must look like, before hnswlib (which trusts every number in the file)
/// reads it. Returns the number of elements.
size_t check_saved_layout(const std::string& bytes, int64_t dimension, const std::string& name) {
    auto damaged = [&](const std::string& what) { return Error(name, "damaged vector index (" + what + ")"); };
    if (bytes.size() < kSavedHeaderSize) throw damaged("shorter than its header");
    size_t at = 0;
    SavedHeader h{};
    h.offset_level0 = read_pod<size_t>(bytes, at);
    h.max_elements = read_pod<size_t>(bytes, at);
    h.count = read_pod<size_t>(bytes, at);
    h.size_data_per_element = read_pod<size_t>(bytes, at);
    h.label_offset = read_pod<size_t>(bytes, at);
    h.offset_data = read_pod<size_t>(bytes, at);
    h.max_level = read_pod<int>(bytes, at);
    h.entry_point = read_pod<hnswlib::tableint>(bytes, at);
    h.max_links = read_pod<size_t>(bytes, at);
    h.max_links0 = read_pod<size_t>(bytes, at);
    h.links = read_pod<size_t>(bytes, at);
    h.level_multiplier = read_pod<double>(bytes, at);
    h.build_candidates = read_pod<size_t>(bytes, at);
    const size_t links0_bytes = h.max_links0 * sizeof(hnswlib::tableint) + sizeof(hnswlib::linklistsizeint);
    const size_t data_bytes = size_t(dimension) * sizeof(float);
    if (h.links < 2 || h.links > kMaxLinks || h.max_links != h.links || h.max_links0 != 2 * h.links)
        throw damaged("link counts");
    if (h.offset_level0 != 0 || h.offset_data != links0_bytes || h.label_offset != links0_bytes + data_bytes ||
        h.size_data_per_element != h.label_offset + sizeof(hnswlib::labeltype))
        throw damaged("element layout");
    if (!(h.level_multiplier > 0 && h.level_multiplier < 10) || h.max_level < 0 || h.max_level > kMaxLevel ||
        h.build_candidates < 1 || h.build_candidates > (size_t{1} << 20))
        throw damaged("graph settings");
    if (h.max_elements < h.count || (h.count > 0 && h.entry_point >= h.count) ||
        h.count > (bytes.size() - at) / h.size_data_per_element)
        throw damaged("element count");
    at += h.count * h.size_data_per_element;
    const size_t upper_bytes = h.max_links * sizeof(hnswlib::tableint) + sizeof(hnswlib::linklistsizeint);
    for (size_t i = 0; i < h.count; ++i) {
        if (bytes.size() - at < sizeof(unsigned int)) throw damaged("truncated link lists");
        const unsigned int size = read_pod<unsigned int>(bytes, at);
        if (size % upper_bytes != 0 || size / upper_bytes > size_t(h.max_level) || size > bytes.size() - at)
            throw damaged("link list of element " + std::to_string(i));
        at += size;
    }
    if (at != bytes.size()) throw damaged("trailing bytes");
    return h.count;
}

/// Checks what hnswlib loaded: every link names an element that exists and reaches the level
/// it is on, lists are no longer than allowed, the entry point is on the top level, ids are
/// unique and vectors finite. hnswlib would follow a bad link straight out of its memory.
void check_loaded_graph(const Graph& g, const std::string& name) {
    auto damaged = [&](const std::string& what) { return Error(name, "damaged vector index (" + what + ")"); };
    const size_t count = g.cur_element_count;
    if (count == 0) return;
    if (g.label_lookup_.size() != count) throw damaged("repeated ids");
    if (g.element_levels_[g.enterpoint_node_] != g.maxlevel_) throw damaged("entry point is not on the top level");
    const size_t dimension = g.data_size_ / sizeof(float);
    for (size_t i = 0; i < count; ++i) {
        const auto id = static_cast<hnswlib::tableint>(i);
        const int levels = g.element_levels_[i];
        if (levels > g.maxlevel_) throw damaged("element " + std::to_string(i) + " above the top level");
        for (int level = 0; level <= levels; ++level) {
            hnswlib::linklistsizeint* list = level == 0 ? g.get_linklist0(id) : g.get_linklist(id, level);
            const size_t size = g.getListCount(list);
            if (size > (level == 0 ? g.maxM0_ : g.maxM_)) throw damaged("too many links at element " + std::to_string(i));
            const auto* links = reinterpret_cast<const hnswlib::tableint*>(list + 1);
            for (size_t j = 0; j < size; ++j)
                if (links[j] >= count || g.element_levels_[links[j]] < level)
                    throw damaged("bad link at element " + std::to_string(i));
        }
        const auto* vector = reinterpret_cast<const float*>(g.getDataByInternalId(id));
        for (size_t j = 0; j < dimension; ++j)
            if (!std::isfinite(vector[j])) throw damaged("a vector that is not finite at element " + std::to_string(i));
        if (int64_t(g.getExternalLabel(id)) < 0) throw damaged("negative id");
    }
}

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
    std::string bytes = read_file(file.path());
    // hnswlib's writes do not report errors (a full disk gives a short file): check the size.
    check_saved_layout(bytes, dimension_, file.path());
    return bytes;
}

std::unique_ptr<HnswGraph> HnswGraph::deserialise(const std::string& bytes, int64_t dimension, int search_candidates,
                                                  const std::string& name) {
    auto graph = std::make_unique<HnswGraph>(dimension, 16, 128, search_candidates);
    if (bytes.empty()) return graph;
    const size_t count = check_saved_layout(bytes, dimension, name);
    TemporaryFile file;
    write_file_atomically(file.path(), bytes);
    try {
        // max_elements = count: room for exactly the saved elements, whatever the file claims.
        graph->state_->graph = std::make_unique<Graph>(&graph->state_->space, file.path(), false, count);
    } catch (const std::exception& e) {
        throw Error(name, std::string("damaged vector index (") + e.what() + ")");
    }
    const auto* g = graph->state_->graph.get();
    if (g->data_size_ != size_t(dimension) * sizeof(float)) throw Error(name, "damaged vector index (wrong dimension)");
    check_loaded_graph(*g, name);
    graph->state_->links = int(g->M_);
    graph->state_->build_candidates = int(g->ef_construction_);
    graph->set_search_candidates(search_candidates);
    return graph;
}

}  // namespace pupembed
