#include <algorithm>
#include <cstdlib>
#include <filesystem>

#include "pupembed/core/error.hpp"
#include "pupembed/model/model.hpp"

namespace pupembed {

std::vector<std::string> default_model_candidates() {
    std::vector<std::string> candidates;
    std::error_code error;
    const std::filesystem::path exe = std::filesystem::read_symlink("/proc/self/exe", error);
    if (!error) {
        candidates.push_back((exe.parent_path().parent_path() / "share/pupembed/pupembed-default.pt").string());
        candidates.push_back((exe.parent_path().parent_path() / "models/pupembed-default.pt").string());
    }
    const std::string source = std::string(PUPEMBED_SOURCE_DIR) + "/models/pupembed-default.pt";
    if (std::find(candidates.begin(), candidates.end(), source) == candidates.end()) candidates.push_back(source);
    return candidates;
}

std::string model_path_or_default(const std::string& given) {
    if (!given.empty()) return given;
    if (const char* environment = std::getenv("PUPEMBED_MODEL"); environment && *environment) return environment;
    std::string looked;
    for (const auto& candidate : default_model_candidates()) {
        std::error_code error;
        if (std::filesystem::is_regular_file(candidate, error)) return candidate;
        looked += (looked.empty() ? "" : ", ") + candidate;
    }
    throw Error("no model given and no default model found (looked for " + looked +
                "); pass --model FILE, set PUPEMBED_MODEL, or make one with scripts/train-default-model.sh");
}

}  // namespace pupembed
