// Regression tests for hostile input found by an adversarial run (issue 17): each defect it
// found, reproduced on the library's own functions (and, like every test, run again under
// AddressSanitizer and UBSan in build-asan).
#include <gtest/gtest.h>
#include <sqlite3.h>
#include <sys/stat.h>
#include <zlib.h>

#include <cmath>
#include <cstring>
#include <functional>
#include <random>

#include "core/json_input.hpp"
#include "pupembed/core/error.hpp"
#include "pupembed/gallery/algebra.hpp"
#include "pupembed/gallery/gallery.hpp"
#include "pupembed/gallery/query_json.hpp"
#include "pupembed/gallery/vector_index.hpp"
#include "pupembed/io/file_io.hpp"
#include "pupembed/io/image.hpp"
#include "serve/request_fields.hpp"
#include "test_support.hpp"

namespace fs = std::filesystem;
using pupembed::Error;
using pupembed::testing::TempDir;

// Defect 14: only regular files are read, with a size limit, naming the file.
TEST(HostileFiles, OnlyRegularFilesAreReadAndNeverForever) {
    TempDir dir;
    const std::string fifo = (dir / "photo.jpg").string();
    ASSERT_EQ(mkfifo(fifo.c_str(), 0600), 0);
    // Opening a FIFO with no writer would wait for ever (the test's timeout would end it): finishing
    // is the check, with no clock to miss on a busy machine.
    EXPECT_ERROR_CONTAINS(pupembed::read_file(fifo), "photo.jpg: is not a regular file");
    EXPECT_ERROR_CONTAINS(pupembed::read_file("/dev/zero"), "/dev/zero: is not a regular file");
    EXPECT_ERROR_CONTAINS(pupembed::read_file(dir.path().string()), "is a folder");
    pupembed::testing::write_bytes(dir / "big.bin", std::string(1000, 'x'));
    EXPECT_ERROR_CONTAINS(pupembed::read_file((dir / "big.bin").string(), 999), "big.bin: is too large (1000 bytes");
    EXPECT_EQ(pupembed::read_file((dir / "big.bin").string(), 1000).size(), 1000u);
    EXPECT_ERROR_CONTAINS(pupembed::load_image(fifo), "photo.jpg: is not a regular file");
}

// Defect 1: a 1 x 20,000 PNG of a few hundred bytes would be scaled to 182 x 3,640,000.
TEST(HostileImages, ExtremeAspectRatiosAreRefusedFromTheHeader) {
    const std::string strip = pupembed::testing::png_bytes(20000, 1);
    EXPECT_LT(strip.size(), 1000u);
    EXPECT_ERROR_CONTAINS(pupembed::decode_image(strip, "strip.png"), "strip.png: PNG of 20000x1 pixels is too elongated");
    const std::string tall = pupembed::testing::png_bytes(1, 60000);
    EXPECT_ERROR_CONTAINS(pupembed::decode_image(tall, "tall.png"), "tall.png: PNG of 1x60000 pixels is too elongated");
    // At the limit (20:1) it decodes; the limit can be changed.
    EXPECT_EQ(pupembed::decode_image(pupembed::testing::png_bytes(400, 20), "ok.png").width, 400);
    pupembed::ImageLoadOptions strict;
    strict.max_aspect_ratio = 2;
    EXPECT_ERROR_CONTAINS(pupembed::decode_image(pupembed::testing::png_bytes(30, 10), "wide.png", strict), "the limit is 2");
}

TEST(HostileImages, ResizingRefusesToMakeHugeImages) {
    pupembed::Image strip;
    strip.width = 2000;
    strip.height = 1;
    strip.rgb.assign(2000 * 3, 100);
    EXPECT_ERROR_CONTAINS(pupembed::resize_shorter_side(strip, 182), "would make 66248000 pixels");
    EXPECT_EQ(pupembed::resize_shorter_side(strip, 8).width, 16000);
}

// Defects 2, 7 and 8: algebra nesting, size and weights.
TEST(HostileAlgebra, NestingIsBounded) {
    const std::string deep = std::string(65000, '(') + "#1" + std::string(65000, ')');
    EXPECT_ERROR_CONTAINS(pupembed::parse_algebra(deep), "too long");
    const std::string nested = std::string(4000, '(') + "#1" + std::string(4000, ')');
    EXPECT_ERROR_CONTAINS(pupembed::parse_algebra(nested), "column 33: nested too deeply");
    std::string weights;
    for (int i = 0; i < 3000; ++i) weights += "2*";
    EXPECT_ERROR_CONTAINS(pupembed::parse_algebra(weights + "#1"), "nested too deeply");
    const std::string fine = std::string(32, '(') + "#1" + std::string(32, ')');
    EXPECT_EQ(pupembed::parse_algebra(fine).size(), 1u);
}

