// The .npy format: https://numpy.org/doc/stable/reference/generated/numpy.lib.format.html
#include "pupembed/io/npy.hpp"

#include <cctype>
#include <cstring>
#include <filesystem>
#include <map>

#include "pupembed/core/error.hpp"
#include "pupembed/io/file_io.hpp"

namespace pupembed {
namespace {

const char kMagic[] = "\x93NUMPY";
constexpr size_t kMagicSize = 6;

/// The value of one key in the header dictionary, kept as the literal text or a parsed tuple.
struct HeaderValue {
    enum class Kind { String, Bool, Tuple } kind = Kind::String;
    std::string text;
    bool flag = false;
    std::vector<int64_t> items;
};

/// Parses the Python dict literal of a .npy header, e.g.
/// {'descr': '<f4', 'fortran_order': False, 'shape': (1, 3, 224, 224), }
class HeaderParser {
public:
    HeaderParser(const std::string& text, const std::string& file) : text_(text), file_(file) {}

    std::map<std::string, HeaderValue> parse() {
        std::map<std::string, HeaderValue> values;
        expect('{');
        while (true) {
            skip_space();
            if (peek() == '}') break;
            const std::string key = parse_string();
            expect(':');
            values[key] = parse_value();
            skip_space();
            if (peek() == ',') {
                ++pos_;
                continue;
            }
            skip_space();
            if (peek() != '}') fail("expected ',' or '}'");
        }
        ++pos_;
        return values;
    }

private:
    [[noreturn]] void fail(const std::string& what) const {
        throw Error(file_, "damaged .npy header (" + what + " at character " +
                               std::to_string(pos_) + " of \"" + text_.substr(0, 200) + (text_.size() > 200 ? "..." : "") + "\")");
    }
    void skip_space() {
        while (pos_ < text_.size() && std::isspace(static_cast<unsigned char>(text_[pos_]))) ++pos_;
    }
    char peek() const { return pos_ < text_.size() ? text_[pos_] : '\0'; }
    void expect(char c) {
        skip_space();
        if (peek() != c) fail(std::string("expected '") + c + "'");
        ++pos_;
    }
    std::string parse_string() {
        skip_space();
        const char quote = peek();
        if (quote != '\'' && quote != '"') fail("expected a string");
        const size_t end = text_.find(quote, pos_ + 1);
        if (end == std::string::npos) fail("unterminated string");
        std::string result = text_.substr(pos_ + 1, end - pos_ - 1);
        pos_ = end + 1;
        return result;
    }
    int64_t parse_integer() {
        skip_space();
        const size_t start = pos_;
        while (pos_ < text_.size() && std::isdigit(static_cast<unsigned char>(text_[pos_]))) ++pos_;
        if (pos_ == start) fail("expected a dimension");
        const std::string digits = text_.substr(start, pos_ - start);
        if (digits.size() > 15) fail("dimension too large");
        if (peek() == 'L') ++pos_;  // Python 2 long suffix
        return std::stoll(digits);
    }
    HeaderValue parse_value() {
        skip_space();
        HeaderValue value;
        const char c = peek();
        if (c == '\'' || c == '"') {
            value.kind = HeaderValue::Kind::String;
            value.text = parse_string();
        } else if (text_.compare(pos_, 4, "True") == 0 || text_.compare(pos_, 5, "False") == 0) {
            value.kind = HeaderValue::Kind::Bool;
            value.flag = text_[pos_] == 'T';
            pos_ += value.flag ? 4 : 5;
        } else if (c == '(') {
            value.kind = HeaderValue::Kind::Tuple;
            ++pos_;
            while (true) {
                skip_space();
                if (peek() == ')') break;
                value.items.push_back(parse_integer());
                skip_space();
                if (peek() == ',') ++pos_;
                else if (peek() != ')') fail("expected ',' or ')'");
            }
            ++pos_;
        } else {
            fail("unexpected value");
        }
        return value;
    }

