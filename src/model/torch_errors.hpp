// The library's edge for LibTorch's exceptions: what LibTorch throws (c10::Error) leaves the
// library as the project's Error, so front ends catch one type.
#pragma once

#include <c10/util/Exception.h>

#include <string>

#include "pupembed/core/error.hpp"

namespace pupembed {

/// Runs `action`; a c10::Error it throws becomes Error(`what`, LibTorch's message).
template <typename Action>
auto rethrow_torch_errors(const std::string& what, Action&& action) -> decltype(action()) {
    try {
        return action();
    } catch (const c10::Error& e) {
        throw Error(what, e.what_without_backtrace());
    }
}

}  // namespace pupembed
