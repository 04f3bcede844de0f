// Gallery files: any bytes as the SQLite file give a gallery whose every read works, or a
// pupembed::Error naming the file.
#include <filesystem>
#include <vector>

#include "fuzz_support.hpp"
#include "pupembed/core/error.hpp"
#include "pupembed/gallery/gallery.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    const std::string path = pupembed::fuzz::scratch_path("g.db");
    for (const char* suffix : {"-wal", "-shm", ".index"}) std::filesystem::remove(path + suffix);
    pupembed::fuzz::scratch_file("g.db", pupembed::fuzz::bytes_of(data, size));
    try {
        pupembed::Gallery gallery = pupembed::Gallery::open(path, false);
        const pupembed::GalleryModel model = gallery.model();
        (void)gallery.generation();
        const int64_t count = gallery.size();
        for (const auto& image : gallery.images()) {
            (void)gallery.find(image.id);
            (void)gallery.find_path(image.path);
            (void)gallery.vector(image.id);
        }
        std::vector<int64_t> ids;
        std::vector<float> vectors;
        gallery.vectors(ids, vectors);
        if (model.dimension > 0 && vectors.size() != ids.size() * size_t(model.dimension)) __builtin_trap();
        (void)count;
        if (model.dimension > 0 && !ids.empty()) {
            const auto index = gallery.index(pupembed::IndexKind::Exact);
            (void)index->search(vectors.data(), 1, 3);
        }
    } catch (const pupembed::Error&) {
    }
    return 0;
}
