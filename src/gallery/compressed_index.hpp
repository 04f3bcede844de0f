// A gallery's IVF-PQ index and the float16 vector file it re-ranks with, kept beside the gallery
// (PATH.ivfpq, PATH.vectors): loaded when they match the gallery, grown without retraining when
// the gallery only gained a few photos since, else built again from the gallery's rows.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "pupembed/gallery/vector_index.hpp"

namespace pupembed {

/// Receives a block of rows: `count` ids (ascending) and their vectors (count x dimension).
using RowBlock = std::function<void(const int64_t* ids, const float* vectors, int64_t count)>;

/// What the index is built from: the gallery's identity and state, and its rows.
struct CompressedIndexSource {
    std::string gallery_path;
    std::string uid;                   ///< the gallery's random id (a file put in its place is another)
    int64_t generation = 0;            ///< the gallery's generation counter
    int64_t rewritten_generation = 0;  ///< the last generation that removed or replaced rows
    int64_t rows = 0;
    int64_t dimension = 0;
    /// Streams the rows with id > after_id, in id order, in blocks, from one state of the gallery.
    std::function<void(int64_t after_id, const RowBlock& receive)> read_rows;
    /// How many rows have an id up to `id`.
    std::function<int64_t(int64_t id)> rows_up_to;
};

/// Up to this share of new rows (of those the index was trained on) is added to an index
/// without retraining it; past it, or after any removal or replacement, the index is built again.
constexpr double kCompressedIndexGrowth = 0.25;

struct CompressedIndex {
    std::shared_ptr<const VectorIndex> index;
    std::string how;  ///< "loaded", "grown by N rows", "built"
    std::vector<std::string> warnings;
};

/// The IVF-PQ index of `source`; its files are written beside the gallery (atomically, the
/// vectors first). A damaged or crafted file is never trusted: it is built again, with a warning.
/// Throws Error when the gallery has too few rows to train one (IvfPqIndex::train).
CompressedIndex compressed_index(const CompressedIndexSource& source, const IvfPqSettings& settings);

/// The files kept beside a gallery at `gallery_path`.
std::string compressed_index_path(const std::string& gallery_path);
std::string vector_file_path(const std::string& gallery_path);

}  // namespace pupembed
