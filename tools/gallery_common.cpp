#include "gallery_common.hpp"

#include <cstdio>
#include <filesystem>

#include "pupembed/error.hpp"
#include "pupembed/indexing.hpp"

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

Model load_query_model(const std::string& path, const Gallery* gallery) {
    Model model = load_model(path);
    prepare_for_inference(model);
    if (gallery && !gallery->model().id.empty()) {
        const GalleryModel identity = gallery_model_of(path, model);
        const GalleryModel built = gallery->model();
        if (identity.id != built.id)
            throw Error(gallery->path(), "was built with another model (" + built.path + ", id " + built.id + ") than " + path +
                                             " (id " + identity.id + "); give --model " + built.path +
                                             ", or re-embed the gallery with `pupembed index add --reembed`");
    }
    return model;
}

nlohmann::json image_json(const GalleryImage& image) {
    return {{"id", image.id},        {"path", image.path},     {"content_hash", image.content_hash},
            {"file_size", image.file_size}, {"width", image.width}, {"height", image.height},
            {"added", image.added},  {"breed", image.breed},   {"breed_probability", image.breed_probability}};
}

nlohmann::json neighbours_json(const std::vector<Neighbour>& neighbours) {
    nlohmann::json out = nlohmann::json::array();
    int rank = 1;
    for (const auto& n : neighbours) {
        nlohmann::json item = image_json(n.image);
        item["rank"] = rank++;
        item["similarity"] = n.similarity;
        item["distance"] = n.distance;
        out.push_back(item);
    }
    return out;
}

nlohmann::json photo_json(const QueryPhoto& photo) {
    nlohmann::json out = {{"query", photo.text}, {"path", photo.path}, {"breed", photo.breed},
                          {"breed_probability", photo.breed_probability}};
    out["gallery_id"] = photo.gallery_id >= 0 ? nlohmann::json(photo.gallery_id) : nlohmann::json();
    return out;
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

}  // namespace pupembed::cli
