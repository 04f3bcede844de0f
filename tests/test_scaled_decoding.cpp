// JPEGs decoded at the scale a network needs (libjpeg's DCT scaling) instead of in full.
#include <gtest/gtest.h>

#include <cmath>
#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>

#include "io/jpeg_decoder.hpp"
#include "photo_fixtures.hpp"
#include "pupembed/core/error.hpp"
#include "pupembed/io/image.hpp"
#include "test_support.hpp"

using pupembed::decode_image;
using pupembed::Image;

namespace {

/// A smooth colour pattern with an off-centre feature, so that a wrong turn or mirror shows.
cv::Mat pattern(int width, int height) {
    cv::Mat bgr(height, width, CV_8UC3);
    for (int y = 0; y < height; ++y)
        for (int x = 0; x < width; ++x)
            bgr.at<cv::Vec3b>(y, x) = cv::Vec3b(uchar(255 * x / std::max(1, width - 1)), uchar(255 * y / std::max(1, height - 1)),
                                                uchar(x < width / 4 && y < height / 3 ? 255 : 40));
    return bgr;
}

std::string jpeg_of(const cv::Mat& bgr, bool progressive = false, int quality = 95) {
    return pupembed::testing::jpeg_bytes(bgr, quality, progressive);
}

int eighths_to_ceil(int side, int eighths) { return (side * eighths + 7) / 8; }

/// Mean absolute difference per channel value between `image` and `reference` shrunk to its size.
double difference_from_shrunk(const Image& image, const Image& reference) {
    const cv::Mat full(reference.height, reference.width, CV_8UC3, const_cast<uint8_t*>(reference.rgb.data()));
    cv::Mat shrunk;
    cv::resize(full, shrunk, cv::Size(image.width, image.height), 0, 0, cv::INTER_AREA);
    const cv::Mat scaled(image.height, image.width, CV_8UC3, const_cast<uint8_t*>(image.rgb.data()));
    return cv::norm(scaled, shrunk, cv::NORM_L1) / double(scaled.total() * 3);
}

}  // namespace

TEST(ScaledDecoding, ChoosesAQuarterOrAnEighthWhereTheyStillGiveTheSizeAskedFor) {
    using pupembed::jpeg_scale_eighths;
    EXPECT_EQ(jpeg_scale_eighths(4032, 3024, 182), 1u);  // 504 x 378
    EXPECT_EQ(jpeg_scale_eighths(3024, 4032, 182), 1u);
    EXPECT_EQ(jpeg_scale_eighths(1940, 1449, 182), 1u);  // libjpeg rounds 181.1 up to 182
    EXPECT_EQ(jpeg_scale_eighths(1940, 1448, 182), 2u);  // 1/8 gives exactly 181
    EXPECT_EQ(jpeg_scale_eighths(970, 725, 182), 2u);    // 1/4: 181.25, rounded up
    EXPECT_EQ(jpeg_scale_eighths(966, 724, 182), 8u);    // 3/8 .. 7/8 are never used
    EXPECT_EQ(jpeg_scale_eighths(320, 240, 182), 8u);
    EXPECT_EQ(jpeg_scale_eighths(64, 64, 182), 8u);      // smaller than asked for: in full
    EXPECT_EQ(jpeg_scale_eighths(4032, 3024, 0), 8u);    // nothing asked for: in full
    EXPECT_EQ(jpeg_scale_eighths(1, 1, 1), 1u);          // ceil(1/8) is still 1 pixel
    EXPECT_EQ(jpeg_scale_eighths(9, 1000, 2), 1u);       // ceil(9 * 1/8) = 2
    EXPECT_EQ(jpeg_scale_eighths(9, 1000, 3), 2u);       // ceil(9 * 2/8) = 3
    EXPECT_EQ(jpeg_scale_eighths(9, 1000, 4), 8u);
}

