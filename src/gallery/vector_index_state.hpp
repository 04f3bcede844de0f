// What a VectorIndex holds, for the gallery layer's code that builds one (gallery.cpp,
// compressed_index.cpp); and the framing of the index files kept beside a gallery.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "gallery/exact_scan.hpp"
#include "gallery/half_vector_file.hpp"
#include "gallery/hnsw_graph.hpp"
#include "gallery/ivf_pq_index.hpp"
#include "pupembed/gallery/vector_index.hpp"

namespace pupembed {

struct VectorIndex::State {
    std::unique_ptr<HnswGraph> graph;  ///< HNSW: hnswlib's graph with our distance kernel
    std::unique_ptr<ExactScan> exact;  ///< exact: our own float16 scan with a float32 re-rank
    /// IVF-PQ: the codes (faiss) and the float16 rows their candidates are re-ranked with
    std::shared_ptr<const IvfPqIndex> ivf;
    std::shared_ptr<const HalfVectorFile> rows;
    IvfPqSettings ivf_settings;
};

/// An index file: an 8-byte magic, the format version (u32), the vectors' dimension (u64), a note
/// for the caller (u64 size, bytes: what the index was built from), the payload (u64 size,
/// bytes), and the CRC-32 of all before it.
std::string frame_index_file(const char* magic, uint32_t version, int64_t dimension, const std::string& note,
                             std::string_view payload);

struct IndexFileContents {
    int64_t dimension = 0;
    std::string note;
    std::string_view payload;  ///< inside the bytes given to read_index_file
};

/// Checks and splits frame_index_file's bytes. Throws Error naming `path` ("not a `what`" for
/// another magic, the version for another version, "damaged `what`" for the rest).
IndexFileContents read_index_file(const std::string& bytes, const char* magic, uint32_t version, const std::string& path,
                                  const std::string& what);

}  // namespace pupembed
