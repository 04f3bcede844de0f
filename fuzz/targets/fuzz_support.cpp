#include "fuzz_support.hpp"

#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>

namespace pupembed::fuzz {

std::string scratch_path(const std::string& name) {
    static const std::string folder = [] {
        const char* base = std::getenv("TMPDIR");
        const std::filesystem::path dir =
            std::filesystem::path(base && *base ? base : "/tmp") / ("pupembed-fuzz-" + std::to_string(getpid()));
        std::filesystem::create_directories(dir);
        return dir.string();
    }();
    return folder + "/" + name;
}

std::string scratch_file(const std::string& name, const std::string& bytes) {
    const std::string path = scratch_path(name);
    std::ofstream(path, std::ios::binary | std::ios::trunc).write(bytes.data(), std::streamsize(bytes.size()));
    return path;
}

}  // namespace pupembed::fuzz
