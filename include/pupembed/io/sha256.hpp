// Content hashes: what a gallery files a photo's bytes and a model file under.
#pragma once

#include <string>

namespace pupembed {

/// SHA-256 of `bytes` as 64 lower-case hex digits.
std::string sha256_hex(const std::string& bytes);

}  // namespace pupembed
