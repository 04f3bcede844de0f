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
        const auto photos = resolve_command_photos({o->query}, &gallery, o->gallery, o->runtime);
        std::vector<int64_t> exclude;
        if (photos[0].gallery_id >= 0) exclude.push_back(photos[0].gallery_id);
        const auto neighbours =
            search_gallery(gallery, photos[0].vector, o->k, exclude, index_choice_from_name(o->gallery.index));
        print_gallery_warnings(gallery);
        if (o->json) {
            print_json({{"gallery", o->gallery.db}, {"query", photo_json(photos[0])}, {"results", neighbours_json(neighbours)}});
            return;
        }
        std::printf("%s: %s (%.2f)\n", photos[0].text.c_str(), photos[0].breed.empty() ? "no breed guess" : photos[0].breed.c_str(),
                    photos[0].breed_probability);
        print_neighbours(neighbours);
    });
}

}  // namespace pupembed::cli
