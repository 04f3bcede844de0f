// The web page's files (web/), compiled into the binary by cmake/embed_web_assets.cmake.
#pragma once

#include <cstddef>
#include <string>

namespace pupembed {

struct WebAsset {
    const char* name;          ///< file name, e.g. "app.js"
    const char* content_type;  ///< e.g. "text/javascript; charset=utf-8"
    const unsigned char* data;
    size_t size;
};

/// The asset called `name`, or null.
const WebAsset* find_web_asset(const std::string& name);

}  // namespace pupembed
