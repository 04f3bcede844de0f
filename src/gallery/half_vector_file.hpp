// A gallery's vectors as float16 rows in one file beside it, memory-mapped: what a compressed
// index re-ranks its candidates with, without the vectors in memory (the page cache holds the
// rows that queries touch). Rows are in ascending order of gallery id.
//
// Format (version 1, little-endian): a 4096-byte header: magic "PUPVEC16", version (u32), flags
// (u32, 0), dimension, row count and note size (u64 each), the CRC-32 of the rows and ids, the
// CRC-32 of the header's other bytes and the note, then the note (what the rows were made from,
// for the caller); then the rows (count x dimension float16), padded to 8 bytes; then the ids (i64).
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "pupembed/io/file_io.hpp"

namespace pupembed {

class HalfVectorFile {
public:
    /// Maps the file at `path`, checking all of it (magic, version, sizes, both CRCs, ids
    /// ascending) without touching the mapping, so that only the rows queries read stay resident.
    /// Throws Error naming the file for anything wrong.
    static std::shared_ptr<const HalfVectorFile> open(const std::string& path);
    ~HalfVectorFile();
    HalfVectorFile(const HalfVectorFile&) = delete;
    HalfVectorFile& operator=(const HalfVectorFile&) = delete;

    int64_t size() const { return count_; }
    int64_t dimension() const { return dimension_; }
    const std::string& note() const { return note_; }
    const std::string& path() const { return path_; }
    const uint16_t* row(int64_t r) const { return rows_ + r * dimension_; }
    int64_t id(int64_t r) const { return ids_[r]; }
    /// The row of gallery id `id`, or -1.
    int64_t row_of(int64_t id) const;
    /// Rows first .. first + count - 1 as float32 (out: count x dimension) or as float16, read
    /// through the mapping, whose pages are then released from this process (a build reads every
    /// row once; the page cache keeps them, this process's resident memory does not).
    void copy_rows(int64_t first, int64_t count, float* out) const;
    void copy_half_rows(int64_t first, int64_t count, uint16_t* out) const;
    /// The file's size in bytes.
    int64_t file_bytes() const { return int64_t(mapped_bytes_); }

private:
    HalfVectorFile() = default;
    std::string path_, note_;
    int64_t dimension_ = 0, count_ = 0;
    void* mapping_ = nullptr;
    size_t mapped_bytes_ = 0;
    const uint16_t* rows_ = nullptr;
    const int64_t* ids_ = nullptr;
};

/// Writes a HalfVectorFile row block by row block, atomically (AtomicFileWriter): rows must come
/// in ascending id order.
class HalfVectorFileWriter {
public:
    HalfVectorFileWriter(const std::string& path, int64_t dimension, const std::string& note);
    /// Appends `count` rows of float32 values (converted) or of float16 values, under `ids`.
    void add(const int64_t* ids, const float* rows, int64_t count);
    void add_half(const int64_t* ids, const uint16_t* rows, int64_t count);
    int64_t size() const { return int64_t(ids_.size()); }
    /// Writes the ids and the header, and renames the file into place.
    void commit();

private:
    void check_ids(const int64_t* ids, int64_t count);
    AtomicFileWriter file_;
    std::string path_, note_;
    int64_t dimension_;
    std::vector<int64_t> ids_;
    std::vector<uint16_t> buffer_;
    unsigned long crc_ = 0;
};

}  // namespace pupembed
