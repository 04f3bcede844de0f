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
                       "Search index: exact, hnsw (approximate, for large galleries), ivfpq (compressed, approximate, "
                       "for galleries past memory) or auto (what `index build` chose, else hnsw from " +
                           std::to_string(kApproximateSearchFrom) + " photos)")
        ->check(CLI::IsMember({"auto", "exact", "hnsw", "ivfpq"}))
        ->capture_default_str();
}

SearchParameters search_parameters(const GalleryOptions& options, int k) {
    SearchParameters parameters;
    parameters.k = k;
    parameters.index = index_choice_from_name(options.index);
    return parameters;
}

CommandEmbedder::CommandEmbedder(const std::vector<PhotoInput>& photos, Gallery* gallery, const GalleryOptions& options,
                                 const RuntimeOptions& runtime) {
    if (!needs_model(photos)) {
        if (gallery) model_path_ = gallery->model().path;
        return;
    }
    model_path_ = model_path_for_gallery(options.model, gallery);
    model_ = std::make_unique<Model>(load_query_model(model_path_, gallery));
    embedder_ = std::make_unique<BatchEmbedder>(*model_, start_inference(runtime, ""));
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
