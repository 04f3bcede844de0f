// Dataset list files (path<TAB>label lines) and the class names they carry.
#include "fuzz_support.hpp"
#include "pupembed/core/error.hpp"
#include "pupembed/io/dataset.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    const std::string path = pupembed::fuzz::scratch_file("list.txt", pupembed::fuzz::bytes_of(data, size));
    try {
        const pupembed::Dataset dataset = pupembed::read_list_file(path);
        for (const auto& name : dataset.class_names) (void)pupembed::class_id_and_name(name);
        for (const auto& sample : dataset.samples)
            if (sample.label < 0 || size_t(sample.label) >= dataset.class_names.size()) __builtin_trap();
    } catch (const pupembed::Error&) {
    }
    return 0;
}
