#include <gtest/gtest.h>
#include <zlib.h>

#include <opencv2/imgcodecs.hpp>
#include <random>

#include "photo_fixtures.hpp"
#include "pupembed/core/error.hpp"
#include "pupembed/io/image.hpp"
#include "test_support.hpp"

using pupembed::decode_image;
using pupembed::Error;
using pupembed::Image;
using pupembed::testing::with_jpeg_orientation;
using pupembed::testing::with_png_orientation;

namespace {

/// Encodes a BGR / BGRA / grey matrix with OpenCV (".jpg", ".png", ".webp", ".bmp").
std::string encode(const cv::Mat& mat, const std::string& extension, std::vector<int> params = {}) {
    std::vector<uchar> buffer;
    if (!cv::imencode(extension, mat, buffer, params)) throw std::runtime_error("cannot encode " + extension);
    return std::string(buffer.begin(), buffer.end());
}

/// 32 x 16, left half red, right half blue (given as BGR).
cv::Mat red_blue() {
    cv::Mat mat(16, 32, CV_8UC3, cv::Scalar(0, 0, 255));
    mat(cv::Rect(16, 0, 16, 16)).setTo(cv::Scalar(255, 0, 0));
    return mat;
}

std::array<int, 3> pixel(const Image& image, int x, int y) {
    const size_t at = (size_t(y) * image.width + x) * 3;
    return {image.rgb[at], image.rgb[at + 1], image.rgb[at + 2]};
}

bool is_red(const std::array<int, 3>& p) { return p[0] > 200 && p[1] < 60 && p[2] < 60; }
bool is_blue(const std::array<int, 3>& p) { return p[0] < 60 && p[1] < 60 && p[2] > 200; }

std::string error_of(const std::string& bytes, const pupembed::ImageLoadOptions& options = {}) {
    try {
        decode_image(bytes, "dog.img", options);
    } catch (const Error& e) {
        const std::string message = e.what();
        EXPECT_EQ(message.rfind("dog.img: ", 0), 0u) << "message must start with the file name: " << message;
        return message;
    }
    return "no error";
}

const char* const kFormats[] = {".jpg", ".png", ".webp", ".bmp"};

}  // namespace

TEST(ImageLoading, DecodesEachFormatAsRgb) {
    for (const char* extension : kFormats) {
        const Image image = decode_image(encode(red_blue(), extension), std::string("x") + extension);
        ASSERT_EQ(image.width, 32) << extension;
        ASSERT_EQ(image.height, 16) << extension;
        EXPECT_TRUE(is_red(pixel(image, 4, 8))) << extension;    // BGR from OpenCV became RGB
        EXPECT_TRUE(is_blue(pixel(image, 28, 8))) << extension;
    }
}

TEST(ImageLoading, GreyBecomesRgb) {
    for (const char* extension : {".png", ".jpg", ".bmp"}) {
        const Image image = decode_image(encode(cv::Mat(8, 8, CV_8UC1, cv::Scalar(100)), extension), "grey");
        const auto p = pixel(image, 3, 3);
        EXPECT_NEAR(p[0], 100, 2) << extension;
        EXPECT_EQ(p[0], p[1]);
        EXPECT_EQ(p[1], p[2]);
    }
}

TEST(ImageLoading, SixteenBitBecomesEightBit) {
    const Image image = decode_image(encode(cv::Mat(4, 4, CV_16UC3, cv::Scalar(65535, 0, 32896)), ".png"), "deep.png");
    EXPECT_EQ(pixel(image, 0, 0), (std::array<int, 3>{128, 0, 255}));
}

TEST(ImageLoading, AlphaIsCompositedOverWhite) {
    cv::Mat bgra(8, 8, CV_8UC4, cv::Scalar(0, 0, 0, 255));
    bgra(cv::Rect(4, 0, 4, 8)).setTo(cv::Scalar(0, 0, 0, 0));  // right half: transparent black
    bgra(cv::Rect(0, 0, 1, 1)).setTo(cv::Scalar(0, 0, 0, 128));
    for (const char* extension : {".png", ".webp"}) {
        std::vector<int> params;
        if (std::string(extension) == ".webp") params = {cv::IMWRITE_WEBP_QUALITY, 101};  // lossless
        const Image image = decode_image(encode(bgra, extension, params), "alpha");
        EXPECT_EQ(pixel(image, 2, 4), (std::array<int, 3>{0, 0, 0})) << extension;
        EXPECT_EQ(pixel(image, 6, 4), (std::array<int, 3>{255, 255, 255})) << extension;
        EXPECT_NEAR(pixel(image, 0, 0)[0], 127, 2) << extension;
    }
}

