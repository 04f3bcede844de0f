#include "gallery_common.hpp"

#include <cstdio>

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

std::vector<QueryPhoto> resolve_command_photos(const std::vector<std::string>& texts, Gallery* gallery,
                                               const GalleryOptions& options, const RuntimeOptions& runtime,
                                               std::string* model_path) {
    const std::vector<PhotoInput> inputs = photo_inputs(texts);
    if (!needs_model(inputs)) {
        if (model_path && gallery) *model_path = gallery->model().path;
        return resolve_photos(nullptr, inputs, gallery);
    }
    const std::string path = model_path_for_gallery(options.model, gallery);
    Model model = load_query_model(path, gallery);
    BatchEmbedder embedder(model, start_inference(runtime, ""));
    if (model_path) *model_path = path;
    return resolve_photos(&embedder, inputs, gallery);
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
