// Strict PNG decoding with libpng's simplified API.
#pragma once

#include <opencv2/core.hpp>
#include <string>

namespace pupembed {

/// Decodes a PNG (any bit depth, grey, palette, RGB, with or without alpha or tRNS) to a BGR
/// matrix: 8-bit samples as 8-bit BGR, or BGRA when the image has transparency; 16-bit samples
/// as 16-bit BGR (unconverted, as OpenCV gives them), transparency composited over white. Unlike OpenCV's decoder, which lets
/// libpng print its warnings and errors on stderr and may return a truncated image, this
/// throws Error naming `name` for damaged data and prints nothing.
cv::Mat decode_png(const std::string& bytes, const std::string& name);

}  // namespace pupembed
