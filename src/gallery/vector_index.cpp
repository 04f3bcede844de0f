#include "pupembed/gallery/vector_index.hpp"

#include <zlib.h>

#include <algorithm>
#include <cstring>

#include "gallery/exact_scan.hpp"
#include "gallery/hnsw_graph.hpp"
#include "pupembed/core/error.hpp"
#include "pupembed/io/file_io.hpp"
#include "pupembed/core/runtime.hpp"

namespace pupembed {

std::string index_kind_name(IndexKind kind) { return kind == IndexKind::Exact ? "exact" : "hnsw"; }

IndexKind index_kind_from_name(const std::string& name) {
    if (name == "exact") return IndexKind::Exact;
    if (name == "hnsw") return IndexKind::Hnsw;
    throw Error("index kind \"" + name + "\"", "unknown (known: exact, hnsw)");
}

struct VectorIndex::State {
    std::unique_ptr<HnswGraph> graph;  ///< HNSW: hnswlib's graph with our distance kernel
    std::unique_ptr<ExactScan> exact;  ///< exact: our own float16 scan with a float32 re-rank
};

VectorIndex::VectorIndex(int64_t dimension, IndexKind kind, const HnswSettings& hnsw)
    : state_(std::make_unique<State>()), dimension_(dimension), kind_(kind) {
    if (dimension < 1) throw Error("vector dimension must be positive, got " + std::to_string(dimension));
    if (kind == IndexKind::Exact) {
        state_->exact = std::make_unique<ExactScan>(dimension);
        return;
    }
    state_->graph = std::make_unique<HnswGraph>(dimension, hnsw.links, hnsw.build_candidates, hnsw.search_candidates);
}

VectorIndex::VectorIndex(std::unique_ptr<State> state, int64_t dimension, IndexKind kind)
    : state_(std::move(state)), dimension_(dimension), kind_(kind) {}

VectorIndex::~VectorIndex() = default;
VectorIndex::VectorIndex(VectorIndex&&) noexcept = default;
VectorIndex& VectorIndex::operator=(VectorIndex&&) noexcept = default;

void VectorIndex::add(const float* vectors, const int64_t* ids, int64_t count) {
    if (count <= 0) return;
    for (int64_t i = 0; i < count; ++i)
        if (ids[i] < 0) throw Error("vector ids must not be negative, got " + std::to_string(ids[i]));
    if (state_->exact) state_->exact->add(vectors, ids, count);
    else state_->graph->add(vectors, ids, count);
}

int64_t VectorIndex::size() const { return state_->exact ? state_->exact->size() : state_->graph->size(); }

void VectorIndex::set_search_candidates(int candidates) {
    if (state_->graph) state_->graph->set_search_candidates(candidates);
}

int64_t VectorIndex::memory_bytes() const {
    return state_->exact ? state_->exact->memory_bytes() : state_->graph->memory_bytes();
}

IdExclusion::IdExclusion(std::vector<int64_t> ids, const int64_t* own) : own_ids(own), ids_(std::move(ids)) {
    std::sort(ids_.begin(), ids_.end());
    ids_.erase(std::unique(ids_.begin(), ids_.end()), ids_.end());
}

bool IdExclusion::excludes(int64_t id) const { return std::binary_search(ids_.begin(), ids_.end(), id); }

std::vector<std::vector<SearchHit>> VectorIndex::search(const float* queries, int64_t count, int k,
                                                        const IdExclusion& exclude) const {
    std::vector<std::vector<SearchHit>> results(size_t(std::max<int64_t>(0, count)));
    if (count <= 0 || k <= 0 || size() == 0) return results;
    if (state_->exact) {
        auto found = state_->exact->search(queries, count, k, exclude);
        for (int64_t q = 0; q < count; ++q)
            for (const auto& [id, similarity] : found[size_t(q)]) results[size_t(q)].push_back({id, similarity});
        return results;
    }
    const int64_t wanted = std::min<int64_t>(size(), int64_t(k) + exclude.count() + (exclude.own_ids ? 1 : 0));
#pragma omp parallel for schedule(dynamic, 16) if (count > 16) num_threads(thread_count())
    for (int64_t q = 0; q < count; ++q) {
        const int64_t own = exclude.own_ids ? exclude.own_ids[q] : -1;
        auto& hits = results[size_t(q)];
        for (const auto& [id, similarity] : state_->graph->search(queries + q * dimension_, int(wanted))) {
            if (int64_t(hits.size()) >= k) break;
            if (id != own && !exclude.excludes(id)) hits.push_back({id, similarity});
        }
    }
    return results;
}

namespace {

const char kIndexMagic[] = "PUPINDEX";
constexpr uint32_t kIndexVersion = 2;  // 1: FAISS HNSW (before hnswlib); rebuilt when met

template <typename T>
void put(std::string& out, T value) {
    out.append(reinterpret_cast<const char*>(&value), sizeof(value));
}

uint32_t crc_of(const uint8_t* data, size_t size) {
    return uint32_t(crc32(crc32(0L, Z_NULL, 0), data, uInt(size)));
}

}  // namespace

void VectorIndex::save(const std::string& path, const std::string& note) const {
    if (state_->exact) throw Error(path, "an exact index is not saved: it is rebuilt from its vectors");
    const std::string graph = state_->graph->serialise();
    std::string bytes(kIndexMagic, 8);
    put(bytes, kIndexVersion);
    put(bytes, uint64_t(dimension_));
    put(bytes, uint64_t(note.size()));
    bytes += note;
    put(bytes, uint64_t(graph.size()));
    bytes += graph;
    put(bytes, crc_of(reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size()));
    write_file_atomically(path, bytes);
}

VectorIndex VectorIndex::load(const std::string& path, std::string* note) {
    const std::string bytes = read_file(path);
    auto damaged = [&](const std::string& what) { return Error(path, "damaged vector index (" + what + ")"); };
    if (bytes.size() < 8 || bytes.compare(0, 8, kIndexMagic, 8) != 0) throw Error(path, "not a pupembed vector index");
    size_t at = 8;
    auto get = [&](auto& value) {
        if (bytes.size() - at < sizeof(value)) throw damaged("truncated");
        std::memcpy(&value, bytes.data() + at, sizeof(value));
        at += sizeof(value);
    };
    uint32_t version = 0;
    get(version);
    if (version != kIndexVersion)
        throw Error(path, "vector index format version " + std::to_string(version) + ", this build reads " +
                              std::to_string(kIndexVersion));
    uint64_t dimension = 0;
    get(dimension);
    if (dimension < 1 || dimension > 65536) throw damaged("dimension " + std::to_string(dimension));
    uint64_t note_size = 0;
    get(note_size);
    if (bytes.size() - at < note_size) throw damaged("truncated");
    if (note) *note = bytes.substr(at, note_size);
    at += note_size;
    uint64_t graph_size = 0;
    get(graph_size);
    if (graph_size > bytes.size() - at || bytes.size() - at - graph_size < sizeof(uint32_t)) throw damaged("truncated");
    const size_t graph_at = at;
    at += graph_size;
    uint32_t crc = 0;
    get(crc);
    if (at != bytes.size()) throw damaged("trailing bytes");
    if (crc != crc_of(reinterpret_cast<const uint8_t*>(bytes.data()), at - sizeof(uint32_t))) throw damaged("CRC mismatch");

    auto state = std::make_unique<State>();
    state->graph = HnswGraph::deserialise(bytes.substr(graph_at, graph_size), int64_t(dimension),
                                           HnswSettings{}.search_candidates, path);
    return VectorIndex(std::move(state), int64_t(dimension), IndexKind::Hnsw);
}

}  // namespace pupembed
