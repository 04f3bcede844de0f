// Loading photos (JPEG, PNG, WebP, BMP) as 8-bit RGB, and turning them into network input.
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <vector>

namespace pupembed {

/// Limits applied while loading an image.
struct ImageLoadOptions {
    /// Images whose header says they would decode to more pixels than this are refused unread.
    int64_t max_pixels = 50'000'000;
    /// Images whose longer side is more than this many times their shorter side are refused
    /// unread: scaling the shorter side up to the network's input would make them huge (a
    /// 1 x 20,000 strip becomes 182 x 3,640,000 pixels).
    int64_t max_aspect_ratio = 20;
    /// Files larger than this are refused unread.
    int64_t max_file_bytes = int64_t{512} << 20;
    /// Decode every pixel even where a smaller image is asked for (see load_image): slower on
    /// large photos, for comparing with the reduced decode.
    bool full_decode = false;
};

/// resize_shorter_side() refuses to make images of more pixels than this.
constexpr int64_t kMaxResizedPixels = 64'000'000;

/// An 8-bit RGB image, rows top to bottom, pixels interleaved (R, G, B).
struct Image {
    int width = 0;
    int height = 0;
    std::vector<uint8_t> rgb;  ///< width * height * 3 bytes
    /// For an image loaded from a file, the photo's full size, upright: larger than width x height
    /// when it was decoded at a reduced scale. 0 for images made otherwise.
    int photo_width = 0;
    int photo_height = 0;
};

/// How an image becomes network input: resize so the shorter side is `resize_shorter`, take the
/// centre `input_size` x `input_size` square, scale to [0, 1], subtract `mean` and divide by `std`.
/// With `large_input_size` > 0, photos that have the pixels for more detail (shorter side at least
/// `large_resize_shorter`) are resized to `large_resize_shorter` and cropped to `large_input_size`
/// instead: the network pools over any size, and small photos stay fast.
struct Preprocessing {
    int input_size = 128;
    int resize_shorter = 128;
    std::array<float, 3> mean{0.485f, 0.456f, 0.406f};
    std::array<float, 3> std{0.229f, 0.224f, 0.225f};
    int large_input_size = 0;
    int large_resize_shorter = 0;
};

/// The preprocessing `image` gets: `preprocessing` with its large input and resize as input_size
/// and resize_shorter when the photo (its full size, photo_width x photo_height when set) has a
/// shorter side of at least large_resize_shorter; `preprocessing` itself otherwise.
Preprocessing preprocessing_for(const Preprocessing& preprocessing, const Image& image);

/// Sets the large input: photos with a shorter side of at least `size` + `size` / 7 (224: 256) are
/// resized to that and cropped to `size`. 0 turns it off. Throws Error for a size outside [16, 1024].
void set_large_input(Preprocessing& preprocessing, int size);

/// The shorter side photos are decoded to at least: the largest resize of `preprocessing`.
int decode_shorter_side(const Preprocessing& preprocessing);

/// The largest network input `preprocessing` gives (the side of the square).
int largest_input_size(const Preprocessing& preprocessing);

/// Loads a JPEG, PNG, WebP or BMP file as RGB: the EXIF orientation is applied, grey becomes RGB,
/// an alpha channel is composited over white, 16-bit samples become 8-bit.
/// With `min_shorter_side` > 0 (the size the caller will shrink it to, such as a network's
/// resize size), a JPEG at least 4 times that on its shorter side is decoded at 1/8 or 1/4 of
/// each side in libjpeg's DCT domain, as long as the shorter side stays at least that (a
/// 4032 x 3024 photo for 182 pixels: 504 x 378), unless `options.full_decode`; other images are
/// decoded in full. photo_width and photo_height give the full size either way.
/// Throws Error naming the file if it is empty, not one of these formats, truncated, damaged,
/// larger than `options.max_pixels` or more elongated than `options.max_aspect_ratio`; all of
/// these limits are judged from the header's full size, before any pixel is decoded.
Image load_image(const std::string& path, const ImageLoadOptions& options = {}, int min_shorter_side = 0);

/// As load_image, from the file's bytes; `name` is used in error messages.
Image decode_image(const std::string& bytes, const std::string& name, const ImageLoadOptions& options = {},
                   int min_shorter_side = 0);

/// Resizes so that the shorter side is `shorter` pixels, keeping the aspect ratio: area averaging
/// when shrinking (by 2 or more: exact halvings, then bilinear for the rest), bilinear when
/// enlarging. Throws Error if the result would
/// have more than kMaxResizedPixels pixels.
Image resize_shorter_side(const Image& image, int shorter);

/// The `width` x `height` region whose top-left corner is (`x`, `y`); throws Error if it does not fit.
Image crop(const Image& image, int x, int y, int width, int height);

/// The centred `size` x `size` square (the image must be at least that large).
Image center_crop(const Image& image, int size);

/// Writes the image as normalised float CHW planes (3 * height * width values) to `out`.
void to_normalized_chw(const Image& image, const std::array<float, 3>& mean, const std::array<float, 3>& std,
                       float* out);

/// resize_shorter_side, center_crop and to_normalized_chw with the settings of `preprocessing`;
/// writes 3 * input_size * input_size floats to `out`.
void preprocess(const Image& image, const Preprocessing& preprocessing, float* out);

}  // namespace pupembed
