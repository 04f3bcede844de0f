// Whole-file reads and crash-safe writes.
#pragma once

#include <cstdint>
#include <cstddef>
#include <string>

namespace pupembed {

/// The largest file read_file() reads unless told otherwise (4 GiB).
constexpr int64_t kMaxFileBytes = int64_t{4} << 30;

/// Returns the contents of `path`. Only regular files are read (a FIFO, a device such as
/// /dev/zero or a folder is refused without blocking), and only up to `max_bytes`.
/// Throws Error naming the file if it cannot be read or is too large.
std::string read_file(const std::string& path, int64_t max_bytes = kMaxFileBytes);

/// Writes `bytes` to a temporary file beside `path`, flushes it and renames it over `path`,
/// so that `path` holds either its old contents or all of the new ones, never a part.
/// Throws Error naming the file on failure (and removes the temporary file).
void write_file_atomically(const std::string& path, const std::string& bytes);

/// A file written piece by piece that appears at `path` whole or not at all: the pieces go to a
/// temporary file beside it (unique to this writer), commit() flushes it to the disk and renames it
/// over `path`; a writer destroyed before commit() (an exception, a full disk) removes it. For
/// files too large to hold in memory (write_file_atomically holds them whole).
class AtomicFileWriter {
public:
    explicit AtomicFileWriter(const std::string& path);
    ~AtomicFileWriter();
    AtomicFileWriter(const AtomicFileWriter&) = delete;
    AtomicFileWriter& operator=(const AtomicFileWriter&) = delete;

    /// Appends `size` bytes. Throws Error naming the file (e.g. the disk is full).
    void write(const void* data, size_t size);
    /// Writes `size` bytes at `offset` (e.g. a header once the rest is known).
    void write_at(int64_t offset, const void* data, size_t size);
    /// Bytes appended so far.
    int64_t size() const { return size_; }
    /// Flushes and renames the file over `path`. Throws Error naming the file, removing it.
    void commit();

private:
    [[noreturn]] void fail(const std::string& what);
    std::string path_, temporary_;
    int fd_ = -1;
    int64_t size_ = 0;
};

}  // namespace pupembed
