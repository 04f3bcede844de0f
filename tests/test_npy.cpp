#include <gtest/gtest.h>

#include "pupembed/core/error.hpp"
#include "pupembed/io/file_io.hpp"
#include "pupembed/io/npy.hpp"
#include "test_support.hpp"

using pupembed::Error;
using pupembed::NpyArray;
using pupembed::parse_npy;

namespace {

/// A .npy file of the given version with `dict` as its header and `body` after it.
std::string make_npy(int major, const std::string& dict, const std::string& body) {
    std::string header = dict + "\n";
    std::string bytes = std::string("\x93NUMPY", 6) + char(major) + '\0';
    const size_t length = header.size();
    if (major == 1) {
        bytes += char(length & 0xff);
        bytes += char(length >> 8);
    } else {
        for (int i = 0; i < 4; ++i) bytes += char((length >> (8 * i)) & 0xff);
    }
    return bytes + header + body;
}

std::string floats(std::initializer_list<float> values) {
    std::string body;
    for (const float v : values) body.append(reinterpret_cast<const char*>(&v), 4);
    return body;
}

std::string error_of(const std::string& bytes) {
    try {
        parse_npy(bytes, "x.npy");
    } catch (const Error& e) {
        return e.what();
    }
    return "no error";
}

const char kGoodDict[] = "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 2), }";

}  // namespace

TEST(Npy, ReadsVersionsOneToThree) {
    for (int major = 1; major <= 3; ++major) {
        const NpyArray array = parse_npy(make_npy(major, kGoodDict, floats({1, 2, 3, 4.5f})), "x.npy");
        EXPECT_EQ(array.shape, (std::vector<int64_t>{2, 2})) << "version " << major;
        EXPECT_EQ(array.data, (std::vector<float>{1, 2, 3, 4.5f})) << "version " << major;
    }
}

TEST(Npy, ReadsHeaderVariants) {
    // Keys in another order, extra spaces, a 1-D shape with a trailing comma, a scalar.
    NpyArray a = parse_npy(make_npy(1, "{ 'shape': (3,), 'fortran_order': False, 'descr': '<f4' }", floats({1, 2, 3})), "a");
    EXPECT_EQ(a.shape, (std::vector<int64_t>{3}));
    NpyArray s = parse_npy(make_npy(1, "{'descr': '<f4', 'fortran_order': False, 'shape': ()}", floats({7})), "s");
    EXPECT_TRUE(s.shape.empty());
    EXPECT_EQ(s.data, (std::vector<float>{7}));
}

TEST(Npy, WriteThenReadRoundTrips) {
    pupembed::testing::TempDir dir;
    NpyArray array;
    array.shape = {2, 3};
    array.data = {0, -1, 2.5f, 3, 4, 1e-7f};
    pupembed::write_npy((dir / "a.npy").string(), array);
    const NpyArray back = pupembed::read_npy((dir / "a.npy").string());
    EXPECT_EQ(back.shape, array.shape);
    EXPECT_EQ(back.data, array.data);
    // NumPy requires the header to end on a 64-byte boundary.
    const std::string bytes = pupembed::read_file((dir / "a.npy").string());
    const size_t header_end = 10 + (unsigned char)bytes[8] + ((unsigned char)bytes[9] << 8);
    EXPECT_EQ(header_end % 64, 0u);
    EXPECT_EQ(bytes[header_end - 1], '\n');
}

TEST(Npy, RefusesWrongMagic) {
    std::string bytes = make_npy(1, kGoodDict, floats({1, 2, 3, 4}));
    bytes[1] = 'X';
    EXPECT_NE(error_of(bytes).find("not a .npy file"), std::string::npos) << error_of(bytes);
    EXPECT_NE(error_of("").find("x.npy"), std::string::npos);
}

TEST(Npy, RefusesUnknownVersion) {
    EXPECT_NE(error_of(make_npy(4, kGoodDict, floats({1, 2, 3, 4}))).find("version 4.0"), std::string::npos);
}

