#include "pupembed/gallery/vector_index.hpp"

#include <zlib.h>

#include <algorithm>
#include <cstring>

#include "gallery/float16.hpp"
#include "gallery/vector_index_state.hpp"
#include "pupembed/core/error.hpp"
#include "pupembed/io/file_io.hpp"
#include "pupembed/core/runtime.hpp"

namespace pupembed {

std::string index_kind_name(IndexKind kind) {
    switch (kind) {
        case IndexKind::Exact: return "exact";
        case IndexKind::Hnsw: return "hnsw";
        case IndexKind::IvfPq: return "ivfpq";
    }
    return "?";
}

IndexKind index_kind_from_name(const std::string& name) {
    if (name == "exact") return IndexKind::Exact;
    if (name == "hnsw") return IndexKind::Hnsw;
    if (name == "ivfpq") return IndexKind::IvfPq;
    throw Error("index kind \"" + name + "\"", "unknown (known: exact, hnsw, ivfpq)");
}

VectorIndex::VectorIndex(int64_t dimension, IndexKind kind, const HnswSettings& hnsw)
    : state_(std::make_unique<State>()), dimension_(dimension), kind_(kind) {
    if (dimension < 1) throw Error("vector dimension must be positive, got " + std::to_string(dimension));
    if (kind == IndexKind::IvfPq) throw Error("an IVF-PQ index is built by its gallery (Gallery::index)");
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
    else if (state_->graph) state_->graph->add(vectors, ids, count);
    else throw Error("an IVF-PQ index grows through its gallery (Gallery::index), not by add()");
}

int64_t VectorIndex::size() const {
    if (state_->exact) return state_->exact->size();
    return state_->graph ? state_->graph->size() : state_->ivf->size();
}

void VectorIndex::set_search_candidates(int candidates) {
    if (state_->graph) state_->graph->set_search_candidates(candidates);
}

IvfPqSettings VectorIndex::ivf_settings() const { return state_->ivf_settings; }

std::shared_ptr<const VectorIndex> VectorIndex::with_ivf_search(int probes, int rerank) const {
    if (!state_->ivf) throw Error("only an IVF-PQ index has IVF search settings");
    if (probes < 1 || rerank < 1) throw Error("IVF-PQ probes and rerank must be positive", ErrorKind::BadInput);
    auto state = std::make_unique<State>();
    state->ivf = state_->ivf;
    state->rows = state_->rows;
    state->ivf_settings = state_->ivf_settings;
    state->ivf_settings.probes = probes;
    state->ivf_settings.rerank = rerank;
    return std::make_shared<const VectorIndex>(std::move(state), dimension_, kind_);
}

int64_t VectorIndex::memory_bytes() const {
    if (state_->exact) return state_->exact->memory_bytes();
    return state_->graph ? state_->graph->memory_bytes() : state_->ivf->memory_bytes();
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
    if (state_->ivf) {
        search_ivf(queries, count, k, int(wanted), exclude, results);
        return results;
    }
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

void VectorIndex::search_ivf(const float* queries, int64_t count, int k, int wanted, const IdExclusion& exclude,
                             std::vector<std::vector<SearchHit>>& results) const {
    // The codes' best candidates (at least `rerank`), then their float16 vectors' exact scores.
    const HalfVectorFile& rows = *state_->rows;
    const int candidates = std::max(wanted, state_->ivf_settings.rerank);
    std::vector<int64_t> found(size_t(count) * size_t(candidates));
    std::vector<float> scores(found.size());
    state_->ivf->search(queries, count, candidates, state_->ivf_settings.probes, found.data(), scores.data());
#pragma omp parallel for schedule(dynamic, 16) if (count > 16) num_threads(thread_count())
    for (int64_t q = 0; q < count; ++q) {
        const float* query = queries + q * dimension_;
        const int64_t own = exclude.own_ids ? exclude.own_ids[q] : -1;
        std::vector<SearchHit> hits;
        for (int c = 0; c < candidates; ++c) {
            const int64_t row = found[size_t(q * candidates + c)];
            if (row < 0) break;
            const int64_t id = rows.id(row);
            if (id != own && !exclude.excludes(id)) hits.push_back({id, half_dot(rows.row(row), query, dimension_)});
        }
        const size_t kept = std::min(hits.size(), size_t(k));
        std::partial_sort(hits.begin(), hits.begin() + std::ptrdiff_t(kept), hits.end(), [](const SearchHit& a, const SearchHit& b) {
            return a.similarity != b.similarity ? a.similarity > b.similarity : a.id < b.id;
        });
        hits.resize(kept);
        results[size_t(q)] = std::move(hits);
    }
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

std::string frame_index_file(const char* magic, uint32_t version, int64_t dimension, const std::string& note,
                             std::string_view payload) {
    std::string bytes(magic, 8);
    put(bytes, version);
    put(bytes, uint64_t(dimension));
    put(bytes, uint64_t(note.size()));
    bytes += note;
    put(bytes, uint64_t(payload.size()));
    bytes += payload;
    put(bytes, crc_of(reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size()));
    return bytes;
}

IndexFileContents read_index_file(const std::string& bytes, const char* magic, uint32_t version, const std::string& path,
                                  const std::string& what) {
    auto damaged = [&](const std::string& problem) { return Error(path, "damaged " + what + " (" + problem + ")"); };
    if (bytes.size() < 8 || bytes.compare(0, 8, magic, 8) != 0) throw Error(path, "not a pupembed " + what);
    size_t at = 8;
    auto get = [&](auto& value) {
        if (bytes.size() - at < sizeof(value)) throw damaged("truncated");
        std::memcpy(&value, bytes.data() + at, sizeof(value));
        at += sizeof(value);
    };
    uint32_t found_version = 0;
    get(found_version);
    if (found_version != version)
        throw Error(path, what + " format version " + std::to_string(found_version) + ", this build reads " + std::to_string(version));
    uint64_t dimension = 0;
    get(dimension);
    if (dimension < 1 || dimension > 65536) throw damaged("dimension " + std::to_string(dimension));
    IndexFileContents contents;
    contents.dimension = int64_t(dimension);
    uint64_t note_size = 0;
    get(note_size);
    if (bytes.size() - at < note_size) throw damaged("truncated");
    contents.note = bytes.substr(at, note_size);
    at += note_size;
    uint64_t payload_size = 0;
    get(payload_size);
    if (payload_size > bytes.size() - at || bytes.size() - at - payload_size < sizeof(uint32_t)) throw damaged("truncated");
    contents.payload = std::string_view(bytes).substr(at, payload_size);
    at += payload_size;
    uint32_t crc = 0;
    get(crc);
    if (at != bytes.size()) throw damaged("trailing bytes");
    if (crc != crc_of(reinterpret_cast<const uint8_t*>(bytes.data()), at - sizeof(uint32_t))) throw damaged("CRC mismatch");
    return contents;
}

void VectorIndex::save(const std::string& path, const std::string& note) const {
    if (!state_->graph) throw Error(path, "only an HNSW index is saved this way (an exact one is a copy of its vectors)");
    write_file_atomically(path, frame_index_file(kIndexMagic, kIndexVersion, dimension_, note, state_->graph->serialise()));
}

VectorIndex VectorIndex::load(const std::string& path, std::string* note) {
    const std::string bytes = read_file(path);
    IndexFileContents contents = read_index_file(bytes, kIndexMagic, kIndexVersion, path, "vector index");
    if (note) *note = std::move(contents.note);
    auto state = std::make_unique<State>();
    state->graph = HnswGraph::deserialise(std::string(contents.payload), contents.dimension, HnswSettings{}.search_candidates, path);
    return VectorIndex(std::move(state), contents.dimension, IndexKind::Hnsw);
}

}  // namespace pupembed
