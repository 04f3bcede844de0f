#include "test_support.hpp"

#include <gtest/gtest.h>
#include <zlib.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cstdlib>
#include <fstream>
#include <random>
#include <sstream>
#include <stdexcept>

#include "pupembed/core/error.hpp"

namespace fs = std::filesystem;

namespace pupembed::testing {

fs::path shared_dir() {
    const char* configured = std::getenv("PUPEMBED_SHARED");
    return configured && *configured ? fs::path(configured) : default_shared_dir();
}

fs::path default_model_path() { return source_dir() / "models" / "pupembed-default.pt"; }

bool have_shared(const std::string& relative, std::string& why) {
    const fs::path path = shared_dir() / relative;
    if (fs::exists(path)) return true;
    why = "skipped: " + path.string() + " is absent (set PUPEMBED_SHARED to the shared data folder)";
    return false;
}

TempDir::TempDir() {
    static std::atomic<int> counter{0};
    std::random_device random;
    path_ = fs::temp_directory_path() /
            ("pupembed-test-" + std::to_string(::getpid()) + "-" + std::to_string(counter++) + "-" + std::to_string(random()));
    fs::create_directories(path_);
}

TempDir::~TempDir() {
    std::error_code ignored;
    fs::remove_all(path_, ignored);
}

void write_bytes(const fs::path& path, const std::string& bytes) {
    std::ofstream out(path, std::ios::binary);
    out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
    if (!out) throw std::runtime_error("cannot write " + path.string());
}

std::string quote(const std::string& text) {
    std::string quoted = "'";
    for (const char c : text) quoted += c == '\'' ? std::string("'\\''") : std::string(1, c);
    return quoted + "'";
}

static std::string slurp(const fs::path& path) {
    std::ifstream in(path, std::ios::binary);
    std::ostringstream buffer;
    buffer << in.rdbuf();
    return buffer.str();
}

/// Runs a shell command that writes DIR/out and DIR/err, and collects them.
static CommandResult collect(const std::string& command, const TempDir& dir) {
    const int status = std::system(command.c_str());
    CommandResult result;
    result.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
    result.out = slurp(dir / "out");
    result.err = slurp(dir / "err");
    return result;
}

CommandResult run_pupembed(const std::string& args) {
    TempDir dir;
    return collect(quote(cli_path()) + " " + args + " > " + quote((dir / "out").string()) + " 2> " +
                       quote((dir / "err").string()),
                   dir);
}

pupembed::GalleryImage gallery_row(const std::string& path, const std::string& hash) {
    pupembed::GalleryImage row;
    row.path = path;
    row.content_hash = hash;
    row.file_size = 10;
    row.width = row.height = 64;
    row.added = "2026-01-01T00:00:00Z";
    row.breed = "pug";
    row.breed_probability = 0.5;
    return row;
}

CommandResult run_pupembed_unprivileged(const std::string& args) {
    TempDir dir;
    const std::string as = ::geteuid() == 0 ? "setpriv --reuid=65534 --regid=65534 --clear-groups " : "";
    return collect(as + quote(cli_path()) + " " + args + " > " + quote((dir / "out").string()) + " 2> " +
                       quote((dir / "err").string()),
                   dir);
}

nlohmann::json run_pupembed_json(const std::string& args) {
    const auto result = run_pupembed(args + " --json");
    EXPECT_EQ(result.exit_code, 0) << args << "\n" << result.err;
    try {
        return nlohmann::json::parse(result.out);
    } catch (const nlohmann::json::exception&) {
        ADD_FAILURE() << args << ": not JSON: " << result.out;
        return nlohmann::json();
    }
}

CommandResult run_pupembed_with_interrupt(const std::string& args, const std::string& marker) {
    TempDir dir;
    const std::string out = quote((dir / "out").string()), err = quote((dir / "err").string());
    const std::string script = quote(cli_path()) + " " + args + " > " + out + " 2> " + err + " & pid=$!; " +
                               "for i in $(seq 1200); do grep -qF " + quote(marker) + " " + err +
                               " && break; sleep 0.05; done; kill -INT $pid; wait $pid";
    return collect("bash -c " + quote(script), dir);
}

std::string png_bytes(int width, int height) {
    auto big_endian = [](uint32_t value) {
        std::string out(4, '\0');
        for (int i = 0; i < 4; ++i) out[size_t(i)] = char((value >> (24 - 8 * i)) & 0xff);
        return out;
    };
    auto chunk = [&](const std::string& type, const std::string& data) {
        const std::string body = type + data;
        const uLong crc = crc32(0L, reinterpret_cast<const Bytef*>(body.data()), uInt(body.size()));
        return big_endian(uint32_t(data.size())) + body + big_endian(uint32_t(crc));
    };
    std::string rows;
    for (int y = 0; y < height; ++y) rows += std::string(1, '\0') + std::string(size_t(width) * 3, char(0x80));
    std::string packed(compressBound(uLong(rows.size())), '\0');
    uLongf packed_size = uLongf(packed.size());
    compress2(reinterpret_cast<Bytef*>(packed.data()), &packed_size, reinterpret_cast<const Bytef*>(rows.data()),
              uLong(rows.size()), 9);
    packed.resize(packed_size);
    const std::string header = big_endian(uint32_t(width)) + big_endian(uint32_t(height)) + std::string("\x08\x02\0\0\0", 5);
    return std::string("\x89PNG\r\n\x1a\n", 8) + chunk("IHDR", header) + chunk("IDAT", packed) + chunk("IEND", "");
}

std::string error_message_of(const std::function<void()>& action) {
    try {
        action();
    } catch (const Error& e) {
        return e.what();
    }
    return "no error";
}

}  // namespace pupembed::testing
