// What the fuzz targets share: the input as bytes, and a scratch file for readers that take a path.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

namespace pupembed::fuzz {

inline std::string bytes_of(const uint8_t* data, size_t size) { return std::string(reinterpret_cast<const char*>(data), size); }

/// A path in this process's scratch folder (made on first use, under $TMPDIR or /tmp).
std::string scratch_path(const std::string& name);

/// Writes `bytes` to scratch_path(name) and returns the path.
std::string scratch_file(const std::string& name, const std::string& bytes);

}  // namespace pupembed::fuzz
