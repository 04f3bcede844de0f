// What the gallery commands share: which model answers for a gallery, and how images and
// neighbours are printed.
#pragma once

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "common.hpp"
#include "pupembed/gallery/gallery.hpp"
#include "pupembed/gallery/ingest.hpp"
#include "pupembed/gallery/queries.hpp"
#include "pupembed/gallery/query_json.hpp"
#include "pupembed/model/model.hpp"

namespace pupembed::cli {

/// --db, --model and --index, for commands that query a gallery.
struct GalleryOptions {
    std::string db, model, index = "auto";
};
void add_gallery_options(CLI::App& command, GalleryOptions& options, bool db_required);

/// The model file for `gallery`: `given`, else the gallery's own model file while it is still
/// there, else the default model.
std::string model_for_gallery(const std::string& given, const Gallery& gallery);

/// Prints the gallery's warnings (e.g. an index file it could not save) on stderr.
void print_gallery_warnings(Gallery& gallery);

/// One line per neighbour: rank, distance, similarity, id, breed, path.
void print_neighbours(const std::vector<Neighbour>& neighbours);

}  // namespace pupembed::cli
