#include "pupembed/gallery/gallery_model.hpp"

#include <filesystem>

#include "pupembed/io/file_io.hpp"
#include "pupembed/io/sha256.hpp"
#include "pupembed/model/model.hpp"

namespace fs = std::filesystem;

namespace pupembed {

Model load_query_model(const std::string& path, const Gallery* gallery) {
    Model model = load_model_for_inference(path);
    if (gallery)
        require_gallery_model(*gallery, gallery_model_of(path, model),
                              "give --model " + gallery->model().path + ", or re-embed the gallery with `pupembed index add --reembed`");
    return model;
}

std::string model_path_for_gallery(const std::string& given, const Gallery* gallery) {
    if (!given.empty() || !gallery) return model_path_or_default(given);
    const GalleryModel model = gallery->model();
    std::error_code error;
    if (!model.path.empty() && fs::is_regular_file(model.path, error)) return model.path;
    return model_path_or_default("");
}

GalleryModel gallery_model_of(const std::string& model_path, const Model& model) {
    GalleryModel identity;
    identity.id = sha256_hex(read_file(model_path)).substr(0, 16);
    identity.path = fs::absolute(model_path).lexically_normal().string();
    identity.dimension = model.embedding_size();
    identity.appearance_dimension = model.appearance_size();
    identity.large_input_size = model.info.preprocessing.large_input_size;
    return identity;
}

}  // namespace pupembed
