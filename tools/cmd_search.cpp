// pupembed search PHOTO -k 10 --db G
#include <cstdio>
#include <memory>

#include "gallery_common.hpp"

namespace pupembed::cli {

void register_search(CLI::App& app) {
    struct Options {
        std::string query;
        int k = 10;
        GalleryOptions gallery;
        bool json = false;
        RuntimeOptions runtime;
    };
    auto o = std::make_shared<Options>();
    CLI::App* command = app.add_subcommand(
        "search", "The gallery photos nearest to a photo (a file, or a gallery id: #12), with distance and breed.\n"
                  "The query itself is left out when it is in the gallery.");
    command->add_option("PHOTO", o->query, "Photo file or gallery id (#12)")->required();
    command->add_option("-k", o->k, "How many photos to show")->check(CLI::Range(1, 10000))->capture_default_str();
    add_gallery_options(*command, o->gallery, true);
    command->add_flag("--json", o->json, "Print JSON");
    add_runtime_options(*command, o->runtime);
    command->callback([o] {
        Gallery gallery = Gallery::open(o->gallery.db, false);
        const std::vector<PhotoInput> photos = photo_inputs({o->query});
        CommandEmbedder embedding(photos, &gallery, o->gallery, o->runtime);
        const PhotoSearch search = search_photos(gallery, embedding.embedder(), photos, search_parameters(o->gallery, o->k));
        const QueryPhoto& query = search.queries.at(0);
        const auto neighbours = neighbours_of(gallery, search.nearest, 0);
        print_gallery_warnings(gallery);
        if (o->json) {
            print_json({{"gallery", o->gallery.db}, {"query", photo_json(query)}, {"results", neighbours_json(neighbours)}});
            return;
        }
        std::printf("%s: %s (%.2f)\n", query.text.c_str(), query.breed.empty() ? "no breed guess" : query.breed.c_str(),
                    query.breed_probability);
        print_neighbours(neighbours);
    });
}

}  // namespace pupembed::cli
