// A gallery's IVF-PQ index and the float16 vector file it re-ranks with, kept beside the gallery
// (PATH.ivfpq, PATH.vectors): loaded when they match the gallery, grown without retraining when
// the gallery only gained a few photos since, else built again from the gallery's rows.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "gallery/half_vector_file.hpp"
#include "gallery/ivf_pq_index.hpp"
#include "gallery/vector_index_state.hpp"
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

// The steps of a build, for building in shards (index_shards.cpp) as well.

/// The note an index file and its vector file carry: the gallery, its generation, the rows.
nlohmann::json compressed_index_note(const CompressedIndexSource& source, int64_t rows);

/// A trained, empty index and the vector file its rows are in.
struct TrainedCompressedIndex {
    std::shared_ptr<const HalfVectorFile> vectors;
    IvfPqIndex ivf;
    int64_t training_rows = 0;
    double writing_seconds = 0, training_seconds = 0;
};

/// Writes the source's rows to a vector file at `vectors_path` and trains an index on a sample of
/// them (the lists and code size of `settings`, else the defaults). Throws Error when the gallery
/// has too few rows to train one, or changed while its rows were read.
TrainedCompressedIndex train_compressed_index(const CompressedIndexSource& source, const IvfPqSettings& settings,
                                              const std::string& vectors_path);

/// Encodes rows first .. first + count - 1 of `vectors` into `ivf`, a block at a time.
void add_vector_rows(IvfPqIndex& ivf, const HalfVectorFile& vectors, int64_t first, int64_t count);

/// An IVF-PQ file: our framing (magic PUPIVFPQ, version, CRC-32) around IvfPqIndex::serialise(),
/// with a JSON note, written atomically.
void write_ivf_file(const std::string& path, int64_t dimension, const nlohmann::json& note, const IvfPqIndex& ivf);
struct IvfFile {
    std::unique_ptr<std::string> bytes;  ///< held apart, so that moving an IvfFile keeps `contents` valid
    IndexFileContents contents;          ///< inside `bytes`
    nlohmann::json note;                 ///< an object
};
/// Reads and checks an IVF-PQ file's framing (the payload is checked by IvfPqIndex::deserialise).
/// Throws Error naming `path`.
IvfFile read_ivf_file(const std::string& path);

/// Writes the source's PATH.ivfpq, noting the rows the index was trained for (growth counts from them).
void save_compressed_index(const CompressedIndexSource& source, const IvfPqIndex& ivf, int64_t trained_rows);

/// The files kept beside a gallery at `gallery_path`.
std::string compressed_index_path(const std::string& gallery_path);
std::string vector_file_path(const std::string& gallery_path);

}  // namespace pupembed