    const std::string& text_;
    const std::string& file_;
    size_t pos_ = 0;
};

uint32_t read_le(const std::string& bytes, size_t offset, size_t width) {
    uint32_t value = 0;
    for (size_t i = 0; i < width; ++i)
        value |= static_cast<uint32_t>(static_cast<unsigned char>(bytes[offset + i])) << (8 * i);
    return value;
}

}  // namespace

int64_t NpyArray::numel() const {
    int64_t n = 1;
    for (const int64_t d : shape) n *= d;
    return n;
}

NpyArray parse_npy(const std::string& bytes, const std::string& name) {
    if (bytes.size() < kMagicSize + 2 || std::memcmp(bytes.data(), kMagic, kMagicSize) != 0)
        throw Error(name, "not a .npy file (no \\x93NUMPY magic at the start)");
    const int major = static_cast<unsigned char>(bytes[6]);
    const int minor = static_cast<unsigned char>(bytes[7]);
    if (major < 1 || major > 3 || minor != 0)
        throw Error(name, "unsupported .npy format version " + std::to_string(major) + "." +
                              std::to_string(minor) + " (expected 1.0, 2.0 or 3.0)");
    const size_t length_width = major == 1 ? 2 : 4;
    const size_t header_start = 8 + length_width;
    if (bytes.size() < header_start) throw Error(name, "truncated .npy header");
    const size_t header_length = read_le(bytes, 8, length_width);
    if (bytes.size() < header_start + header_length)
        throw Error(name, "truncated .npy header (says " + std::to_string(header_length) +
                              " bytes, file has " + std::to_string(bytes.size() - header_start) + ")");
    const std::string header = bytes.substr(header_start, header_length);
    const auto values = HeaderParser(header, name).parse();
    const std::string shown = header.size() <= 200 ? header : header.substr(0, 200) + "...";  // for messages

    const auto descr = values.find("descr");
    const auto fortran = values.find("fortran_order");
    const auto shape = values.find("shape");
    if (descr == values.end() || descr->second.kind != HeaderValue::Kind::String ||
        fortran == values.end() || fortran->second.kind != HeaderValue::Kind::Bool ||
        shape == values.end() || shape->second.kind != HeaderValue::Kind::Tuple)
        throw Error(name, "damaged .npy header (needs 'descr', 'fortran_order' and 'shape'): " + shown);
    const std::string& dtype = descr->second.text;
    if (dtype != "<f4") {
        std::string found = "dtype '" + dtype + "'";
        if (dtype == ">f4") found = "big-endian float32 ('>f4')";
        throw Error(name, "unsupported " + found + ", expected little-endian float32 ('<f4')");
    }
    if (fortran->second.flag)
        throw Error(name, "unsupported Fortran-order array, expected C order");

    NpyArray array;
    array.shape = shape->second.items;
    constexpr int64_t kMaxElements = int64_t{1} << 40;
    int64_t count = 1;
    for (const int64_t d : array.shape) {
        if (d != 0 && count > kMaxElements / d)
            throw Error(name, "damaged .npy header (shape too large): " + shown);
        count *= d;
    }
    const size_t body_start = header_start + header_length;
    const size_t body_size = bytes.size() - body_start;
    if (body_size != static_cast<size_t>(count) * sizeof(float))
        throw Error(name, std::string(body_size < static_cast<size_t>(count) * 4 ? "truncated" : "damaged") +
                              " .npy data: shape needs " + std::to_string(count * 4) + " bytes, file has " +
                              std::to_string(body_size));
    array.data.resize(static_cast<size_t>(count));
    if (body_size > 0) std::memcpy(array.data.data(), bytes.data() + body_start, body_size);
    static_assert(sizeof(float) == 4, "float32 expected");
    return array;
}

NpyArray read_npy(const std::string& path) {
    return parse_npy(read_file(path), path);
}

void write_npy(const std::string& path, const NpyArray& array) {
    if (array.numel() != static_cast<int64_t>(array.data.size()))
        throw Error(path, "array data does not match its shape");
    std::string dict = "{'descr': '<f4', 'fortran_order': False, 'shape': (";
    for (size_t i = 0; i < array.shape.size(); ++i) {
        dict += std::to_string(array.shape[i]);
        if (array.shape.size() == 1 || i + 1 < array.shape.size()) dict += ",";
        if (i + 1 < array.shape.size()) dict += " ";
    }
    dict += "), }";
    // Pad with spaces so that magic + version + length + header is a multiple of 64, ending in '\n'.
    const size_t unpadded = kMagicSize + 2 + 2 + dict.size() + 1;
    dict.append((64 - unpadded % 64) % 64, ' ');
    dict += '\n';
    if (dict.size() > 65535) throw Error(path, "array has too many dimensions for .npy 1.0");

    std::string bytes(kMagic, kMagicSize);
    bytes += '\x01';
    bytes += '\x00';
    bytes += static_cast<char>(dict.size() & 0xff);
    bytes += static_cast<char>(dict.size() >> 8);
    bytes += dict;
    bytes.append(reinterpret_cast<const char*>(array.data.data()), array.data.size() * sizeof(float));
    write_file_atomically(path, bytes);
}

std::string row_table_path(const std::string& npy_path) {
    return std::filesystem::path(npy_path).replace_extension(".tsv").string();
}

}  // namespace pupembed