TEST(HostileAlgebra, SizeIsBounded) {
    std::string many = "#1";
    for (int i = 2; i <= 101; ++i) many += " + #" + std::to_string(i);
    EXPECT_ERROR_CONTAINS(pupembed::parse_algebra(many), "too many operands (the limit is 100)");
    std::string long_name(pupembed::kMaxAlgebraLength + 1, 'a');
    EXPECT_ERROR_CONTAINS(pupembed::parse_algebra(long_name), "too long (10001 characters; the limit is 10000)");
}

TEST(HostileAlgebra, WeightsMustBeFinite) {
    EXPECT_ERROR_CONTAINS(pupembed::parse_algebra("1e999*#1 + #2"), "column 1: the weight 1e999 is not a finite number");
    EXPECT_ERROR_CONTAINS(pupembed::parse_algebra("#2 - 1e200*1e200*#1"), "column 12: the weight 1e200 times the weights");
    EXPECT_ERROR_CONTAINS(pupembed::parse_algebra("1e200*(#2 - 1e200*#1)"), "column 13");
    EXPECT_DOUBLE_EQ(pupembed::parse_algebra("1e300*#1")[0].weight, 1e300);
}

// Defect 3: JSON nesting is bounded before anything is built.
TEST(HostileJson, NestingIsBoundedBeforeParsing) {
    const std::string deep = std::string(200000, '[') + std::string(200000, ']');
    EXPECT_ERROR_CONTAINS(pupembed::parse_json_bounded(deep, "header.json"), "header.json: JSON nested more than 64 levels deep");
    const std::string limit = std::string(64, '[') + std::string(64, ']');
    EXPECT_TRUE(pupembed::parse_json_bounded(limit, "x").is_array());
    EXPECT_ERROR_CONTAINS(pupembed::parse_json_bounded("[" + limit + "]", "x"), "nested more than 64");
    // Brackets inside strings are text, not nesting (escaped quotes included).
    const std::string text = "{\"a\": \"" + std::string(1000, '[') + "\\\"" + std::string(1000, '{') + "\"}";
    EXPECT_EQ(pupembed::parse_json_bounded(text, "x").at("a").get<std::string>().size(), 2001u);
    EXPECT_ERROR_CONTAINS(pupembed::parse_json_bounded("{not json", "body"), "body: not valid JSON");
    // Found by fuzz_model_file: a number too large for a double is nlohmann's out_of_range, not
    // a parse_error, and escaped as a foreign exception (a 500 from the server).
    EXPECT_ERROR_CONTAINS(pupembed::parse_json_bounded("[9E99999]", "big.json"), "big.json: not valid JSON");
}

// Defect 5: text that is not UTF-8 (paths are bytes on Linux) never breaks JSON output.
TEST(HostileText, InvalidUtf8IsEncodedLosslessly) {
    EXPECT_TRUE(pupembed::is_valid_utf8("dog \xc3\xa9t\xc3\xa9 \xf0\x9f\x90\xb6.jpg"));
    for (const std::string bad : {"\xff", "a\xc3", "\xc0\xaf", "\xed\xa0\x80", "\xf4\x90\x80\x80", "\xe2\x82"})
        EXPECT_FALSE(pupembed::is_valid_utf8(bad)) << bad.size();
    nlohmann::json object = nlohmann::json::object();
    pupembed::set_text(object, "path", "/photos/dog\xff.jpg");
    EXPECT_EQ(object.at("path"), "/photos/dog\xef\xbf\xbd.jpg") << "U+FFFD in place of the bad byte";
    EXPECT_EQ(object.at("path_base64"), "L3Bob3Rvcy9kb2f/LmpwZw==");
    pupembed::set_text(object, "name", "plain.jpg");
    EXPECT_FALSE(object.contains("name_base64"));
    const nlohmann::json raw = {{"path", "bad\xfe"}};
    EXPECT_EQ(pupembed::to_json_text(raw), "{\"path\":\"bad\xef\xbf\xbd\"}");
    pupembed::GalleryImage image;
    image.path = "/x/\xff\xfe.jpg";
    const nlohmann::json shown = pupembed::image_json(image);
    EXPECT_EQ(shown.at("path_base64"), "L3gv//4uanBn");
}