TEST(ScaledDecoding, EachScaleGivesItsSizeAndThePicture) {
    // Sizes that are not multiples of 8 (nor of the 16 x 16 colour blocks), odd and square.
    for (const auto& [width, height] : {std::pair{1001, 757}, std::pair{640, 480}, std::pair{33, 47}, std::pair{200, 200}}) {
        for (const bool progressive : {false, true}) {
            const std::string jpeg = jpeg_of(pattern(width, height), progressive);
            const Image full = decode_image(jpeg, "full.jpg");
            ASSERT_EQ(full.width, width);
            for (unsigned eighths = 1; eighths <= 8; ++eighths) {
                const std::string label = std::to_string(width) + "x" + std::to_string(height) + (progressive ? " progressive" : "") +
                                          " at " + std::to_string(eighths) + "/8";
                const Image scaled = pupembed::decode_jpeg(jpeg, "scaled.jpg", eighths);
                EXPECT_EQ(scaled.width, eighths_to_ceil(width, int(eighths))) << label;
                EXPECT_EQ(scaled.height, eighths_to_ceil(height, int(eighths))) << label;
                ASSERT_EQ(scaled.rgb.size(), size_t(scaled.width) * scaled.height * 3) << label;
                // The same picture as the full decode shrunk to that size (a smooth pattern: a few
                // levels of 255 apart at most, mostly from the edges of the tiny sizes).
                EXPECT_LT(difference_from_shrunk(scaled, full), std::min(width, height) < 64 ? 12.0 : 4.0) << label;
            }
            // Through decode_image: the scale chosen for the size asked for, and the full size kept.
            for (const int asked : {1, 2, 30, 60, 120, 182}) {
                const unsigned eighths = pupembed::jpeg_scale_eighths(width, height, asked);
                const Image image = decode_image(jpeg, "photo.jpg", {}, asked);
                EXPECT_EQ(image.width, eighths_to_ceil(width, int(eighths))) << asked;
                EXPECT_EQ(image.height, eighths_to_ceil(height, int(eighths))) << asked;
                EXPECT_GE(std::min(image.width, image.height), std::min({asked, width, height})) << asked;
                EXPECT_EQ(image.photo_width, width);
                EXPECT_EQ(image.photo_height, height);
            }
        }
    }
    EXPECT_ERROR_CONTAINS(pupembed::decode_jpeg(jpeg_of(pattern(8, 8)), "a.jpg", 9), "a.jpg: JPEG scale must be 1/8 to 8/8");
}

TEST(ScaledDecoding, OnePixelAndFullDecodeOption) {
    const std::string dot = jpeg_of(cv::Mat(1, 1, CV_8UC3, cv::Scalar(10, 200, 30)));
    const Image one = decode_image(dot, "dot.jpg", {}, 182);
    EXPECT_EQ(one.width, 1);
    EXPECT_EQ(one.height, 1);
    EXPECT_NEAR(one.rgb[1], 200, 3);

    const std::string jpeg = jpeg_of(pattern(1600, 1200));
    pupembed::ImageLoadOptions full_decode;
    full_decode.full_decode = true;
    EXPECT_EQ(decode_image(jpeg, "a.jpg", {}, 182).width, 400);  // 2/8: 300 >= 182 > 150
    EXPECT_EQ(decode_image(jpeg, "a.jpg", full_decode, 182).width, 1600);
}

TEST(ScaledDecoding, ExifOrientationsTurnTheScaledPicture) {
    // A non-square photo in each of the 8 orientations, decoded at 2/8: the same picture and size
    // as the full decode (whose orientation handling is checked in test_image) shrunk.
    const std::string jpeg = jpeg_of(pattern(480, 320));
    for (int orientation = 1; orientation <= 8; ++orientation) {
        const std::string bytes = pupembed::testing::with_jpeg_orientation(jpeg, orientation);
        const Image full = decode_image(bytes, "full.jpg");
        const Image scaled = decode_image(bytes, "scaled.jpg", {}, 80);
        const bool turned = orientation >= 5;
        EXPECT_EQ(scaled.width, turned ? 80 : 120) << orientation;
        EXPECT_EQ(scaled.height, turned ? 120 : 80) << orientation;
        EXPECT_EQ(scaled.photo_width, full.width) << orientation;
        EXPECT_EQ(scaled.photo_height, full.height) << orientation;
        EXPECT_EQ(full.photo_width, full.width) << orientation;
        EXPECT_LT(difference_from_shrunk(scaled, full), 4.0) << "orientation " << orientation;
    }
}

