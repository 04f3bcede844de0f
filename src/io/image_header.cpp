// Header readers for the four formats pupembed accepts. They find the size (to refuse huge
// images before decoding), the EXIF orientation, and the signs of a truncated file, which some
// decoders would otherwise fill with grey and return as if nothing were wrong.
#include "io/image_header.hpp"

#include <algorithm>
#include <cstring>
#include <zlib.h>

#include "pupembed/core/error.hpp"

namespace pupembed {
namespace {

class Bytes {
public:
    explicit Bytes(const std::string& bytes) : data_(reinterpret_cast<const unsigned char*>(bytes.data())), size_(bytes.size()) {}
    size_t size() const { return size_; }
    uint32_t crc32(size_t offset, size_t count) const {
        return static_cast<uint32_t>(::crc32(::crc32(0L, Z_NULL, 0), data_ + offset, static_cast<uInt>(count)));
    }
    bool has(size_t offset, size_t count) const { return offset <= size_ && count <= size_ - offset; }
    unsigned char at(size_t offset) const { return data_[offset]; }
    uint32_t be16(size_t o) const { return (uint32_t{data_[o]} << 8) | data_[o + 1]; }
    uint32_t be32(size_t o) const { return (be16(o) << 16) | be16(o + 2); }
    uint32_t le16(size_t o) const { return uint32_t{data_[o]} | (uint32_t{data_[o + 1]} << 8); }
    uint32_t le24(size_t o) const { return le16(o) | (uint32_t{data_[o + 2]} << 16); }
    uint32_t le32(size_t o) const { return le16(o) | (le16(o + 2) << 16); }
    /// Whether the two bytes `first`, `second` occur one after the other from `offset` on.
    bool holds_pair(size_t offset, unsigned char first, unsigned char second) const {
        const unsigned char* end = data_ + size_;
        for (const unsigned char* at = data_ + std::min(offset, size_); at + 1 < end; ++at) {
            at = static_cast<const unsigned char*>(std::memchr(at, first, size_t(end - 1 - at)));
            if (!at) return false;
            if (at[1] == second) return true;
        }
        return false;
    }
    bool starts_with(size_t offset, const char* text) const { return starts_with(offset, text, std::strlen(text)); }
    bool starts_with(size_t offset, const char* text, size_t n) const {
        return has(offset, n) && std::memcmp(data_ + offset, text, n) == 0;
    }

private:
    const unsigned char* data_;
    size_t size_;
};

const char kExifId[] = "Exif\0";  // six bytes with the terminating NUL

/// The orientation tag (0x0112) of the first IFD of a TIFF structure ("II*\0" or "MM\0*")
/// occupying bytes [start, start + length); 1 when absent or unreadable.
int exif_orientation(const Bytes& b, size_t start, size_t length) {
    if (length < 8 || !b.has(start, length)) return 1;
    const bool little = b.starts_with(start, "II");
    if (!little && !b.starts_with(start, "MM")) return 1;
    auto u16 = [&](size_t o) { return little ? b.le16(o) : b.be16(o); };
    auto u32 = [&](size_t o) { return little ? b.le32(o) : b.be32(o); };
    const size_t ifd = u32(start + 4);
    if (ifd + 2 > length) return 1;
    const uint32_t entries = u16(start + ifd);
    for (uint32_t i = 0; i < entries; ++i) {
        const size_t entry = ifd + 2 + size_t{i} * 12;
        if (entry + 12 > length) return 1;
        if (u16(start + entry) == 0x0112) {
            const uint32_t value = u16(start + entry + 8);
            return value >= 1 && value <= 8 ? static_cast<int>(value) : 1;
        }
    }
    return 1;
}

ImageHeader read_jpeg(const Bytes& b, const std::string& name) {
    ImageHeader header;
    header.format = ImageFormat::Jpeg;
    size_t pos = 2;
    bool have_size = false;
    while (true) {
        if (!b.has(pos, 4)) throw Error(name, "truncated JPEG (ends inside its header)");
        if (b.at(pos) != 0xFF) throw Error(name, "damaged JPEG (no marker where one was expected)");
        unsigned char marker = b.at(pos + 1);
        while (marker == 0xFF && b.has(pos + 2, 1)) marker = b.at(++pos + 1);  // fill bytes
        if (marker == 0xD8 || (marker >= 0xD0 && marker <= 0xD7) || marker == 0x01) {
            pos += 2;
            continue;
        }
        if (!b.has(pos + 2, 2)) throw Error(name, "truncated JPEG (ends inside its header)");
        const size_t length = b.be16(pos + 2);
        if (length < 2 || !b.has(pos + 2, length)) throw Error(name, "truncated JPEG (ends inside its header)");
        const size_t payload = pos + 4;
        const bool is_sof = marker >= 0xC0 && marker <= 0xCF && marker != 0xC4 && marker != 0xC8 && marker != 0xCC;
        if (is_sof && length >= 7) {
            header.height = b.be16(payload + 1);
            header.width = b.be16(payload + 3);
            have_size = true;
        } else if (marker == 0xE1 && length >= 8 && b.starts_with(payload, kExifId, 6)) {
            header.orientation = exif_orientation(b, payload + 6, length - 2 - 6);
        } else if (marker == 0xDA) {
            if (!have_size || header.width == 0 || header.height == 0)
                throw Error(name, "damaged JPEG (no frame size before the image data)");
            // Entropy-coded data never holds 0xFF 0xD9: a complete file has its end marker after here.
            if (b.holds_pair(payload + length - 2, 0xFF, 0xD9)) return header;
            throw Error(name, "truncated JPEG (no end-of-image marker)");
        }
        pos += 2 + length;
    }
}

ImageHeader read_png(const Bytes& b, const std::string& name) {
    ImageHeader header;
    header.format = ImageFormat::Png;
    if (!b.has(8, 25) || !b.starts_with(12, "IHDR")) throw Error(name, "damaged PNG (no IHDR chunk)");
    header.width = b.be32(16);
    header.height = b.be32(20);
    if (header.width == 0 || header.height == 0) throw Error(name, "damaged PNG (zero width or height)");
    size_t pos = 8;
    while (true) {
        if (!b.has(pos, 12)) throw Error(name, "truncated PNG (no IEND chunk)");
        const size_t length = b.be32(pos);
        if (!b.has(pos + 8, length) || !b.has(pos + 8 + length, 4)) throw Error(name, "truncated PNG (a chunk runs past the end of the file)");
        // Checking every chunk's CRC here keeps damaged files away from libpng, which would
        // print its own complaint on stderr before failing.
        if (b.crc32(pos + 4, length + 4) != b.be32(pos + 8 + length))
            throw Error(name, "damaged PNG (checksum mismatch in a chunk at byte " + std::to_string(pos) + ")");
        if (b.starts_with(pos + 4, "eXIf")) header.orientation = exif_orientation(b, pos + 8, length);
        if (b.starts_with(pos + 4, "IEND")) return header;
        pos += 12 + length;
    }
}

ImageHeader read_webp(const Bytes& b, const std::string& name) {
    ImageHeader header;
    header.format = ImageFormat::Webp;
    const size_t riff_end = size_t{b.le32(4)} + 8;
    if (riff_end > b.size()) throw Error(name, "truncated WebP (shorter than its RIFF header says)");
    size_t pos = 12;
    bool have_size = false;
    while (pos + 8 <= riff_end) {
        const size_t length = b.le32(pos + 4);
        const size_t payload = pos + 8;
        if (!b.has(payload, length)) throw Error(name, "truncated WebP (a chunk runs past the end of the file)");
        if (b.starts_with(pos, "VP8X") && length >= 10) {
            header.width = int64_t{b.le24(payload + 4)} + 1;
            header.height = int64_t{b.le24(payload + 7)} + 1;
            have_size = true;
        } else if (b.starts_with(pos, "VP8 ") && length >= 10 && !have_size) {
            if (b.at(payload + 3) != 0x9d || b.at(payload + 4) != 0x01 || b.at(payload + 5) != 0x2a)
                throw Error(name, "damaged WebP (bad VP8 start code)");
            header.width = b.le16(payload + 6) & 0x3fff;
            header.height = b.le16(payload + 8) & 0x3fff;
            have_size = true;
        } else if (b.starts_with(pos, "VP8L") && length >= 5 && !have_size) {
            if (b.at(payload) != 0x2f) throw Error(name, "damaged WebP (bad VP8L signature)");
            const uint32_t bits = b.le32(payload + 1);
            header.width = int64_t{bits & 0x3fff} + 1;
            header.height = int64_t{(bits >> 14) & 0x3fff} + 1;
            have_size = true;
        } else if (b.starts_with(pos, "EXIF")) {
            size_t start = payload;
            size_t exif_length = length;
            if (exif_length >= 6 && b.starts_with(start, kExifId, 6)) {
                start += 6;
                exif_length -= 6;
            }
            header.orientation = exif_orientation(b, start, exif_length);
        }
        pos = payload + length + (length & 1);
    }
    if (!have_size || header.width == 0 || header.height == 0) throw Error(name, "damaged WebP (no image size)");
    return header;
}

/// Whether a run-length-coded BMP's codes (RLE8 with 8 bits a pixel, else RLE4), from `offset`,
/// end before the data does: at the end-of-bitmap code, or once they have moved past the last
/// row. OpenCV's decoder reads on until one of those, and throws (printing on stderr) when the
/// data ends first; a run past a row's end it refuses by itself.
bool bmp_run_lengths_complete(const Bytes& b, size_t offset, int64_t width, int64_t height, uint32_t bits) {
    int64_t x = 0, y = 0;
    for (size_t at = offset; b.has(at, 2); at += 2) {
        const unsigned count = b.at(at), code = b.at(at + 1);
        if (count > 0) {  // a run of `count` pixels
            x += count;
            if (x > width) return true;
        } else if (code == 0) {  // end of row
            x = 0;
            if (++y >= height) return true;
        } else if (code == 1) {  // end of bitmap
            return true;
        } else if (code == 2) {  // move right and down
            if (!b.has(at + 2, 2)) return false;
            x += b.at(at + 2);
            y += b.at(at + 3);
            if (y >= height) return true;
            at += 2;
        } else {  // `code` pixels given one by one, padded to an even number of bytes
            const size_t bytes = bits == 8 ? size_t(code + 1) / 2 * 2 : size_t(code + 3) / 4 * 2;
            if (!b.has(at + 2, bytes)) return false;
            x += code;
            if (x > width) return true;
            at += bytes;
        }
    }
    return false;
}

ImageHeader read_bmp(const Bytes& b, const std::string& name) {
    ImageHeader header;
    header.format = ImageFormat::Bmp;
    if (!b.has(0, 26)) throw Error(name, "truncated BMP (ends inside its header)");
    const size_t pixel_offset = b.le32(10);
    const uint32_t info_size = b.le32(14);
    uint32_t bits = 0;
    uint32_t compression = 0;
    if (info_size == 12) {
        header.width = b.le16(18);
        header.height = b.le16(20);
        bits = b.le16(24);
    } else if (info_size >= 40 && b.has(0, 34)) {
        header.width = static_cast<int32_t>(b.le32(18));
        header.height = static_cast<int32_t>(b.le32(22));
        if (header.height < 0) header.height = -header.height;
        bits = b.le16(28);
        compression = b.le32(30);
    } else {
        throw Error(name, "damaged BMP (unknown header size " + std::to_string(info_size) + ")");
    }
    if (header.width <= 0 || header.height <= 0) throw Error(name, "damaged BMP (zero or negative width or height)");
    if (compression > 3 || (bits != 1 && bits != 4 && bits != 8 && bits != 16 && bits != 24 && bits != 32))
        throw Error(name, "damaged or unsupported BMP (" + std::to_string(bits) + " bits per pixel, compression " +
                              std::to_string(compression) + ")");
    if (compression == 0 || compression == 3) {  // uncompressed: the pixel data has a known size
        const uint64_t row = (uint64_t(header.width) * bits + 31) / 32 * 4;
        if (uint64_t(pixel_offset) + row * uint64_t(header.height) > b.size())
            throw Error(name, "truncated BMP (pixel data shorter than its header says)");
    }
    if ((compression == 1 && bits == 8) || (compression == 2 && bits == 4)) {
        if (!bmp_run_lengths_complete(b, pixel_offset, header.width, header.height, bits))
            throw Error(name, "truncated BMP (its run-length-coded pixels end before the image does)");
    }
    return header;
}

}  // namespace

const char* format_name(ImageFormat format) {
    switch (format) {
        case ImageFormat::Jpeg: return "JPEG";
        case ImageFormat::Png: return "PNG";
        case ImageFormat::Webp: return "WebP";
        case ImageFormat::Bmp: return "BMP";
    }
    return "image";
}

ImageHeader read_image_header(const std::string& bytes, const std::string& name) {
    if (bytes.empty()) throw Error(name, "empty file, not an image");
    const Bytes b(bytes);
    if (b.has(0, 3) && b.at(0) == 0xFF && b.at(1) == 0xD8 && b.at(2) == 0xFF) return read_jpeg(b, name);
    if (b.starts_with(0, "\x89PNG\r\n\x1a\n")) return read_png(b, name);
    if (b.starts_with(0, "RIFF") && b.starts_with(8, "WEBP")) return read_webp(b, name);
    if (b.starts_with(0, "BM")) return read_bmp(b, name);
    throw Error(name, "not a JPEG, PNG, WebP or BMP image");
}

}  // namespace pupembed
