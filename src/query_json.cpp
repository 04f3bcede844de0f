#include "pupembed/query_json.hpp"

namespace pupembed {

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

}  // namespace pupembed
