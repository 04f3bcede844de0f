#include "photo_fixtures.hpp"

#include <cstdint>
#include <cstdio>  // jpeglib.h needs FILE
#include <cstdlib>
#include <functional>
#include <stdexcept>
#include <vector>

#include <jpeglib.h>
#include <opencv2/core.hpp>
#include <opencv2/imgcodecs.hpp>
#include <zlib.h>

namespace pupembed::testing {

std::string tiff_orientation(int value) {
    return std::string("II\x2a\x00\x08\x00\x00\x00", 8) + std::string("\x01\x00", 2) +
           std::string("\x12\x01\x03\x00\x01\x00\x00\x00", 8) + char(value) + std::string("\x00\x00\x00", 3) +
           std::string(4, '\0');
}

std::string with_jpeg_orientation(const std::string& jpeg, int value) {
    const std::string payload = std::string("Exif\0\0", 6) + tiff_orientation(value);
    const size_t length = payload.size() + 2;
    const std::string segment = std::string("\xFF\xE1", 2) + char(length >> 8) + char(length & 0xff) + payload;
    return jpeg.substr(0, 2) + segment + jpeg.substr(2);
}

std::string with_png_orientation(const std::string& png, int value) {
    const std::string data = tiff_orientation(value);
    const std::string type_and_data = "eXIf" + data;
    const uint32_t crc = static_cast<uint32_t>(crc32(0, reinterpret_cast<const Bytef*>(type_and_data.data()),
                                                     static_cast<uInt>(type_and_data.size())));
    auto be32 = [](uint32_t v) { return std::string{char(v >> 24), char((v >> 16) & 0xff), char((v >> 8) & 0xff), char(v & 0xff)}; };
    const std::string chunk = be32(uint32_t(data.size())) + type_and_data + be32(crc);
    const size_t after_ihdr = 8 + 25;
    return png.substr(0, after_ihdr) + chunk + png.substr(after_ihdr);
}


std::string jpeg_bytes(const cv::Mat& bgr, int quality, bool progressive) {
    std::vector<uchar> bytes;
    if (!cv::imencode(".jpg", bgr, bytes, {cv::IMWRITE_JPEG_QUALITY, quality, cv::IMWRITE_JPEG_PROGRESSIVE, progressive ? 1 : 0}))
        throw std::runtime_error("cannot encode a JPEG");
    return std::string(bytes.begin(), bytes.end());
}

std::string sideways_jpeg(const cv::Mat& bgr, int quality) {
    cv::Mat stored;
    cv::rotate(bgr, stored, cv::ROTATE_90_COUNTERCLOCKWISE);
    return with_jpeg_orientation(jpeg_bytes(stored, quality), 6);
}

namespace {

/// A JPEG made by libjpeg at quality 95 from `components`-channel rows in `space`, each row
/// given by `row(y)`; arithmetic-coded with `arithmetic`.
std::string libjpeg_bytes(int width, int height, int components, J_COLOR_SPACE space, bool arithmetic,
                          const std::function<const unsigned char*(int)>& row) {
    jpeg_compress_struct info;
    jpeg_error_mgr errors;
    info.err = jpeg_std_error(&errors);  // the fixture's own input: libjpeg's default exit is fine
    jpeg_create_compress(&info);
    unsigned char* buffer = nullptr;
    unsigned long size = 0;
    jpeg_mem_dest(&info, &buffer, &size);
    info.image_width = JDIMENSION(width);
    info.image_height = JDIMENSION(height);
    info.input_components = components;
    info.in_color_space = space;
    jpeg_set_defaults(&info);
    info.arith_code = arithmetic ? TRUE : FALSE;
    jpeg_set_quality(&info, 95, TRUE);
    jpeg_start_compress(&info, TRUE);
    while (info.next_scanline < info.image_height) {
        unsigned char* rows[] = {const_cast<unsigned char*>(row(int(info.next_scanline)))};
        jpeg_write_scanlines(&info, rows, 1);
    }
    jpeg_finish_compress(&info);
    jpeg_destroy_compress(&info);
    std::string bytes(reinterpret_cast<const char*>(buffer), size);
    std::free(buffer);
    return bytes;
}

}  // namespace

std::string cmyk_jpeg(int width, int height) {
    std::vector<unsigned char> row(size_t(width) * 4);
    for (int x = 0; x < width; ++x) {
        const bool inked = x >= width / 2;
        // Inverted: 255 is no ink; C, M, Y without ink, K full on the right.
        row[size_t(x) * 4 + 0] = row[size_t(x) * 4 + 1] = row[size_t(x) * 4 + 2] = 255;
        row[size_t(x) * 4 + 3] = inked ? 0 : 255;
    }
    return libjpeg_bytes(width, height, 4, JCS_CMYK, false, [&](int) { return row.data(); });
}

std::string arithmetic_jpeg(const cv::Mat& bgr) {
    return libjpeg_bytes(bgr.cols, bgr.rows, 3, JCS_EXT_BGR, true, [&](int y) { return bgr.ptr<unsigned char>(y); });
}

}  // namespace pupembed::testing
