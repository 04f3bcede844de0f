// NumPy .npy files (versions 1-3): an array of the size the header says, or pupembed::Error.
#include "fuzz_support.hpp"
#include "pupembed/core/error.hpp"
#include "pupembed/io/npy.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    try {
        const pupembed::NpyArray array = pupembed::parse_npy(pupembed::fuzz::bytes_of(data, size), "fuzz");
        size_t count = 1;
        for (const auto d : array.shape) count *= size_t(d);
        if (count != array.data.size()) __builtin_trap();
    } catch (const pupembed::Error&) {
    }
    return 0;
}