namespace {

/// A saved HNSW index of `count` random unit vectors, and where its graph starts in the file.
struct SavedIndex {
    std::string bytes;
    size_t graph_at = 0;
    size_t element_bytes = 0;  // hnswlib's level-0 record: links, vector, id
    int64_t dimension = 8;
};

SavedIndex saved_index(const fs::path& path, int64_t count) {
    SavedIndex saved;
    std::mt19937_64 rng(7);
    std::normal_distribution<float> normal;
    std::vector<float> vectors(size_t(count * saved.dimension));
    for (auto& v : vectors) v = normal(rng);
    std::vector<int64_t> ids(static_cast<size_t>(count));
    for (int64_t i = 0; i < count; ++i) ids[size_t(i)] = 100 + i;
    pupembed::VectorIndex index(saved.dimension, pupembed::IndexKind::Hnsw);
    index.add(vectors.data(), ids.data(), count);
    index.save(path.string(), "note");
    saved.bytes = pupembed::read_file(path.string());
    saved.graph_at = 8 + 4 + 8 + 8 + 4 + 8;  // magic, version, dimension, note size, "note", graph size
    saved.element_bytes = (2 * 16 * 4 + 4) + size_t(saved.dimension) * 4 + 8;
    return saved;
}

/// Writes `bytes` with a fresh CRC-32 at the end, as a crafted file would have.
void write_with_crc(const fs::path& path, std::string bytes) {
    const uint32_t crc = uint32_t(crc32(crc32(0L, Z_NULL, 0), reinterpret_cast<const Bytef*>(bytes.data()), uInt(bytes.size() - 4)));
    std::memcpy(bytes.data() + bytes.size() - 4, &crc, 4);
    pupembed::testing::write_bytes(path, bytes);
}

template <typename T>
void poke(std::string& bytes, size_t at, T value) {
    std::memcpy(bytes.data() + at, &value, sizeof(T));
}

}  // namespace

// Defect 4: a crafted index with a valid checksum is checked, never trusted.
TEST(HostileIndex, CraftedGraphsAreRefusedDespiteAValidChecksum) {
    TempDir dir;
    const fs::path path = dir / "g.index";
    const SavedIndex saved = saved_index(path, 300);
    ASSERT_EQ(pupembed::VectorIndex::load(path.string()).size(), 300);
    const size_t header = 96;  // hnswlib's header
    const size_t element0 = saved.graph_at + header;
    struct Craft {
        const char* what;
        std::function<void(std::string&)> change;
    };
    const std::vector<Craft> crafts = {
        {"link to a missing element", [&](std::string& b) { poke<uint32_t>(b, element0 + 4, 0xfffffff0u); }},
        {"link list longer than allowed", [&](std::string& b) { poke<uint16_t>(b, element0, 40); }},
        {"entry point beyond the elements", [&](std::string& b) { poke<uint32_t>(b, saved.graph_at + 52, 5000); }},
        {"top level far too high", [&](std::string& b) { poke<int32_t>(b, saved.graph_at + 48, 1000); }},
        {"element count larger than the file", [&](std::string& b) { poke<uint64_t>(b, saved.graph_at + 16, 1u << 30); }},
        {"element layout", [&](std::string& b) { poke<uint64_t>(b, saved.graph_at + 24, 4); }},
        {"vector that is not finite",
         [&](std::string& b) { poke<float>(b, element0 + 3 * saved.element_bytes + 132, std::nanf("")); }},
        {"repeated ids",
         [&](std::string& b) { poke<uint64_t>(b, element0 + saved.element_bytes + 132 + 32, uint64_t(100)); }},
    };
    for (const auto& craft : crafts) {
        std::string bytes = saved.bytes;
        craft.change(bytes);
        write_with_crc(path, bytes);
        SCOPED_TRACE(craft.what);
        EXPECT_ERROR_CONTAINS(pupembed::VectorIndex::load(path.string()), "g.index: damaged vector index");
    }
}

