// The JSON shapes of gallery images, query photos and search results, shared by the commands'
// --json output and the HTTP API so that a program reads both the same way.
#pragma once

#include <nlohmann/json.hpp>
#include <vector>

#include "pupembed/gallery.hpp"
#include "pupembed/queries.hpp"

namespace pupembed {

/// id, path, content_hash, file_size, width, height, added, breed, breed_probability.
nlohmann::json image_json(const GalleryImage& image);
/// image_json of each neighbour plus rank (from 1), similarity and distance.
nlohmann::json neighbours_json(const std::vector<Neighbour>& neighbours);
/// query (as given), path, breed, breed_probability, gallery_id (null when not in the gallery).
nlohmann::json photo_json(const QueryPhoto& photo);

}  // namespace pupembed
