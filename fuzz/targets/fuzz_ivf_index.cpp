// The compressed index's files beside a gallery. The first byte picks the reader: 0, the IVF-PQ
// payload (GALLERY.ivfpq after its frame's checks, which fuzz_vector_index covers), with the row
// count it claims; 2, the same as a shard's (its rows from 1000 on); otherwise a float16 vector file (GALLERY.vectors), whose two CRC-32s this
// target recomputes so that mutations reach the checks behind them (a crafted file has valid
// checksums too). Either loads what searches and reads safely, or gives pupembed::Error.
#include <zlib.h>

#include <cstring>
#include <vector>

#include "fuzz_support.hpp"
#include "gallery/half_vector_file.hpp"
#include "gallery/ivf_pq_index.hpp"
#include "pupembed/core/error.hpp"

namespace {

constexpr size_t kHeaderBytes = 4096;

uint32_t crc_of(const std::string& bytes, size_t from, size_t to) {
    return uint32_t(crc32(crc32(0L, Z_NULL, 0), reinterpret_cast<const Bytef*>(bytes.data() + from), uInt(to - from)));
}

void fix_vector_file_crcs(std::string& bytes) {
    if (bytes.size() < kHeaderBytes) return;
    const uint32_t data = crc_of(bytes, kHeaderBytes, bytes.size());
    std::memcpy(bytes.data() + 40, &data, 4);
    uint64_t note_size = 0;
    std::memcpy(&note_size, bytes.data() + 32, 8);
    if (note_size > kHeaderBytes - 48) return;
    // The header's CRC covers its first 44 bytes, then the note.
    std::string covered = bytes.substr(0, 44) + bytes.substr(48, size_t(note_size));
    const uint32_t header = crc_of(covered, 0, covered.size());
    std::memcpy(bytes.data() + 44, &header, 4);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    if (size < 1) return 0;
    std::string bytes = pupembed::fuzz::bytes_of(data + 1, size - 1);
    try {
        if (data[0] == 0 || data[0] == 2) {
            // 2: a shard's rows, which start past 0
            const int64_t first_row = data[0] == 2 ? 1000 : 0;
            uint64_t rows = 0;
            if (bytes.size() >= 20) std::memcpy(&rows, bytes.data() + 12, 8);
            if (rows > (uint64_t(1) << 20)) rows = 0;
            const auto index = pupembed::IvfPqIndex::deserialise(bytes, 8, first_row, int64_t(rows), "fuzz");
            const std::vector<float> query(8, 0.35f);
            std::vector<int64_t> found(5);
            std::vector<float> scores(5);
            index.search(query.data(), 1, 5, 3, found.data(), scores.data());
            for (const int64_t row : found)
                if (row != -1 && (row < first_row || row >= first_row + int64_t(rows))) __builtin_trap();  // a row the index was not given
        } else {
            fix_vector_file_crcs(bytes);
            const auto vectors = pupembed::HalfVectorFile::open(pupembed::fuzz::scratch_file("g.vectors", bytes));
            std::vector<float> row(size_t(vectors->dimension()));
            for (int64_t r = 0; r < vectors->size() && r < 4; ++r) {
                vectors->copy_rows(r, 1, row.data());
                (void)vectors->row_of(vectors->id(r));
            }
        }
    } catch (const pupembed::Error&) {
    }
    return 0;
}
