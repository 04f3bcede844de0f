// Approximate inner-product search with hnswlib (Debian's libhnswlib-dev): a hierarchical
// navigable small-world graph whose distances are computed by our own kernel, AVX2 + FMA where
// the CPU has them (chosen at run time, so the binary still runs on any x86-64).
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <utility>
#include <vector>

namespace pupembed {

class HnswGraph {
public:
    /// `links`: hnswlib's M; `build_candidates`: efConstruction; `search_candidates`: efSearch.
    HnswGraph(int64_t dimension, int links, int build_candidates, int search_candidates);
    ~HnswGraph();

    /// Adds vectors under ids (>= 0), in parallel on the OpenMP threads.
    void add(const float* vectors, const int64_t* ids, int64_t count);
    /// Up to `k` (id, inner product) pairs, highest first. Thread-safe with other searches.
    std::vector<std::pair<int64_t, float>> search(const float* query, int k) const;

    int64_t size() const;
    int64_t dimension() const { return dimension_; }
    void set_search_candidates(int candidates);
    /// Bytes held: the vectors, the graph's links and its id table.
    int64_t memory_bytes() const;

    /// hnswlib's own serialisation, as bytes; and back, searching with `search_candidates`
    /// (efSearch is not stored). Throws Error naming `name` if the bytes are damaged.
    std::string serialise() const;
    static std::unique_ptr<HnswGraph> deserialise(const std::string& bytes, int64_t dimension, int search_candidates,
                                                  const std::string& name);

    /// Whether distances use the AVX2 kernel on this CPU.
    static bool accelerated();

private:
    struct State;
    std::unique_ptr<State> state_;
    int64_t dimension_;
};

}  // namespace pupembed
