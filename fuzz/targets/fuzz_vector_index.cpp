// The HNSW index sidecar (GALLERY.index). The first byte picks the layer: 0, hnswlib's graph
// bytes as our reader gets them after the file's checks; otherwise the whole PUPINDEX file,
// whose CRC-32 this target recomputes so that mutations reach the graph (a crafted file has a
// valid checksum too). Either loads a graph that searches safely, or gives pupembed::Error.
#include <zlib.h>

#include <cstring>
#include <vector>

#include "fuzz_support.hpp"
#include "gallery/hnsw_graph.hpp"
#include "pupembed/core/error.hpp"
#include "pupembed/gallery/vector_index.hpp"

namespace {

void search_a_little(const float* query, const pupembed::VectorIndex* index, const pupembed::HnswGraph* graph) {
    if (index) (void)index->search(query, 1, 5);
    if (graph) (void)graph->search(query, 5);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    if (size < 1) return 0;
    std::string bytes = pupembed::fuzz::bytes_of(data + 1, size - 1);
    std::vector<float> query(64, 0.125f);
    try {
        if (data[0] == 0) {
            const auto graph = pupembed::HnswGraph::deserialise(bytes, 8, 32, "fuzz");
            search_a_little(query.data(), nullptr, graph.get());
        } else {
            if (bytes.size() >= 4) {
                const uint32_t crc = uint32_t(
                    crc32(crc32(0L, Z_NULL, 0), reinterpret_cast<const Bytef*>(bytes.data()), uInt(bytes.size() - 4)));
                std::memcpy(bytes.data() + bytes.size() - 4, &crc, 4);
            }
            const auto index = pupembed::VectorIndex::load(pupembed::fuzz::scratch_file("g.index", bytes));
            if (index.dimension() <= int64_t(query.size())) search_a_little(query.data(), &index, nullptr);
        }
    } catch (const pupembed::Error&) {
    }
    return 0;
}
