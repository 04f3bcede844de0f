// Helpers shared by the tests: temporary folders, the ../shared folder, running the command.
#pragma once

#include <filesystem>
#include <functional>
#include <nlohmann/json.hpp>
#include <string>

#include "pupembed/gallery/gallery.hpp"

namespace pupembed::testing {

/// The shared data and weights folder: $PUPEMBED_SHARED, else ../shared beside the checkout.
std::filesystem::path shared_dir();

/// The checkout this build was made from (the shipped model is in its models/).
std::filesystem::path source_dir();

/// The shipped default model, models/pupembed-default.pt in the checkout.
std::filesystem::path default_model_path();

/// This build's `pupembed` command.
std::string cli_path();

/// ../shared beside the checkout (shared_dir() without $PUPEMBED_SHARED).
std::filesystem::path default_shared_dir();

/// True when `relative` exists under shared_dir(); otherwise false and a reason in `why`.
bool have_shared(const std::string& relative, std::string& why);

/// A fresh empty folder, removed when the object goes.
class TempDir {
public:
    TempDir();
    ~TempDir();
    TempDir(const TempDir&) = delete;
    TempDir& operator=(const TempDir&) = delete;
    const std::filesystem::path& path() const { return path_; }
    std::filesystem::path operator/(const std::string& name) const { return path_ / name; }

private:
    std::filesystem::path path_;
};

/// A gallery row for `path` with the file hash `hash` and made-up size, date and breed.
pupembed::GalleryImage gallery_row(const std::string& path, const std::string& hash = "h");

/// Writes `bytes` to `path`.
void write_bytes(const std::filesystem::path& path, const std::string& bytes);

/// What a run of the `pupembed` command printed and returned.
struct CommandResult {
    int exit_code = -1;
    std::string out;
    std::string err;
};

/// Runs `pupembed ARGS` (ARGS is shell text) and captures its output.
CommandResult run_pupembed(const std::string& args);

/// Runs `pupembed ARGS --json`, expects exit status 0 and returns the parsed output (a test
/// failure, and null, when it is not JSON).
nlohmann::json run_pupembed_json(const std::string& args);

/// run_pupembed() as the user nobody when the tests run as the superuser (who may write any
/// file, so read-only files are only read-only to another user), else as this user.
CommandResult run_pupembed_unprivileged(const std::string& args);

/// Runs `pupembed ARGS`, sends it SIGINT as soon as its stderr holds `marker` (or after 60 s),
/// and captures its output.
CommandResult run_pupembed_with_interrupt(const std::string& args, const std::string& marker);

/// The message of the pupembed::Error that `action` throws, or "no error".
std::string error_message_of(const std::function<void()>& action);

/// Quotes `text` for the shell.
std::string quote(const std::string& text);

/// A grey 8-bit RGB PNG of `width` x `height` pixels, written by hand (a few hundred bytes even
/// for a 1 x 20,000 strip: the rows compress to nothing).
std::string png_bytes(int width, int height);

}  // namespace pupembed::testing

// Skips the current test with a message unless `relative` exists in the shared folder.
#define PUPEMBED_REQUIRE_SHARED(relative)                                         \
    do {                                                                          \
        std::string why_;                                                         \
        if (!::pupembed::testing::have_shared(relative, why_)) GTEST_SKIP() << why_; \
    } while (0)

// Expects `action` to throw pupembed::Error whose message contains `text`.
#define EXPECT_ERROR_CONTAINS(action, text)                                                          \
    do {                                                                                             \
        const std::string message_ = ::pupembed::testing::error_message_of([&] { action; });        \
        EXPECT_NE(message_.find(text), std::string::npos) << message_;                               \
    } while (0)
