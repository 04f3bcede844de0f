// Model files. The input is the header's JSON text, a NUL byte, then the tensor data. The
// target builds a PUPMODEL file of them; when the text is a JSON object it first sets the
// data's true size and CRC-32 in it, so that mutations reach the model settings and the tensor
// table instead of stopping at the checksum. Loading gives a model or pupembed::Error.
#include <zlib.h>

#include <cstring>

#include "core/json_input.hpp"
#include "fuzz_support.hpp"
#include "pupembed/core/error.hpp"
#include "pupembed/model/model.hpp"

namespace {

void append_le(std::string& out, uint64_t value, int bytes) {
    for (int i = 0; i < bytes; ++i) out += char((value >> (8 * i)) & 0xff);
}

uint32_t crc_of(const std::string& bytes) {
    return uint32_t(crc32(crc32(0L, Z_NULL, 0), reinterpret_cast<const Bytef*>(bytes.data()), uInt(bytes.size())));
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    const std::string input = pupembed::fuzz::bytes_of(data, size);
    const size_t split = std::min(input.find('\0'), input.size());
    std::string header = input.substr(0, split);
    const std::string tensors = split < input.size() ? input.substr(split + 1) : std::string();
    try {
        nlohmann::json parsed = pupembed::parse_json_bounded(header, "fuzz");
        if (parsed.is_object()) {
            parsed["data_size"] = tensors.size();
            parsed["data_crc32"] = crc_of(tensors);
            header = parsed.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
        }
    } catch (const pupembed::Error&) {
        // Not JSON, or nested too deeply: written as it is, for the reader to refuse.
    }
    std::string file = "PUPMODEL";
    append_le(file, pupembed::kModelFormatVersion, 4);
    append_le(file, header.size(), 8);
    file += header;
    append_le(file, crc_of(header), 4);
    file += tensors;
    try {
        (void)pupembed::load_model(pupembed::fuzz::scratch_file("model.pt", file));
    } catch (const pupembed::Error&) {
    }
    return 0;
}
