#include "pupembed/vector_index.hpp"

#include <faiss/IndexHNSW.h>
#include <faiss/IndexIDMap.h>
#include <faiss/impl/FaissException.h>
#include <faiss/impl/io.h>
#include <faiss/index_io.h>
#include <zlib.h>

#include <algorithm>
#include <cstring>

#include "exact_scan.hpp"
#include "pupembed/error.hpp"
#include "pupembed/file_io.hpp"

namespace pupembed {

std::string index_kind_name(IndexKind kind) { return kind == IndexKind::Exact ? "exact" : "hnsw"; }

IndexKind index_kind_from_name(const std::string& name) {
    if (name == "exact") return IndexKind::Exact;
    if (name == "hnsw") return IndexKind::Hnsw;
    throw Error("index kind \"" + name + "\"", "unknown (known: exact, hnsw)");
}

struct VectorIndex::State {
    std::unique_ptr<faiss::Index> index;  ///< HNSW: an IndexIDMap over FAISS's HNSW index
    std::unique_ptr<ExactScan> exact;     ///< exact: our own scan (FAISS's flat scan is SSE-only here)
};

namespace {

faiss::IndexHNSWFlat* hnsw_of(faiss::Index& index) {
    auto* map = dynamic_cast<faiss::IndexIDMap*>(&index);
    return map ? dynamic_cast<faiss::IndexHNSWFlat*>(map->index) : nullptr;
}

}  // namespace

VectorIndex::VectorIndex(int64_t dimension, IndexKind kind, const HnswSettings& hnsw)
    : state_(std::make_unique<State>()), dimension_(dimension), kind_(kind) {
    if (dimension < 1) throw Error("vector dimension must be positive, got " + std::to_string(dimension));
    if (kind == IndexKind::Exact) {
        state_->exact = std::make_unique<ExactScan>(dimension);
        return;
    }
    auto* graph = new faiss::IndexHNSWFlat(int(dimension), hnsw.links, faiss::METRIC_INNER_PRODUCT);
    graph->hnsw.efConstruction = hnsw.build_candidates;
    graph->hnsw.efSearch = hnsw.search_candidates;
    auto map = std::make_unique<faiss::IndexIDMap>(graph);
    map->own_fields = true;
    state_->index = std::move(map);
}

VectorIndex::VectorIndex(std::unique_ptr<State> state, int64_t dimension, IndexKind kind)
    : state_(std::move(state)), dimension_(dimension), kind_(kind) {}

VectorIndex::~VectorIndex() = default;
VectorIndex::VectorIndex(VectorIndex&&) noexcept = default;
VectorIndex& VectorIndex::operator=(VectorIndex&&) noexcept = default;

void VectorIndex::add(const float* vectors, const int64_t* ids, int64_t count) {
    if (count <= 0) return;
    if (state_->exact) state_->exact->add(vectors, ids, count);
    else state_->index->add_with_ids(count, vectors, ids);
}

int64_t VectorIndex::size() const { return state_->exact ? state_->exact->size() : state_->index->ntotal; }

void VectorIndex::set_search_candidates(int candidates) {
    if (state_->index)
        if (auto* graph = hnsw_of(*state_->index)) graph->hnsw.efSearch = std::max(1, candidates);
}

std::vector<std::vector<SearchHit>> VectorIndex::search(const float* queries, int64_t count, int k,
                                                        const std::vector<int64_t>& exclude) const {
    std::vector<std::vector<SearchHit>> results(size_t(std::max<int64_t>(0, count)));
    if (count <= 0 || k <= 0 || size() == 0) return results;
    if (state_->exact) {
        for (int64_t q = 0; q < count; ++q)
            for (const auto& [id, similarity] : state_->exact->search(queries + q * dimension_, k, exclude))
                results[size_t(q)].push_back({id, similarity});
        return results;
    }
    const int64_t wanted = std::min<int64_t>(size(), int64_t(k) + int64_t(exclude.size()));
    std::vector<float> similarities(size_t(count * wanted));
    std::vector<faiss::Index::idx_t> labels(size_t(count * wanted));
    auto* graph = hnsw_of(*state_->index);
    const int saved = graph ? graph->hnsw.efSearch : 0;
    if (graph && graph->hnsw.efSearch < wanted) graph->hnsw.efSearch = int(wanted);  // HNSW needs ef >= k
    state_->index->search(count, queries, wanted, similarities.data(), labels.data());
    if (graph) graph->hnsw.efSearch = saved;
    for (int64_t q = 0; q < count; ++q) {
        auto& hits = results[size_t(q)];
        for (int64_t j = 0; j < wanted && int64_t(hits.size()) < k; ++j) {
            const int64_t id = labels[size_t(q * wanted + j)];
            if (id < 0 || std::find(exclude.begin(), exclude.end(), id) != exclude.end()) continue;
            hits.push_back({id, similarities[size_t(q * wanted + j)]});
        }
    }
    return results;
}

namespace {

const char kIndexMagic[] = "PUPINDEX";
constexpr uint32_t kIndexVersion = 1;

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
    faiss::VectorIOWriter writer;
    try {
        faiss::write_index(state_->index.get(), &writer);
    } catch (const faiss::FaissException& e) {
        throw Error(path, std::string("cannot serialise the vector index: ") + e.what());
    }
    std::string bytes(kIndexMagic, 8);
    put(bytes, kIndexVersion);
    put(bytes, uint64_t(note.size()));
    bytes += note;
    put(bytes, uint64_t(writer.data.size()));
    bytes.append(reinterpret_cast<const char*>(writer.data.data()), writer.data.size());
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
    uint64_t note_size = 0;
    get(note_size);
    if (bytes.size() - at < note_size) throw damaged("truncated");
    if (note) *note = bytes.substr(at, note_size);
    at += note_size;
    uint64_t faiss_size = 0;
    get(faiss_size);
    if (bytes.size() - at < faiss_size + sizeof(uint32_t)) throw damaged("truncated");
    const size_t faiss_at = at;
    at += faiss_size;
    uint32_t crc = 0;
    get(crc);
    if (at != bytes.size()) throw damaged("trailing bytes");
    if (crc != crc_of(reinterpret_cast<const uint8_t*>(bytes.data()), at - sizeof(uint32_t))) throw damaged("CRC mismatch");

    faiss::VectorIOReader reader;
    reader.data.assign(reinterpret_cast<const uint8_t*>(bytes.data()) + faiss_at,
                       reinterpret_cast<const uint8_t*>(bytes.data()) + faiss_at + faiss_size);
    std::unique_ptr<faiss::Index> index;
    try {
        index.reset(faiss::read_index(&reader));
    } catch (const faiss::FaissException& e) {
        throw damaged(std::string(e.what()).substr(0, 200));
    }
    auto* map = dynamic_cast<faiss::IndexIDMap*>(index.get());
    if (!map || !dynamic_cast<faiss::IndexHNSWFlat*>(map->index)) throw damaged("not an HNSW index with ids");
    auto state = std::make_unique<State>();
    const int64_t dimension = index->d;
    state->index = std::move(index);
    return VectorIndex(std::move(state), dimension, IndexKind::Hnsw);
}

}  // namespace pupembed
