// Puppy-algebra expressions: terms with finite weights, or a "column N:" pupembed::Error.
#include <cmath>

#include "fuzz_support.hpp"
#include "pupembed/core/error.hpp"
#include "pupembed/gallery/algebra.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    const std::string expression = pupembed::fuzz::bytes_of(data, size);
    try {
        for (const auto& term : pupembed::parse_algebra(expression)) {
            if (!std::isfinite(term.weight) || term.operand.empty() || term.column < 1 ||
                size_t(term.column) > expression.size())
                __builtin_trap();
            long long id = 0;
            (void)pupembed::parse_gallery_id(term.operand, id);
        }
    } catch (const pupembed::Error& e) {
        if (std::string(e.what()).rfind("column ", 0) != 0) __builtin_trap();
    }
    return 0;
}
