// The build's absolute paths, in this one small file: every other test file then compiles the
// same in any clone, so a clone elsewhere (CI's) finds their compiles in ccache.
#include "test_support.hpp"

namespace pupembed::testing {

std::filesystem::path source_dir() { return PUPEMBED_SOURCE_DIR; }

std::string cli_path() { return PUPEMBED_CLI; }

std::filesystem::path default_shared_dir() { return PUPEMBED_DEFAULT_SHARED; }

}  // namespace pupembed::testing