TEST(ImageLoading, HonoursExifOrientation) {
    const std::string jpeg = encode(red_blue(), ".jpg", {cv::IMWRITE_JPEG_QUALITY, 95});
    const std::string png = encode(red_blue(), ".png");
    for (const std::string& bytes : {with_jpeg_orientation(jpeg, 6), with_png_orientation(png, 6)}) {
        // 6: the stored image must be turned 90 degrees clockwise; its left column becomes the top row.
        const Image image = decode_image(bytes, "rotated");
        ASSERT_EQ(image.width, 16);
        ASSERT_EQ(image.height, 32);
        EXPECT_TRUE(is_red(pixel(image, 8, 4)));
        EXPECT_TRUE(is_blue(pixel(image, 8, 28)));
    }
    const Image turned = decode_image(with_jpeg_orientation(jpeg, 3), "upside-down.jpg");  // 180 degrees
    EXPECT_EQ(turned.width, 32);
    EXPECT_TRUE(is_blue(pixel(turned, 4, 8)));
    EXPECT_TRUE(is_red(pixel(turned, 28, 8)));
    const Image mirrored = decode_image(with_jpeg_orientation(jpeg, 2), "mirrored.jpg");
    EXPECT_TRUE(is_blue(pixel(mirrored, 4, 8)));
    const Image upright = decode_image(with_jpeg_orientation(jpeg, 1), "upright.jpg");
    EXPECT_TRUE(is_red(pixel(upright, 4, 8)));
}

TEST(ImageLoading, RefusesEmptyAndNonImages) {
    EXPECT_NE(error_of("").find("empty file"), std::string::npos);
    EXPECT_NE(error_of("hello, I am a text file\n").find("not a JPEG, PNG, WebP or BMP image"), std::string::npos);
    EXPECT_NE(error_of("GIF89a\x01\x00\x01\x00").find("not a JPEG"), std::string::npos);
}

TEST(ImageLoading, RefusesTruncatedFiles) {
    for (const char* extension : kFormats) {
        const std::string whole = encode(red_blue(), extension);
        for (const size_t keep : {whole.size() - 1, whole.size() * 3 / 4, whole.size() / 2, size_t(20)}) {
            const std::string e = error_of(whole.substr(0, keep));
            EXPECT_TRUE(e.find("truncated") != std::string::npos || e.find("damaged") != std::string::npos)
                << extension << " cut to " << keep << " bytes: " << e;
        }
        EXPECT_NE(error_of(whole.substr(0, 3)).find("dog.img"), std::string::npos);
    }
}

TEST(ImageLoading, RefusesJpegWhoseDataEndsEarly) {
    // Cut in the middle of the image data but given an end marker: OpenCV's decoder would fill the
    // rest with grey and return it.
    cv::Mat noise(64, 64, CV_8UC3);
    cv::randu(noise, 0, 255);
    const std::string whole = encode(noise, ".jpg");
    const std::string cut = whole.substr(0, whole.size() / 2) + "\xFF\xD9";
    const std::string e = error_of(cut);
    EXPECT_NE(e.find("damaged JPEG"), std::string::npos) << e;
}

// Issue 27: one changed byte (SOF0 to SOF9) made a Huffman-coded JPEG decode as arithmetic-coded
// noise, with no error.
TEST(ImageLoading, DecodesArithmeticJpegsAndRefusesAMislabelledOne) {
    const Image arithmetic = decode_image(pupembed::testing::arithmetic_jpeg(red_blue()), "arith.jpg");
    EXPECT_TRUE(is_red(pixel(arithmetic, 2, 8)));
    EXPECT_TRUE(is_blue(pixel(arithmetic, 29, 8)));
    std::string mislabelled = encode(red_blue(), ".jpg");
    const size_t frame = mislabelled.find("\xFF\xC0");
    ASSERT_NE(frame, std::string::npos);
    mislabelled[frame + 1] = '\xC9';
    const std::string e = error_of(mislabelled);
    EXPECT_NE(e.find("damaged JPEG (its frame says arithmetic coding, but it holds Huffman tables)"), std::string::npos) << e;
}

namespace {

/// A 4 x 2 BMP of 8 bits a pixel (two palette colours) whose pixels are the run-length codes
/// `codes` (RLE8).
std::string rle8_bmp(const std::string& codes) {
    auto le = [](uint32_t value, int bytes) {
        std::string out;
        for (int i = 0; i < bytes; ++i) out += char((value >> (8 * i)) & 0xff);
        return out;
    };
    const uint32_t offset = 14 + 40 + 8;
    std::string bmp = "BM" + le(offset + uint32_t(codes.size()), 4) + le(0, 4) + le(offset, 4);
    bmp += le(40, 4) + le(4, 4) + le(2, 4) + le(1, 2) + le(8, 2) + le(1, 4) + le(uint32_t(codes.size()), 4) + le(2835, 4) +
           le(2835, 4) + le(2, 4) + le(2, 4);
    bmp += std::string("\x00\x00\xff\x00\xff\x00\x00\x00", 8);  // palette: red, blue (BGR0)
    return bmp + codes;
}

}  // namespace