namespace {

pupembed::Gallery gallery_of(const std::string& path, int64_t count, int64_t dimension, std::vector<float>& vectors) {
    pupembed::Gallery gallery = pupembed::Gallery::open(path, true);
    std::mt19937_64 rng(3);
    std::normal_distribution<float> normal;
    vectors.assign(size_t(count * dimension), 0);
    std::vector<pupembed::GalleryImage> images(static_cast<size_t>(count));
    for (int64_t i = 0; i < count; ++i) {
        double norm = 0;
        for (int64_t j = 0; j < dimension; ++j) norm += std::pow(vectors[size_t(i * dimension + j)] = normal(rng), 2);
        for (int64_t j = 0; j < dimension; ++j) vectors[size_t(i * dimension + j)] /= float(std::sqrt(norm));
        images[size_t(i)].path = "/photos/" + std::to_string(i) + ".jpg";
        images[size_t(i)].content_hash = std::to_string(i);
    }
    gallery.put({"m", "/m.pt", dimension}, images, vectors.data());
    return gallery;
}

void set_meta(const std::string& path, const std::string& key, const std::string& value) {
    sqlite3* db = nullptr;
    ASSERT_EQ(sqlite3_open(path.c_str(), &db), SQLITE_OK);
    const std::string sql = "UPDATE meta SET value = '" + value + "' WHERE key = '" + key + "'";
    EXPECT_EQ(sqlite3_exec(db, sql.c_str(), nullptr, nullptr, nullptr), SQLITE_OK);
    sqlite3_close(db);
}

}  // namespace

TEST(HostileIndex, TheGalleryRebuildsACraftedIndexAndStillAnswers) {
    TempDir dir;
    const std::string db = (dir / "g.db").string();
    std::vector<float> vectors;
    {
        pupembed::Gallery gallery = gallery_of(db, 200, 8, vectors);
        gallery.index(pupembed::IndexKind::Hnsw);
    }
    // Every link of element 0 pointed far outside the graph, checksum recomputed.
    std::string bytes = pupembed::read_file(db + ".index");
    uint64_t note_size = 0;
    std::memcpy(&note_size, bytes.data() + 20, 8);
    const size_t element0 = 28 + note_size + 8 + 96;
    for (size_t j = 0; j < 32; ++j) poke<uint32_t>(bytes, element0 + 4 + 4 * j, 0x7fffffffu);
    poke<uint16_t>(bytes, element0, 32);
    write_with_crc(db + ".index", bytes);
    pupembed::Gallery gallery = pupembed::Gallery::open(db, false);
    const auto hits = gallery.index(pupembed::IndexKind::Hnsw)->search(vectors.data(), 1, 1);
    ASSERT_EQ(hits.at(0).size(), 1u);
    EXPECT_EQ(hits[0][0].id, 1) << "the photo itself, found by a rebuilt graph";
    EXPECT_NE(pupembed::read_file(db + ".index"), bytes) << "the crafted file was replaced";
}

// Defect 13: an index that cannot be saved is used anyway, with a warning.
TEST(HostileIndex, AnUnsavableIndexStillAnswersWithAWarning) {
    TempDir dir;
    const std::string db = (dir / "g.db").string();
    std::vector<float> vectors;
    pupembed::Gallery gallery = gallery_of(db, 50, 8, vectors);
    fs::create_directories(db + ".index");  // the index file's place is taken: saving fails
    const auto hits = gallery.index(pupembed::IndexKind::Hnsw)->search(vectors.data() + 8 * 7, 1, 1);
    ASSERT_EQ(hits.at(0).size(), 1u);
    EXPECT_EQ(hits[0][0].id, 8);
    const auto warnings = gallery.take_warnings();
    ASSERT_EQ(warnings.size(), 1u);
    EXPECT_NE(warnings[0].find("the search index was not saved"), std::string::npos) << warnings[0];
    EXPECT_TRUE(gallery.take_warnings().empty());
}

// Defect 10: damaged gallery metadata is refused on open, naming the file.
TEST(HostileGallery, DamagedMetadataIsRefusedOnOpen) {
    TempDir dir;
    const std::string db = (dir / "g.db").string();
    std::vector<float> vectors;
    gallery_of(db, 3, 4, vectors);
    for (const std::string value : {"abc", "-5", "0", "99999999999999999999", "65537", " 4"}) {
        set_meta(db, "dimension", value);
        SCOPED_TRACE(value);
        EXPECT_ERROR_CONTAINS(pupembed::Gallery::open(db, false), "g.db: damaged gallery (dimension record");
    }
    set_meta(db, "dimension", "4");
    EXPECT_EQ(pupembed::Gallery::open(db, false).model().dimension, 4);
    set_meta(db, "generation", "x1");
    EXPECT_ERROR_CONTAINS(pupembed::Gallery::open(db, false), "g.db: damaged gallery (generation record \"x1\")");
}

