// The real command against the hostile inputs of issue 17: each must end in one clear line
// naming the file or value and exit 1 (or 2 for a usage error), quickly and without a crash.
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <zlib.h>

#include <algorithm>
#include <cstring>
#include <future>

#include "pupembed/io/file_io.hpp"
#include "test_support.hpp"

namespace fs = std::filesystem;
using pupembed::testing::CommandResult;
using pupembed::testing::quote;
using pupembed::testing::run_pupembed;
using pupembed::testing::run_pupembed_json;
using pupembed::testing::shared_dir;
using pupembed::testing::TempDir;

namespace {

const char kVal[] = "data/stanford-dogs-64/val";

fs::path default_model() { return pupembed::testing::default_model_path(); }

/// Exit status 1 and exactly one line on stderr, "pupembed: error: ..." containing `words`.
void expect_one_line_error(const CommandResult& result, const std::string& words) {
    EXPECT_EQ(result.exit_code, 1) << result.err;
    EXPECT_EQ(std::count(result.err.begin(), result.err.end(), '\n'), 1) << result.err;
    EXPECT_EQ(result.err.rfind("pupembed: error: ", 0), 0u) << result.err;
    EXPECT_NE(result.err.find(words), std::string::npos) << result.err;
}

/// The first `count` photos of a val breed folder.
std::vector<fs::path> val_photos(const std::string& breed, size_t count) {
    std::vector<fs::path> photos;
    for (const auto& entry : fs::directory_iterator(shared_dir() / kVal / breed)) photos.push_back(entry.path());
    std::sort(photos.begin(), photos.end());
    photos.resize(std::min(count, photos.size()));
    return photos;
}

class HostileCommand : public ::testing::Test {
protected:
    void SetUp() override {
        if (!fs::exists(default_model()) || !fs::exists(shared_dir() / kVal))
            GTEST_SKIP() << "needs " << default_model() << " and " << shared_dir() / kVal;
    }
    TempDir dir_;
};

}  // namespace

TEST_F(HostileCommand, ExtremeAspectRatiosFailFastNamingTheFile) {
    pupembed::testing::write_bytes(dir_ / "strip.png", pupembed::testing::png_bytes(20000, 1));
    pupembed::testing::write_bytes(dir_ / "tall.png", pupembed::testing::png_bytes(1, 60000));
    // Judged from the header: the message gives the header's size, and no row was decoded.
    expect_one_line_error(run_pupembed("breed " + quote((dir_ / "strip.png").string())),
                          "strip.png: PNG of 20000x1 pixels is too elongated");
    expect_one_line_error(run_pupembed("breed " + quote((dir_ / "tall.png").string())), "tall.png: PNG of 1x60000");
}

TEST_F(HostileCommand, DevicesPipesAndThreadCountsAreRefusedAtOnce) {
    const std::string fifo = (dir_ / "photo.jpg").string();
    ASSERT_EQ(mkfifo(fifo.c_str(), 0600), 0);
    // Refused before it is opened: opening a FIFO with no writer would wait for ever (the test's
    // timeout would end it), so finishing at all is the check, with no clock to miss on a busy machine.
    expect_one_line_error(run_pupembed("breed " + quote(fifo)), "photo.jpg: is not a regular file");
    expect_one_line_error(run_pupembed("info /dev/zero"), "/dev/zero: is not a regular file");
    const std::string photo = quote(val_photos("n02110958-pug", 1)[0].string());
    // A usage error (exit 2), before any thread is started.
    const CommandResult result = run_pupembed("breed " + photo + " --threads 100000");
    EXPECT_EQ(result.exit_code, 2) << result.err;
    EXPECT_NE(result.err.find("--threads"), std::string::npos) << result.err;
}

TEST_F(HostileCommand, DamagedPngsSayOneLineAndLibpngSaysNothing) {
    // A PNG whose compressed data is cut in half (chunk checksums fixed): OpenCV printed libpng's
    // own error line first and could return a part-filled image.
    std::string png = pupembed::testing::png_bytes(64, 64);
    const size_t idat = png.find("IDAT") - 4;
    uint32_t length = 0;
    for (int i = 0; i < 4; ++i) length = (length << 8) | static_cast<unsigned char>(png[idat + size_t(i)]);
    std::string data = png.substr(idat + 8, length / 2);
    std::string chunk = "IDAT" + data;
    const uint32_t crc = uint32_t(crc32(0L, reinterpret_cast<const Bytef*>(chunk.data()), uInt(chunk.size())));
    auto be = [](uint32_t v) { return std::string{char(v >> 24), char(v >> 16), char(v >> 8), char(v)}; };
    png = png.substr(0, idat) + be(uint32_t(data.size())) + chunk + be(crc) + png.substr(idat + 12 + length);
    pupembed::testing::write_bytes(dir_ / "half.png", png);
    expect_one_line_error(run_pupembed("breed " + quote((dir_ / "half.png").string())), "half.png: damaged PNG");
}

TEST_F(HostileCommand, DeepJsonInAModelHeaderIsRefusedByName) {
    const std::string header = std::string(200000, '[') + std::string(200000, ']');
    std::string file = "PUPMODEL";
    auto le = [&](uint64_t value, int bytes) {
        for (int i = 0; i < bytes; ++i) file += char((value >> (8 * i)) & 0xff);
    };
    le(1, 4);
    le(header.size(), 8);
    file += header;
    le(crc32(0L, reinterpret_cast<const Bytef*>(header.data()), uInt(header.size())), 4);
    pupembed::testing::write_bytes(dir_ / "deep.pt", file);
    expect_one_line_error(run_pupembed("info " + quote((dir_ / "deep.pt").string())), "deep.pt: damaged pupembed model file");
}