TEST(ScaledDecoding, CmykAndGreyJpegs) {
    const std::string cmyk = pupembed::testing::cmyk_jpeg(400, 240);
    for (const int asked : {0, 30}) {
        const Image image = decode_image(cmyk, "cmyk.jpg", {}, asked);
        EXPECT_EQ(image.width, asked ? 50 : 400);  // 1/8: 30 x 50
        const auto at = [&](int x, int y) { return image.rgb[(size_t(y) * image.width + x) * 3]; };
        EXPECT_GT(at(image.width / 8, image.height / 2), 240) << "no ink is white";
        EXPECT_LT(at(image.width * 7 / 8, image.height / 2), 15) << "full black ink is black";
    }
    cv::Mat grey(300, 500, CV_8UC1, cv::Scalar(90));
    const Image scaled = decode_image(jpeg_of(grey), "grey.jpg", {}, 75);
    EXPECT_EQ(scaled.width, 125);  // 1/4: 125 x 75
    EXPECT_NEAR(scaled.rgb[0], 90, 2);
    EXPECT_EQ(scaled.rgb[0], scaled.rgb[2]);
}

TEST(ScaledDecoding, ThePixelLimitIsJudgedFromTheFullSizeBeforeDecoding) {
    // A 1 x 1 JPEG whose frame header claims 65,535 x 65,535: refused at once, scaled or not.
    std::string bomb = jpeg_of(cv::Mat(1, 1, CV_8UC3, cv::Scalar(1, 2, 3)));
    const size_t sof = bomb.find("\xFF\xC0");
    ASSERT_NE(sof, std::string::npos);
    bomb.replace(sof + 5, 4, std::string("\xFF\xFF\xFF\xFF", 4));
    // Judged from the frame header (the size it names), not after allocating or decoding 4 gigapixels.
    EXPECT_ERROR_CONTAINS(decode_image(bomb, "bomb.jpg", {}, 182), "bomb.jpg: JPEG of 65535x65535 pixels is larger than the limit");
    // The limit counts the full size, not the 1/8 scale (a 4000 x 3000 photo is 12 megapixels).
    pupembed::ImageLoadOptions limit;
    limit.max_pixels = 10'000'000;
    const std::string photo = jpeg_of(pattern(4000, 3000), false, 60);
    EXPECT_ERROR_CONTAINS(decode_image(photo, "photo.jpg", limit, 182), "larger than the limit of 10000000");
    limit.max_pixels = 12'000'000;
    EXPECT_EQ(decode_image(photo, "photo.jpg", limit, 182).width, 500);
}

TEST(ScaledDecoding, DamagedLargeJpegsGiveTheOneLineError) {
    cv::Mat noise(1500, 2000, CV_8UC3);
    cv::randu(noise, 0, 255);
    const std::string whole = jpeg_of(noise, false, 90);
    // Cut in the middle with an end marker added, and bytes with markers among them written over
    // the middle (the entropy decoder cannot tell other damage from data, at any scale).
    const std::string cut = whole.substr(0, whole.size() / 2) + "\xFF\xD9";
    std::string garbled = whole;
    for (size_t i = whole.size() / 3; i < whole.size() / 3 + 4000; ++i) garbled[i] = char(i * 7919 % 256);
    for (const std::string& bytes : {cut, garbled}) {
        for (const int asked : {0, 182}) {
            const std::string message = pupembed::testing::error_message_of([&] { decode_image(bytes, "big.jpg", {}, asked); });
            EXPECT_EQ(message.rfind("big.jpg: damaged JPEG", 0), 0u) << message;
            EXPECT_EQ(message.find('\n'), std::string::npos) << message;
        }
    }
}
