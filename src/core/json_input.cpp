#include "core/json_input.hpp"

#include <algorithm>

#include "pupembed/core/error.hpp"

namespace pupembed {
namespace {

/// The deepest nesting of [ and { outside strings, stopping early once past `limit`.
int nesting_depth(const std::string& text, int limit) {
    int depth = 0, deepest = 0;
    bool in_string = false, escaped = false;
    for (const char c : text) {
        if (in_string) {
            if (escaped) escaped = false;
            else if (c == '\\') escaped = true;
            else if (c == '"') in_string = false;
            continue;
        }
        if (c == '"') {
            in_string = true;
        } else if (c == '[' || c == '{') {
            deepest = std::max(deepest, ++depth);
            if (deepest > limit) return deepest;
        } else if (c == ']' || c == '}') {
            --depth;
        }
    }
    return deepest;
}

}  // namespace

nlohmann::json parse_json_bounded(const std::string& text, const std::string& name, int max_depth) {
    // nlohmann's parser stops at a NUL byte as at the end, so "{...}\0garbage" would pass; a NUL
    // is never valid JSON (inside a string it must be written \u0000).
    if (const size_t nul = text.find('\0'); nul != std::string::npos)
        throw Error(name, "not valid JSON: a NUL byte at offset " + std::to_string(nul));
    if (nesting_depth(text, max_depth) > max_depth)
        throw Error(name, "JSON nested more than " + std::to_string(max_depth) + " levels deep");
    try {
        return nlohmann::json::parse(text);
    } catch (const nlohmann::json::exception& e) {  // parse_error, and out_of_range for numbers like 1e99999
        throw Error(name, std::string("not valid JSON: ") + e.what());
    }
}

}  // namespace pupembed
