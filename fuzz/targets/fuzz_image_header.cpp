// The image-header reader alone (format, size, EXIF orientation), judged before any decoding.
#include "fuzz_support.hpp"
#include "io/image_header.hpp"
#include "pupembed/core/error.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    try {
        const pupembed::ImageHeader header = pupembed::read_image_header(pupembed::fuzz::bytes_of(data, size), "fuzz");
        if (header.width <= 0 || header.height <= 0 || header.orientation < 1 || header.orientation > 8) __builtin_trap();
    } catch (const pupembed::Error&) {
    }
    return 0;
}