// Issue 27: a damaged RLE8 BMP made OpenCV print "imdecode_(''): ... Unexpected end of input
// stream" on stderr before our error.
TEST(ImageLoading, RefusesARunLengthBmpThatEndsEarlyAndPrintsNothing) {
    const std::string whole = rle8_bmp(std::string("\x04\x00\x00\x00\x04\x01\x00\x01", 8));
    const Image image = decode_image(whole, "rle.bmp");
    EXPECT_EQ(image.width, 4);
    EXPECT_TRUE(is_red(pixel(image, 0, 1)));   // the first row of the file is the bottom one
    EXPECT_TRUE(is_blue(pixel(image, 3, 0)));
    for (const size_t cut : {size_t(1), size_t(3), size_t(5)}) {
        ::testing::internal::CaptureStderr();
        const std::string e = error_of(whole.substr(0, whole.size() - cut));
        const std::string printed = ::testing::internal::GetCapturedStderr();
        EXPECT_NE(e.find("truncated BMP (its run-length-coded pixels end before the image does)"), std::string::npos) << e;
        EXPECT_EQ(printed, "") << "cut " << cut;
    }
}

TEST(ImageLoading, RefusesImagesOverThePixelLimit) {
    const std::string png = encode(cv::Mat(1000, 2000, CV_8UC3, cv::Scalar(1, 2, 3)), ".png");
    pupembed::ImageLoadOptions options;
    options.max_pixels = 1'000'000;
    const std::string e = error_of(png, options);
    EXPECT_NE(e.find("2000x1000"), std::string::npos) << e;
    EXPECT_NE(e.find("limit of 1000000"), std::string::npos) << e;
    options.max_pixels = 2'000'000;
    EXPECT_EQ(decode_image(png, "big.png", options).width, 2000);

    // A header that claims 100000 x 100000 pixels is refused before anything is allocated.
    std::string huge = encode(cv::Mat(1, 1, CV_8UC3), ".png");
    huge.replace(16, 8, std::string("\x00\x01\x86\xa0\x00\x01\x86\xa0", 8));
    const uint32_t crc = static_cast<uint32_t>(crc32(0, reinterpret_cast<const Bytef*>(huge.data() + 12), 17));
    huge.replace(29, 4, std::string{char(crc >> 24), char((crc >> 16) & 0xff), char((crc >> 8) & 0xff), char(crc & 0xff)});
    EXPECT_NE(error_of(huge).find("larger than the limit"), std::string::npos);
}

TEST(ImageLoading, DamagedBytesGiveAnErrorOrAnImageNeverACrash) {
    std::mt19937 rng(7);
    for (const char* extension : kFormats) {
        const std::string whole = encode(red_blue(), extension);
        for (int trial = 0; trial < 300; ++trial) {
            std::string bytes = whole;
            const int flips = 1 + int(rng() % 8);
            for (int i = 0; i < flips; ++i) bytes[rng() % bytes.size()] = char(rng());
            try {
                const Image image = decode_image(bytes, "fuzz");
                EXPECT_EQ(image.rgb.size(), size_t(image.width) * image.height * 3);
            } catch (const Error&) {
            }
        }
    }
}

TEST(ImageLoading, LoadImageNamesAMissingFile) {
    try {
        pupembed::load_image("/nonexistent/dog.jpg");
        FAIL() << "no error";
    } catch (const Error& e) {
        EXPECT_NE(std::string(e.what()).find("/nonexistent/dog.jpg"), std::string::npos);
    }
}

TEST(Preprocessing, ResizesCropsAndNormalises) {
    Image image;
    image.width = 40;
    image.height = 20;
    image.rgb.assign(40 * 20 * 3, 0);
    for (int y = 0; y < 20; ++y)
        for (int x = 20; x < 40; ++x) image.rgb[(size_t(y) * 40 + x) * 3] = 255;  // right half red
    const Image resized = pupembed::resize_shorter_side(image, 10);
    EXPECT_EQ(resized.width, 20);
    EXPECT_EQ(resized.height, 10);
    const Image cropped = pupembed::center_crop(resized, 10);
    EXPECT_EQ(cropped.width, 10);
    EXPECT_EQ(pixel(cropped, 0, 5)[0], 0);
    EXPECT_EQ(pixel(cropped, 9, 5)[0], 255);

    pupembed::Preprocessing preprocessing;
    preprocessing.input_size = 10;
    preprocessing.resize_shorter = 10;
    std::vector<float> chw(3 * 10 * 10);
    pupembed::preprocess(image, preprocessing, chw.data());
    EXPECT_NEAR(chw[0], (0.0f - 0.485f) / 0.229f, 1e-5);         // R plane, left
    EXPECT_NEAR(chw[9], (1.0f - 0.485f) / 0.229f, 1e-5);         // R plane, right
    EXPECT_NEAR(chw[100 + 9], (0.0f - 0.456f) / 0.224f, 1e-5);   // G plane
    EXPECT_THROW(pupembed::center_crop(image, 30), Error);
}
