// What the gallery commands share: which model answers for a gallery, and how images and
// neighbours are printed.
#pragma once

#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "common.hpp"
#include "pupembed/gallery/gallery.hpp"
#include "pupembed/gallery/ingest.hpp"
#include "pupembed/gallery/queries.hpp"
#include "pupembed/gallery/query_json.hpp"
#include "pupembed/gallery/search.hpp"
#include "pupembed/model/model.hpp"

namespace pupembed::cli {

/// --db, --model and --index, for commands that query a gallery.
struct GalleryOptions {
    std::string db, model, index = "auto";
};
void add_gallery_options(CLI::App& command, GalleryOptions& options, bool db_required);

/// The search parameters of --index and -k.
SearchParameters search_parameters(const GalleryOptions& options, int k);

/// What embeds the photos a command names: the gallery's model (model_path_for_gallery), loaded
/// only when some photos are not gallery ids (`embedder()` is null otherwise).
class CommandEmbedder {
public:
    CommandEmbedder(const std::vector<PhotoInput>& photos, Gallery* gallery, const GalleryOptions& options,
                    const RuntimeOptions& runtime);
    Embedder* embedder() { return embedder_.get(); }
    /// The model file the answer comes from (the gallery's when no model was loaded).
    const std::string& model_path() const { return model_path_; }

private:
    std::string model_path_;
    std::unique_ptr<Model> model_;
    std::unique_ptr<BatchEmbedder> embedder_;
};

/// Prints the gallery's warnings (e.g. an index file it could not save) on stderr.
void print_gallery_warnings(Gallery& gallery);

/// One line per neighbour: rank, distance, similarity, id, breed, path.
void print_neighbours(const std::vector<Neighbour>& neighbours);

}  // namespace pupembed::cli
