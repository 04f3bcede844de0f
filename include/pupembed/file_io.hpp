// Whole-file reads and crash-safe writes.
#pragma once

#include <string>

namespace pupembed {

/// Returns the contents of `path`. Throws Error naming the file if it cannot be read.
std::string read_file(const std::string& path);

/// Writes `bytes` to a temporary file beside `path`, flushes it and renames it over `path`,
/// so that `path` holds either its old contents or all of the new ones, never a part.
/// Throws Error naming the file on failure (and removes the temporary file).
void write_file_atomically(const std::string& path, const std::string& bytes);

}  // namespace pupembed
