#include "pupembed/core/version.hpp"

namespace pupembed {

const char* version() { return PUPEMBED_VERSION; }

}  // namespace pupembed
