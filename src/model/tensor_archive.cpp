#include "model/tensor_archive.hpp"

#include <torch/torch.h>
#include <zlib.h>

#include <cstring>

#include "core/json_input.hpp"
#include "pupembed/core/error.hpp"
#include "pupembed/io/file_io.hpp"

namespace pupembed {
namespace {

constexpr size_t kPreambleSize = 8 + 4 + 8;
constexpr uint64_t kMaxHeaderSize = uint64_t{1} << 30;

uint32_t crc32_of(const char* data, size_t size) {
    uLong crc = crc32(0L, Z_NULL, 0);
    while (size > 0) {
        const uInt chunk = static_cast<uInt>(std::min<size_t>(size, 1u << 30));
        crc = crc32(crc, reinterpret_cast<const Bytef*>(data), chunk);
        data += chunk;
        size -= chunk;
    }
    return static_cast<uint32_t>(crc);
}

void append_le(std::string& out, uint64_t value, int bytes) {
    for (int i = 0; i < bytes; ++i) out += static_cast<char>((value >> (8 * i)) & 0xff);
}

uint64_t read_le(const std::string& in, size_t offset, int bytes) {
    uint64_t value = 0;
    for (int i = 0; i < bytes; ++i) value |= uint64_t{static_cast<unsigned char>(in[offset + i])} << (8 * i);
    return value;
}

}  // namespace

void write_tensor_archive(const std::string& path, const std::string& magic, uint32_t version,
                          const nlohmann::json& meta,
                          const std::vector<std::pair<std::string, torch::Tensor>>& tensors, StoredType stored) {
    if (magic.size() != 8) throw Error("internal: archive magic must be 8 bytes, got \"" + magic + "\"");
    std::string data;
    nlohmann::json entries = nlohmann::json::array();
    for (const auto& [name, tensor] : tensors) {
        torch::Tensor values = tensor.detach().to(torch::kCPU);
        std::string dtype;
        if (values.scalar_type() == torch::kUInt8) {
            dtype = "u8";
        } else if (values.scalar_type() == torch::kInt64) {
            dtype = "i64";
        } else {
            dtype = stored == StoredType::Float16 ? "f16" : "f32";
            values = values.to(stored == StoredType::Float16 ? torch::kFloat16 : torch::kFloat32);
        }
        values = values.contiguous();
        const size_t size = static_cast<size_t>(values.numel()) * values.element_size();
        entries.push_back({{"name", name},
                           {"dtype", dtype},
                           {"shape", values.sizes().vec()},
                           {"offset", data.size()},
                           {"size", size}});
        data.append(static_cast<const char*>(values.data_ptr()), size);
    }
    const nlohmann::json header_json = {
        {"meta", meta}, {"tensors", entries}, {"data_size", data.size()}, {"data_crc32", crc32_of(data.data(), data.size())}};
    const std::string header = header_json.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);

    std::string bytes = magic;
    append_le(bytes, version, 4);
    append_le(bytes, header.size(), 8);
    bytes += header;
    append_le(bytes, crc32_of(header.data(), header.size()), 4);
    bytes += data;
    write_file_atomically(path, bytes);
}

TensorArchive read_tensor_archive(const std::string& path, const std::string& magic, uint32_t newest_version,
                                  const std::string& kind) {
    const std::string bytes = read_file(path);
    if (bytes.size() < kPreambleSize || bytes.compare(0, 8, magic) != 0)
        throw Error(path, "not a " + kind + " file (no \"" + magic + "\" magic at the start)");
    TensorArchive archive;
    archive.version = static_cast<uint32_t>(read_le(bytes, 8, 4));
    if (archive.version < 1 || archive.version > newest_version)
        throw Error(path, kind + " format version " + std::to_string(archive.version) +
                              " is not supported (this pupembed reads versions 1 to " + std::to_string(newest_version) +
                              "; a newer file needs a newer pupembed)");
    const uint64_t header_size = read_le(bytes, 12, 8);
    if (header_size > kMaxHeaderSize || bytes.size() - kPreambleSize < header_size + 4)
        throw Error(path, "truncated or damaged " + kind + " file (header runs past the end of the file)");
    const std::string header = bytes.substr(kPreambleSize, header_size);
    if (crc32_of(header.data(), header.size()) != read_le(bytes, kPreambleSize + header_size, 4))
        throw Error(path, "damaged " + kind + " file (header checksum mismatch)");

    const size_t data_start = kPreambleSize + header_size + 4;
    const size_t data_size = bytes.size() - data_start;
    try {
        nlohmann::json parsed;
        try {
            parsed = parse_json_bounded(header, "header");
        } catch (const Error& e) {
            throw Error(path, "damaged " + kind + " file (" + e.what() + ")");
        }
        if (parsed.at("data_size").get<uint64_t>() != data_size)
            throw Error(path, "truncated or damaged " + kind + " file (tensor data is " + std::to_string(data_size) +
                                  " bytes, header says " + std::to_string(parsed.at("data_size").get<uint64_t>()) + ")");
        if (crc32_of(bytes.data() + data_start, data_size) != parsed.at("data_crc32").get<uint32_t>())
            throw Error(path, "damaged " + kind + " file (tensor data checksum mismatch)");
        archive.meta = parsed.at("meta");
        for (const auto& entry : parsed.at("tensors")) {
            const std::string name = entry.at("name").get<std::string>();
            const std::string dtype = entry.at("dtype").get<std::string>();
            const auto shape = entry.at("shape").get<std::vector<int64_t>>();
            const uint64_t offset = entry.at("offset").get<uint64_t>();
            const uint64_t size = entry.at("size").get<uint64_t>();
            const size_t element = dtype == "f32" ? 4 : dtype == "f16" ? 2 : dtype == "u8" ? 1 : dtype == "i64" ? 8 : 0;
            if (element == 0) throw Error(path, "damaged " + kind + " file (tensor " + name + " has dtype " + dtype + ")");
            uint64_t count = 1;
            for (const int64_t d : shape) {
                if (d < 0 || (d > 0 && count > (uint64_t{1} << 40) / uint64_t(d)))
                    throw Error(path, "damaged " + kind + " file (tensor " + name + " has a bad shape)");
                count *= uint64_t(d);
            }
            if (count * element != size || offset > data_size || size > data_size - offset)
                throw Error(path, "damaged " + kind + " file (tensor " + name + " does not fit the data)");
            const auto type = dtype == "f32" ? torch::kFloat32
                              : dtype == "f16" ? torch::kFloat16
                              : dtype == "u8"  ? torch::kUInt8
                                               : torch::kInt64;
            torch::Tensor tensor = torch::empty(shape, type);
            std::memcpy(tensor.data_ptr(), bytes.data() + data_start + offset, size);
            archive.tensors[name] = type == torch::kFloat16 ? tensor.to(torch::kFloat32) : tensor;
        }
    } catch (const nlohmann::json::exception& e) {
        throw Error(path, "damaged " + kind + " file (bad header: " + e.what() + ")");
    }
    return archive;
}

}  // namespace pupembed
