// Nearest neighbours among unit vectors by inner product (= cosine similarity): an exact scan
// (our float16 AVX2 scan, re-ranked in float32), an HNSW graph (hnswlib; approximate, much
// faster) for large collections, or a compressed IVF-PQ index (faiss) whose candidates are
// re-ranked from float16 vectors in a memory-mapped file, for collections too large for memory.
#pragma once

#include <cstdint>
#include <initializer_list>
#include <memory>
#include <string>
#include <vector>

namespace pupembed {

enum class IndexKind {
    Exact,  ///< every vector is compared with the query: exact, time linear in the size (a float16
            ///< scan with AVX2, then the candidates it cannot rule out re-ranked in float32)
    Hnsw,   ///< a hierarchical navigable small-world graph: approximate, time about logarithmic
    IvfPq,  ///< an inverted file of product-quantized codes (about 70 bytes a vector in memory),
            ///< its best candidates re-ranked with float16 vectors read from a mapped file
};

/// "exact", "hnsw" or "ivfpq"; and back (throws Error for another name).
std::string index_kind_name(IndexKind kind);
IndexKind index_kind_from_name(const std::string& name);

struct SearchHit {
    int64_t id = -1;
    float similarity = 0;  ///< inner product; cosine similarity for unit vectors
};

/// The ids a search leaves out (faiss's IDSelector, as a list): `ids` for every query, and for
/// query q the id `own_ids[q]` (when own_ids is given; -1: none), so that a query that is itself
/// in the index is not its own answer.
class IdExclusion {
public:
    IdExclusion() = default;
    IdExclusion(std::vector<int64_t> ids, const int64_t* own_ids = nullptr);
    IdExclusion(std::initializer_list<int64_t> ids) : IdExclusion(std::vector<int64_t>(ids)) {}

    bool excludes(int64_t id) const;  ///< whether `ids` holds it (not own_ids)
    int64_t count() const { return int64_t(ids_.size()); }
    const int64_t* own_ids = nullptr;

private:
    std::vector<int64_t> ids_;  ///< sorted, each once
};

/// HNSW settings: `links` per node (hnswlib's M), the candidate list while building
/// (efConstruction) and while searching (efSearch; more: better recall, slower). The defaults
/// give Recall@10 0.96 at about 3,900 queries/s on one thread over a million embedding-like
/// vectors (bench/bench_search --like).
struct HnswSettings {
    int links = 16;
    int build_candidates = 128;
    int search_candidates = 96;
};

/// IVF-PQ settings: `lists` k-means cells (0: about 4 sqrt(n), a power of two, at most 8,192),
/// `sub_quantizers` code bytes a vector (0: the most up to 64 that divide the dimension; 62 for
/// 248), the cells a query scans (`probes`, faiss's nprobe) and how many of the codes' best
/// candidates are re-ranked with the float16 vectors (`rerank`). The defaults give Recall@10
/// 0.95 or more over 1 and 10 million embedding-like vectors (bench/bench_ivf): at 10 million
/// the codes' order is too coarse for their best 100 (0.90), not for their best 400 (0.954).
struct IvfPqSettings {
    int lists = 0;
    int sub_quantizers = 0;
    int probes = 32;
    int rerank = 400;
};

class VectorIndex {
public:
    /// An empty exact or HNSW index (an IVF-PQ index is built by its gallery: Gallery::index).
    VectorIndex(int64_t dimension, IndexKind kind, const HnswSettings& hnsw = {});
    ~VectorIndex();
    VectorIndex(VectorIndex&&) noexcept;
    VectorIndex& operator=(VectorIndex&&) noexcept;

    /// Adds `count` vectors (count x dimension floats, row after row) under the given ids. (An
    /// IVF-PQ index grows through its gallery instead: this throws Error.)
    void add(const float* vectors, const int64_t* ids, int64_t count);

    /// For each of `count` queries, up to `k` hits, most similar first, leaving out `exclude`.
    /// Many queries at once run faster than one at a time (see ExactScan; HNSW queries run on
    /// OpenMP's threads).
    std::vector<std::vector<SearchHit>> search(const float* queries, int64_t count, int k,
                                               const IdExclusion& exclude = {}) const;

    int64_t size() const;
    int64_t dimension() const { return dimension_; }
    IndexKind kind() const { return kind_; }
    /// Sets efSearch of an HNSW index (ignored by an exact one).
    void set_search_candidates(int candidates);
    /// An IVF-PQ index's search settings (IvfPqSettings::probes, rerank), and the same index
    /// (sharing its codes and vector file) with others; an exact or HNSW index ignores them.
    IvfPqSettings ivf_settings() const;
    std::shared_ptr<const VectorIndex> with_ivf_search(int probes, int rerank) const;
    /// Bytes the index holds in memory (vectors, an HNSW graph's links, IVF-PQ's codes, row
    /// numbers and centroids; not its mapped vector file, which the page cache holds).
    int64_t memory_bytes() const;

    /// Writes an HNSW index to `path` atomically: magic "PUPINDEX", format version, dimension,
    /// `note` (for the caller, e.g. what the index was built from), hnswlib's serialisation, CRC-32. load()
    /// reads one back and its note. Both throw Error naming the file. (An exact index is not
    /// saved: building it is a copy of the vectors.)
    void save(const std::string& path, const std::string& note = "") const;
    static VectorIndex load(const std::string& path, std::string* note = nullptr);

    /// Defined in src/gallery/vector_index_state.hpp, for the gallery layer's builders.
    struct State;
    VectorIndex(std::unique_ptr<State> state, int64_t dimension, IndexKind kind);
    const State& state() const { return *state_; }

private:
    void search_ivf(const float* queries, int64_t count, int k, int wanted, const IdExclusion& exclude,
                    std::vector<std::vector<SearchHit>>& results) const;
    std::unique_ptr<State> state_;
    int64_t dimension_ = 0;
    IndexKind kind_ = IndexKind::Exact;
};

}  // namespace pupembed
