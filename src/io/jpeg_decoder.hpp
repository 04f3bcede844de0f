// Strict JPEG decoding with libjpeg-turbo.
#pragma once

#include <cstdint>
#include <string>

#include "pupembed/io/image.hpp"

namespace pupembed {

/// Decodes a JPEG (baseline or progressive; grey, YCbCr, CMYK) to 8-bit RGB, as stored (the EXIF
/// orientation is not applied here). Unlike OpenCV's decoder, which fills a damaged or truncated
/// file's missing data with grey and prints a warning on stderr, this throws Error naming `name`,
/// and prints nothing. With `eighths` below 8 it decodes at that scale in libjpeg's DCT domain:
/// ceil(width * eighths / 8) x ceil(height * eighths / 8) pixels, without the inverse DCT,
/// upsampling and colour conversion of the rest (the entropy decoding of the whole file remains).
Image decode_jpeg(const std::string& bytes, const std::string& name, unsigned eighths = 8);

/// The scale, in eighths, at which to decode a `width` x `height` JPEG whose shorter side will be
/// shrunk to `min_shorter_side`: 1 (1/8) or 2 (1/4) where that still gives at least that many
/// pixels, else 8 (in full; also for `min_shorter_side` 0). Only these two because there libjpeg's
/// scaled inverse DCT averages blocks as an area resize does: embeddings of photos decoded at 1/8
/// or 1/4 then resized match those of photos decoded in full (cosine 0.9987 and more, median
/// 0.9998, over 200 photos each), while at 3/8, 4/8 and 5/8 .. 7/8 the sharper result moved
/// embeddings to cosine 0.94 and Recall@1 on imagewoof-320-dev by 0.008 (scripts/bench-large-photos.sh).
unsigned jpeg_scale_eighths(int64_t width, int64_t height, int min_shorter_side);

}  // namespace pupembed
