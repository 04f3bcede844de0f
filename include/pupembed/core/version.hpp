#pragma once

namespace pupembed {

/// pupembed's version, e.g. "0.1.0".
const char* version();

}  // namespace pupembed