// "Two `index add` runs both report 4316 added": what is new is judged inside the transaction;
// and a photo the other writer stored with the same contents is left as it is (issue 27).
TEST(HostileGallery, TwoWritersCountEachPhotoAsAddedOnce) {
    TempDir dir;
    const std::string db = (dir / "g.db").string();
    pupembed::Gallery first = pupembed::Gallery::open(db, true);
    pupembed::Gallery second = pupembed::Gallery::open(db, false);
    std::vector<pupembed::GalleryImage> images(3);
    for (size_t i = 0; i < images.size(); ++i) images[i].path = "/p/" + std::to_string(i) + ".jpg";
    const std::vector<float> vectors(3 * 2, 0.5f);
    const auto a = first.put({"m", "/m.pt", 2}, images, vectors.data());
    const auto b = second.put({"m", "/m.pt", 2}, images, vectors.data());
    EXPECT_EQ(a.added, 3);
    EXPECT_EQ(a.updated, 0);
    EXPECT_EQ(b.added, 0);
    EXPECT_EQ(b.updated, 0);
    EXPECT_EQ(b.unchanged, 3);
}

// Defect 15 and bad request text: decided by the request reader alone.
TEST(HostileRequests, ConflictingLengthsAndBadBodiesAre400) {
    httplib::Request req;
    req.method = "POST";
    req.headers.emplace("Content-Length", "11");
    EXPECT_EQ(pupembed::refusal_from_headers(req, 1000).first, 0);
    req.headers.emplace("Content-Length", "11");
    EXPECT_EQ(pupembed::refusal_from_headers(req, 1000).first, 0) << "the same length twice is harmless";
    req.headers.emplace("Content-Length", "2");
    const auto refused = pupembed::refusal_from_headers(req, 1000);
    EXPECT_EQ(refused.first, 400);
    EXPECT_EQ(refused.second, "conflicting Content-Length headers");

    auto status_of = [](const std::function<void()>& action) {
        try {
            action();
        } catch (const pupembed::RequestFailure& failure) {
            return failure.status;
        }
        return 0;
    };
    httplib::Request body;
    body.headers.emplace("Content-Type", "application/json");
    body.body = std::string(100000, '[') + std::string(100000, ']');
    EXPECT_EQ(status_of([&] { pupembed::RequestFields fields(body); }), 400);
    body.body = "{\"id\": \"#1\xff\"}";
    EXPECT_EQ(status_of([&] { pupembed::gallery_id_of(*pupembed::RequestFields(body).text("id"), "id"); }), 400);
    body.body = "{\"k\": \"" + std::string(100000, '9') + "\"}";
    try {
        pupembed::RequestFields(body).integer("k", 5, 1, 1000);
        ADD_FAILURE() << "no failure";
    } catch (const pupembed::RequestFailure& failure) {
        EXPECT_EQ(failure.status, 400);
        EXPECT_LT(failure.message.size(), 200u) << "the client's text is cut short in the message";
    }
}

// Issue 27: a JSON body followed by a NUL byte and garbage was accepted (nlohmann's parser stops
// at a NUL), and k = " 5" was taken while "5 " was not.
TEST(HostileRequests, TrailingBytesAfterJsonAndBlanksAroundNumbersAre400) {
    auto failure_of = [](const std::function<void()>& action) {
        try {
            action();
        } catch (const pupembed::RequestFailure& failure) {
            return std::to_string(failure.status) + " " + failure.message;
        }
        return std::string("accepted");
    };
    httplib::Request body;
    body.headers.emplace("Content-Type", "application/json");
    body.body = std::string("{\"id\": \"#1\"}\0garbage", 20);
    EXPECT_EQ(failure_of([&] { pupembed::RequestFields fields(body); }),
              "400 the request body: not valid JSON: a NUL byte at offset 12");
    body.body = "{\"id\": \"#1\"} garbage";
    EXPECT_EQ(failure_of([&] { pupembed::RequestFields fields(body); }).substr(0, 37), "400 the request body: not valid JSON:");
    for (const char* k : {"\" 5\"", "\"5 \"", "\"+5\"", "\"\"", "\"5x\""}) {
        body.body = std::string("{\"k\": ") + k + "}";
        EXPECT_EQ(failure_of([&] { pupembed::RequestFields(body).integer("k", 10, 1, 1000); }).substr(0, 7), "400 k: ") << k;
    }
    body.body = "{\"k\": \"5\"}";
    EXPECT_EQ(pupembed::RequestFields(body).integer("k", 10, 1, 1000), 5);
    body.body = "{\"k\": 7}";
    EXPECT_EQ(pupembed::RequestFields(body).integer("k", 10, 1, 1000), 7);
}