TEST_F(HostileCommand, GalleriesWithHostileContentStillAnswer) {
    // Photos whose names are not UTF-8, in a gallery; two `index add` runs at once.
    const auto photos = val_photos("n02085620-Chihuahua", 12);
    fs::create_directories(dir_ / "photos");
    std::string list;
    for (size_t i = 0; i < photos.size(); ++i) {
        const fs::path copy = dir_ / "photos" / ((i == 0 ? std::string("dog\xff") : "dog" + std::to_string(i)) + ".jpg");
        fs::copy_file(photos[i], copy);
        list += " " + quote(copy.string());
    }
    const std::string db = quote((dir_ / "g.db").string());
    auto first = std::async(std::launch::async, [&] { return run_pupembed("index add" + list + " --db " + db + " --threads 1 --json"); });
    auto second = std::async(std::launch::async, [&] { return run_pupembed("index add" + list + " --db " + db + " --threads 1 --json"); });
    const CommandResult a = first.get(), b = second.get();
    ASSERT_EQ(a.exit_code, 0) << a.err;
    ASSERT_EQ(b.exit_code, 0) << b.err;
    const auto added = nlohmann::json::parse(a.out).at("added").get<int>() + nlohmann::json::parse(b.out).at("added").get<int>();
    EXPECT_EQ(added, 12) << "each photo counted as added once over both runs\n" << a.out << b.out;

    // Non-UTF-8 paths: valid JSON, the exact bytes in path_base64.
    const auto breed = run_pupembed_json("breed " + quote((dir_ / "photos" / "dog\xff.jpg").string()));
    ASSERT_TRUE(breed.contains("predictions")) << breed.dump();
    EXPECT_TRUE(breed["predictions"][0].contains("path_base64"));
    const auto search = run_pupembed_json("search " + quote((dir_ / "photos" / "dog1.jpg").string()) + " -k 11 --db " + db);
    const auto shown = std::count_if(search.at("results").begin(), search.at("results").end(),
                                     [](const nlohmann::json& result) { return result.contains("path_base64"); });
    EXPECT_EQ(shown, 1) << search.dump();
    EXPECT_EQ(run_pupembed("dedup --db " + db + " --threshold 2 --json").exit_code, 0);

    // A crafted HNSW sidecar with a valid checksum: rebuilt, and the answer is the exact one.
    auto ids = [](const nlohmann::json& answer) {
        std::vector<int64_t> found;
        for (const auto& result : answer.at("results")) found.push_back(result.at("id").get<int64_t>());
        return found;
    };
    const auto exact = ids(run_pupembed_json("search '#3' -k 5 --index exact --db " + db));
    ASSERT_EQ(ids(run_pupembed_json("search '#3' -k 5 --index hnsw --db " + db)), exact);
    std::string index = pupembed::read_file((dir_ / "g.db.index").string());
    uint64_t note = 0;
    std::memcpy(&note, index.data() + 20, 8);
    const size_t element0 = 28 + note + 8 + 96;
    for (size_t j = 0; j < 32; ++j) std::memset(index.data() + element0 + 4 + 4 * j, 0x7f, 4);
    index[element0] = 32;
    const uint32_t crc = uint32_t(crc32(0L, reinterpret_cast<const Bytef*>(index.data()), uInt(index.size() - 4)));
    std::memcpy(index.data() + index.size() - 4, &crc, 4);
    pupembed::testing::write_bytes(dir_ / "g.db.index", index);
    EXPECT_EQ(ids(run_pupembed_json("search '#3' -k 5 --index hnsw --db " + db)), exact);

    // Algebra: deep nesting, huge expressions and infinite weights are one-line errors.
    expect_one_line_error(run_pupembed("algebra '" + std::string(65000, '(') + "#1" + std::string(65000, ')') + "' --db " + db),
                          "too long");
    expect_one_line_error(run_pupembed("algebra '" + std::string(3000, '(') + "#1" + std::string(3000, ')') + "' --db " + db),
                          "nested too deeply");
    expect_one_line_error(run_pupembed("algebra '1e999*#1 + #2' --db " + db), "column 1: the weight 1e999 is not a finite number");
    expect_one_line_error(run_pupembed("algebra '1e308*#1 + 1e308*#2' --db " + db), "not a finite vector");
}

TEST_F(HostileCommand, DamagedGalleryMetadataNamesTheFile) {
    const auto photos = val_photos("n02110958-pug", 2);
    const std::string db = (dir_ / "g.db").string();
    ASSERT_EQ(run_pupembed("index add " + quote(photos[0].string()) + " " + quote(photos[1].string()) + " --db " + quote(db) +
                           " --threads 1")
                  .exit_code,
              0);
    // The dimension record damaged in the file's bytes (key and value lie side by side in it).
    std::string bytes = pupembed::read_file(db);
    const size_t at = bytes.find("dimension248");  // the shipped model's embedding size
    ASSERT_NE(at, std::string::npos);
    bytes.replace(at + 9, 3, "x2z");
    pupembed::testing::write_bytes(dir_ / "bad.db", bytes);
    expect_one_line_error(run_pupembed("search '#1' --db " + quote((dir_ / "bad.db").string())),
                          "bad.db: damaged gallery (dimension record \"x2z\")");
    // The same for the record of the head's columns (where dedup looks).
    bytes = pupembed::read_file(db);
    const size_t appearance = bytes.find("appearance_dimension128");
    ASSERT_NE(appearance, std::string::npos);
    bytes.replace(appearance + 20, 3, "999");
    pupembed::testing::write_bytes(dir_ / "bad2.db", bytes);
    expect_one_line_error(run_pupembed("dedup --db " + quote((dir_ / "bad2.db").string())),
                          "bad2.db: damaged gallery (appearance dimension record \"999\")");
}
