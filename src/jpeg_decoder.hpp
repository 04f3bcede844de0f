// Strict JPEG decoding with libjpeg-turbo.
#pragma once

#include <cstdint>
#include <string>

#include "pupembed/image.hpp"

namespace pupembed {

/// Decodes a JPEG (baseline or progressive; grey, YCbCr, CMYK) to 8-bit RGB, as stored (the EXIF
/// orientation is not applied here). Unlike OpenCV's decoder, which fills a damaged or truncated
/// file's missing data with grey and prints a warning on stderr, this throws Error naming `name`,
/// and prints nothing.
/// With `min_shorter_side` > 0 the image is decoded at the smallest of libjpeg's DCT-domain scales
/// (1/8 .. 8/8, see jpeg_scale_eighths) whose shorter side is still at least that many pixels:
/// what a full decode spends on the inverse DCT, upsampling and colour conversion of every
/// pixel is saved; the entropy decoding of the whole file remains.
Image decode_jpeg(const std::string& bytes, const std::string& name, int min_shorter_side = 0);

/// The scale, in eighths (1..8), at which decode_jpeg decodes a `width` x `height` JPEG for
/// `min_shorter_side` (8 when that is 0 or the image is not larger than it). The result is
/// ceil(width * eighths / 8) x ceil(height * eighths / 8) pixels.
unsigned jpeg_scale_eighths(int64_t width, int64_t height, int min_shorter_side);

}  // namespace pupembed
