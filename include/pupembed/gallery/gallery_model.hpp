// Which model answers for a gallery: the identity a gallery records for a model file, the model
// file queries use, and loading it with the check that the gallery's vectors came from it.
#pragma once

#include <string>

#include "pupembed/gallery/gallery.hpp"

namespace pupembed {

struct Model;

/// The identity a gallery records for a model file: the first 16 hex digits of the SHA-256 of
/// its bytes, its absolute path, and the model's embedding size.
GalleryModel gallery_model_of(const std::string& model_path, const Model& model);

/// Loads a model ready for inference; with a gallery that has vectors, checks that they were
/// made with this model (require_gallery_model).
Model load_query_model(const std::string& path, const Gallery* gallery);

/// The model file for queries on `gallery` (may be null): `given`, else the gallery's own model
/// file while it is still there, else the default model (model_path_or_default).
std::string model_path_for_gallery(const std::string& given, const Gallery* gallery);

}  // namespace pupembed
