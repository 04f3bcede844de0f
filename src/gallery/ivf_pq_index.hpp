// An inverted-file index with product quantization (faiss's IndexIVFPQ, inner product): the
// vectors are split among `lists` k-means cells, and each is kept as `sub_quantizers` bytes (its
// residual from the cell's centroid, one byte per slice of the dimensions). A query scans the
// cells of its `probes` nearest centroids and scores their codes by table look-ups. What it
// holds are row numbers (of the gallery's HalfVectorFile), not gallery ids; the candidates are
// re-ranked exactly by the caller (vector_index.cpp).
//
// serialise() writes our own layout, not faiss's (whose reader trusts its input): deserialise()
// checks every size, value and row before faiss sees any of it.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <utility>

namespace faiss {
struct IndexIVFPQ;
}

namespace pupembed {

class ExactScan;

class IvfPqIndex {
public:
    /// A trained, empty index for `dimension`-d vectors: k-means on `sample` (count rows) for the
    /// centroids, then on the residuals for the product quantizer. Throws Error for settings that
    /// do not fit (sub_quantizers must divide the dimension; at least `lists` rows and 256).
    static IvfPqIndex train(int64_t dimension, const float* sample, int64_t count, int lists, int sub_quantizers);
    ~IvfPqIndex();
    IvfPqIndex(IvfPqIndex&&) noexcept;
    IvfPqIndex& operator=(IvfPqIndex&&) noexcept;

    /// Encodes `count` vectors as rows first_row, first_row + 1, ... (on OpenMP's threads).
    void add(const float* vectors, int64_t first_row, int64_t count);

    /// For each query, up to `candidates` rows by approximate inner product (row -1: none),
    /// best first, into rows[q * candidates ...] and scores[...].
    void search(const float* queries, int64_t count, int candidates, int probes, int64_t* rows, float* scores) const;

    int64_t size() const;
    int64_t dimension() const;
    int lists() const;
    int sub_quantizers() const;
    /// Bytes held: the codes, the rows, the centroids and the product quantizer's tables.
    int64_t memory_bytes() const;

    /// Whether `other` was trained as this one was (the same centroids and codebooks): its codes
    /// then mean the same, and it may be merged into this one.
    bool same_training(const IvfPqIndex& other) const;
    /// Moves `part`'s rows into this index (faiss's merge_from, the route for an index built on
    /// many machines), after this index's rows in each list. Parts are merged in row order, so
    /// that each list holds its rows in order, as one add() of them all makes it: throws Error
    /// when `part` was trained otherwise or has a row below this index's last.
    void merge(IvfPqIndex& part);
    /// The lowest and one past the highest row held (0, 0 when empty).
    std::pair<int64_t, int64_t> row_range() const;

    std::string serialise() const;
    /// Reads serialise()'s bytes for `dimension`-d vectors, holding the rows first_row ..
    /// first_row + row_count - 1, each once. Throws Error naming `path` for anything else.
    static IvfPqIndex deserialise(std::string_view bytes, int64_t dimension, int64_t first_row, int64_t row_count,
                                  const std::string& path);

    /// The lists faiss's guidelines give for `count` vectors: about 4 sqrt(count) (a power of two),
    /// at most 8,192 (the build's time on a few cores), and at least 39 training rows per list.
    static int default_lists(int64_t count);
    /// The most sub-quantizers up to 64 that divide `dimension` (248: 62 bytes a vector).
    static int default_sub_quantizers(int64_t dimension);

private:
    explicit IvfPqIndex(std::unique_ptr<faiss::IndexIVFPQ> index);
    std::unique_ptr<faiss::IndexIVFPQ> index_;
    /// The centroids again, for a query's nearest cells: our AVX2 scan, since Debian's faiss
    /// scores them one by one in plain C (its generic build), three times the codes' own scan.
    std::unique_ptr<ExactScan> coarse_;
    int64_t first_row_ = 0, end_row_ = 0;  ///< row_range()
};

}  // namespace pupembed
