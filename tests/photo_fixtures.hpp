// Photo bytes made by hand for the tests and benchmarks: EXIF orientation blocks spliced into
// encoded JPEGs and PNGs, photos stored sideways, and a CMYK JPEG (which OpenCV cannot write).
#pragma once

#include <string>

#include <opencv2/core.hpp>

namespace pupembed::testing {

/// A little-endian TIFF block holding one IFD entry: orientation = `value` (1-8).
std::string tiff_orientation(int value);

/// `jpeg` with an APP1 Exif segment saying orientation `value`, right after its SOI marker.
std::string with_jpeg_orientation(const std::string& jpeg, int value);

/// `png` with an eXIf chunk saying orientation `value`, right after its IHDR chunk.
std::string with_png_orientation(const std::string& png, int value);

/// `bgr` as a JPEG of `quality` (1-100), baseline or progressive.
std::string jpeg_bytes(const cv::Mat& bgr, int quality, bool progressive = false);

/// The upright photo `bgr` as a phone held upright stores it: turned left, with EXIF orientation
/// 6 saying to turn it right.
std::string sideways_jpeg(const cv::Mat& bgr, int quality);

/// A `width` x `height` CMYK JPEG in Adobe's inverted convention (as Photoshop writes them):
/// its left half without ink (white), its right half full black ink.
std::string cmyk_jpeg(int width, int height);

/// `bgr` as a JPEG whose data is arithmetic-coded (libjpeg-turbo writes them; few programs do).
std::string arithmetic_jpeg(const cv::Mat& bgr);

}  // namespace pupembed::testing
