// NumPy .npy files: float32 arrays in and out (format versions 1.0, 2.0 and 3.0).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace pupembed {

/// A C-order float32 array as read from, or written to, a .npy file.
struct NpyArray {
    std::vector<int64_t> shape;  ///< empty for a scalar
    std::vector<float> data;     ///< product(shape) values, C order

    int64_t numel() const;
};

/// Reads a little-endian float32, C-order .npy file (format version 1, 2 or 3).
/// Throws Error naming the file and what was found for anything else: a wrong magic, an unknown
/// version, another dtype or byte order, Fortran order, a damaged header or a truncated body.
NpyArray read_npy(const std::string& path);

/// Parses the bytes of a .npy file; `name` is used in error messages.
NpyArray parse_npy(const std::string& bytes, const std::string& name);

/// Writes `array` as a version 1.0 .npy file (little-endian float32, C order), atomically:
/// a temporary file beside `path` is renamed over it. Throws Error on I/O failure.
void write_npy(const std::string& path, const NpyArray& array);

/// The table of row names that goes with a .npy of rows (embeddings, features): the same path
/// with .tsv instead of .npy.
std::string row_table_path(const std::string& npy_path);

}  // namespace pupembed
