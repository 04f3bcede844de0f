// What an image file's header says, read without decoding it.
#pragma once

#include <cstdint>
#include <string>

namespace pupembed {

enum class ImageFormat { Jpeg, Png, Webp, Bmp };

const char* format_name(ImageFormat format);

/// Format, size and EXIF orientation (1-8, 1 when absent) of an encoded image.
struct ImageHeader {
    ImageFormat format = ImageFormat::Jpeg;
    int64_t width = 0;
    int64_t height = 0;
    int orientation = 1;
};

/// Reads the header of a JPEG, PNG, WebP or BMP file held in `bytes`. Throws Error naming `name`
/// if the file is empty, of another format, has a damaged header, or is visibly truncated
/// (a JPEG without its end marker, a PNG without its end chunk, a WebP or BMP shorter than its
/// header says).
ImageHeader read_image_header(const std::string& bytes, const std::string& name);

}  // namespace pupembed
