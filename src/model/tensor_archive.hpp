// The container behind every binary file pupembed writes (models now; checkpoints and feature
// dumps later): a magic naming the file's kind, a format version, a JSON header describing the
// content and the tensors, CRC-32 checks, then the raw tensor data.
//
//   bytes 0-7    magic, e.g. "PUPMODEL"
//   bytes 8-11   format version, uint32 little-endian
//   bytes 12-19  header size H, uint64 little-endian
//   H bytes      header, UTF-8 JSON: {"meta": {...}, "tensors": [{"name", "dtype", "shape",
//                "offset", "size"}...], "data_size": D, "data_crc32": c}
//   4 bytes      CRC-32 of the header, uint32 little-endian
//   D bytes      tensor data, little-endian, C order, each tensor at its offset
#pragma once

#include <torch/types.h>

#include <cstdint>
#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <utility>
#include <vector>

namespace pupembed {

/// How floating-point tensors are stored; they are float32 in memory. uint8 and int64 tensors
/// are stored as they are.
enum class StoredType { Float32, Float16 };

struct TensorArchive {
    uint32_t version = 0;
    nlohmann::json meta;
    std::map<std::string, torch::Tensor> tensors;  ///< float32 (or uint8, int64), contiguous
};

/// Writes the archive atomically. `magic` must be 8 characters; `kind` names the file in errors.
void write_tensor_archive(const std::string& path, const std::string& magic, uint32_t version,
                          const nlohmann::json& meta,
                          const std::vector<std::pair<std::string, torch::Tensor>>& tensors,
                          StoredType stored = StoredType::Float32);

/// Reads an archive written with `magic`, accepting format versions 1 to `newest_version`.
/// Throws Error naming the file for another kind of file, a newer version, or any damage.
/// `kind` (e.g. "pupembed model") is used in the messages.
TensorArchive read_tensor_archive(const std::string& path, const std::string& magic, uint32_t newest_version,
                                  const std::string& kind);

}  // namespace pupembed
