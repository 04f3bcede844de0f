#include "gallery_common.hpp"

#include <cstdio>
#include <filesystem>

#include "pupembed/core/error.hpp"

namespace pupembed::cli {

void add_gallery_options(CLI::App& command, GalleryOptions& options, bool db_required) {
    auto* db = command.add_option("--db", options.db, "Gallery file (SQLite), made by `pupembed index add`");
    if (db_required) db->required();
    command.add_option("-m,--model", options.model,
                       "Model file (default: the gallery's own model, else the shipped default model)");
    command.add_option("--index", options.index,
                       "Search index: exact, hnsw (approximate, for large galleries) or auto (hnsw from " +
                           std::to_string(kApproximateSearchFrom) + " photos)")
        ->check(CLI::IsMember({"auto", "exact", "hnsw"}))
        ->capture_default_str();
}

std::string model_for_gallery(const std::string& given, const Gallery& gallery) {
    if (!given.empty()) return given;
    const GalleryModel model = gallery.model();
    std::error_code error;
    if (!model.path.empty() && std::filesystem::is_regular_file(model.path, error)) return model.path;
    return model_path_or_default("");
}

void print_neighbours(const std::vector<Neighbour>& neighbours) {
    if (neighbours.empty()) {
        std::printf("(the gallery has no other photos)\n");
        return;
    }
    std::printf("%4s  %8s  %10s  %6s  %-28s  %s\n", "rank", "distance", "similarity", "id", "breed", "path");
    int rank = 1;
    for (const auto& n : neighbours)
        std::printf("%4d  %8.4f  %10.4f  %6lld  %-28s  %s\n", rank++, double(n.distance), double(n.similarity),
                    static_cast<long long>(n.image.id), n.image.breed.empty() ? "-" : n.image.breed.c_str(),
                    n.image.path.c_str());
}

void print_gallery_warnings(Gallery& gallery) {
    for (const auto& warning : gallery.take_warnings()) std::fprintf(stderr, "pupembed: warning: %s\n", warning.c_str());
}

}  // namespace pupembed::cli
