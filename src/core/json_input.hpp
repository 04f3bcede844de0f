// Reading JSON from outside (model-file headers, run configs, request bodies) with a bound on
// its nesting, so that no input can exhaust the stack of the code that walks it.
#pragma once

#include <nlohmann/json.hpp>
#include <string>

namespace pupembed {

/// Deepest nesting of arrays and objects accepted by parse_json_bounded().
constexpr int kMaxJsonDepth = 64;

/// Parses `text`; throws Error naming `name` when it is not JSON or nests arrays and objects
/// more than `max_depth` deep (judged before anything is built).
nlohmann::json parse_json_bounded(const std::string& text, const std::string& name, int max_depth = kMaxJsonDepth);

}  // namespace pupembed
