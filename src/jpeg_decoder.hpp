// Strict JPEG decoding with libjpeg-turbo.
#pragma once

#include <opencv2/core.hpp>
#include <string>

namespace pupembed {

/// Decodes a JPEG (baseline or progressive; grey, YCbCr, CMYK) to an 8-bit RGB matrix. Unlike
/// OpenCV's decoder, which fills a damaged or truncated file's missing data with grey and prints
/// a warning on stderr, this throws Error naming `name`, and prints nothing.
cv::Mat decode_jpeg_rgb(const std::string& bytes, const std::string& name);

}  // namespace pupembed
