// Whole-file reads and crash-safe writes.
#pragma once

#include <cstdint>
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

}  // namespace pupembed
