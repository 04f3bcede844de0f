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

/// The photos named on a command line (files, or gallery ids "#12" of `gallery`, which may be
/// null), resolved: files embedded with the gallery's model (model_path_for_gallery), loaded only
/// when some are files. `model_path`, when given, is set to the model file the answer comes from.
std::vector<QueryPhoto> resolve_command_photos(const std::vector<std::string>& texts, Gallery* gallery,
                                               const GalleryOptions& options, const RuntimeOptions& runtime,
                                               std::string* model_path = nullptr);

/// Prints the gallery's warnings (e.g. an index file it could not save) on stderr.
void print_gallery_warnings(Gallery& gallery);

/// One line per neighbour: rank, distance, similarity, id, breed, path.
void print_neighbours(const std::vector<Neighbour>& neighbours);

}  // namespace pupembed::cli
