// Nearest neighbours among unit vectors by inner product (= cosine similarity): an exact scan
// (our float16 AVX2 scan, re-ranked in float32), or an HNSW graph (hnswlib; approximate, much
// faster) for large collections.
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
};

/// "exact" or "hnsw"; and back (throws Error for another name).
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

class VectorIndex {
public:
    VectorIndex(int64_t dimension, IndexKind kind, const HnswSettings& hnsw = {});
    ~VectorIndex();
    VectorIndex(VectorIndex&&) noexcept;
    VectorIndex& operator=(VectorIndex&&) noexcept;

    /// Adds `count` vectors (count x dimension floats, row after row) under the given ids.
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
    /// Bytes the index holds (vectors, and an HNSW graph's links).
    int64_t memory_bytes() const;

    /// Writes an HNSW index to `path` atomically: magic "PUPINDEX", format version, dimension,
    /// `note` (for the caller, e.g. what the index was built from), hnswlib's serialisation, CRC-32. load()
    /// reads one back and its note. Both throw Error naming the file. (An exact index is not
    /// saved: building it is a copy of the vectors.)
    void save(const std::string& path, const std::string& note = "") const;
    static VectorIndex load(const std::string& path, std::string* note = nullptr);

private:
    struct State;
    VectorIndex(std::unique_ptr<State> state, int64_t dimension, IndexKind kind);
    std::unique_ptr<State> state_;
    int64_t dimension_ = 0;
    IndexKind kind_ = IndexKind::Exact;
};

}  // namespace pupembed
