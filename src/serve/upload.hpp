// An uploaded photo as the server hands it around.
#pragma once

#include <string>

namespace pupembed {

/// An uploaded photo: its bytes, held by the request (not copied: phone photos are megabytes),
/// and a name for messages.
struct Upload {
    const std::string* bytes;
    std::string name;
};

}  // namespace pupembed