TEST(Npy, RefusesTruncatedFiles) {
    const std::string good = make_npy(1, kGoodDict, floats({1, 2, 3, 4}));
    EXPECT_NE(error_of(good.substr(0, good.size() - 3)).find("truncated .npy data"), std::string::npos);
    EXPECT_NE(error_of(good.substr(0, 30)).find("truncated .npy header"), std::string::npos);
    EXPECT_NE(error_of(good.substr(0, 9)).find("truncated"), std::string::npos);
    EXPECT_NE(error_of(good + "xx").find("damaged .npy data"), std::string::npos);
}

TEST(Npy, RefusesBigEndian) {
    const std::string e = error_of(make_npy(1, "{'descr': '>f4', 'fortran_order': False, 'shape': (1,), }", floats({1})));
    EXPECT_NE(e.find("x.npy"), std::string::npos) << e;
    EXPECT_NE(e.find("big-endian"), std::string::npos) << e;
}

TEST(Npy, RefusesOtherDtypes) {
    const std::string e =
        error_of(make_npy(1, "{'descr': '<f8', 'fortran_order': False, 'shape': (1,), }", std::string(8, '\0')));
    EXPECT_NE(e.find("'<f8'"), std::string::npos) << e;
}

TEST(Npy, RefusesFortranOrder) {
    const std::string e = error_of(make_npy(1, "{'descr': '<f4', 'fortran_order': True, 'shape': (2, 2), }", floats({1, 2, 3, 4})));
    EXPECT_NE(e.find("Fortran"), std::string::npos) << e;
}

TEST(Npy, RefusesDamagedHeaders) {
    for (const char* dict : {"{'descr': '<f4', 'shape': (2, 2), }", "{'descr': '<f4', 'fortran_order': Flase, 'shape': (1,)}",
                             "{'descr': '<f4', 'fortran_order': False, 'shape': (99999999999999, 99999999999999)}",
                             "'descr'", "{'descr': '<f4"}) {
        const std::string e = error_of(make_npy(1, dict, floats({1})));
        EXPECT_NE(e.find("damaged .npy header"), std::string::npos) << dict << " -> " << e;
    }
}

TEST(Npy, ReadNamesMissingFile) {
    try {
        pupembed::read_npy("/nonexistent/w.npy");
        FAIL() << "no error";
    } catch (const Error& e) {
        EXPECT_NE(std::string(e.what()).find("/nonexistent/w.npy"), std::string::npos);
    }
}

// Found by fuzz_npy: an array with no elements copied its (empty) data from a null pointer.
TEST(Npy, ReadsArraysWithNoElements) {
    pupembed::testing::TempDir dir;
    pupembed::NpyArray empty;
    empty.shape = {0, 5};
    pupembed::write_npy((dir / "empty.npy").string(), empty);
    const pupembed::NpyArray back = pupembed::read_npy((dir / "empty.npy").string());
    EXPECT_EQ(back.shape, (std::vector<int64_t>{0, 5}));
    EXPECT_TRUE(back.data.empty());
}

// Found by reading the code while fuzzing: a damaged header's message quoted the whole header,
// which a file can make gigabytes long.
TEST(Npy, ErrorMessagesStayShort) {
    std::string header = "{'descr': '<f4', 'fortran_order': False, 'shape': (2,), 'junk': '" + std::string(100000, 'x') + "' ";
    std::string bytes = std::string("\x93NUMPY\x02\x00", 8);
    const uint32_t length = uint32_t(header.size());
    bytes.append(reinterpret_cast<const char*>(&length), 4);
    bytes += header;
    try {
        pupembed::parse_npy(bytes, "long.npy");
        ADD_FAILURE() << "no error";
    } catch (const pupembed::Error& e) {
        EXPECT_LT(std::string(e.what()).size(), 400u) << std::string(e.what()).substr(0, 400);
    }
}
