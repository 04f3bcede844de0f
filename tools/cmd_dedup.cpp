// pupembed dedup --db G --threshold T
#include <cstdio>
#include <memory>

#include "gallery_common.hpp"

namespace pupembed::cli {

void register_dedup(CLI::App& app) {
    struct Options {
        std::string db;
        double threshold = 0.05;
        bool json = false;
    };
    auto o = std::make_shared<Options>();
    CLI::App* command = app.add_subcommand(
        "dedup",
        "Groups of near-duplicate photos: photos within --threshold cosine distance of another member.\n"
        "Measured on the embedding head's part where the model's embedding also carries the breed\n"
        "posterior (two photos of one breed are not duplicates).");
    command->add_option("--db", o->db, "Gallery file")->required();
    command->add_option("--threshold", o->threshold, "Largest cosine distance between near-duplicates")
        ->check(CLI::Range(0.0, 2.0))
        ->capture_default_str();
    command->add_flag("--json", o->json, "Print JSON");
    command->callback([o] {
        Gallery gallery = Gallery::open(o->db, false);
        const auto groups = find_duplicates(gallery, o->threshold);
        if (o->json) {
            print_json({{"gallery", o->db}, {"threshold", o->threshold}, {"groups", duplicate_groups_json(gallery, groups)}});
            return;
        }
        int number = 1;
        for (const auto& group : groups) {
            std::printf("group %d (%zu photos)\n", number++, group.size());
            for (const int64_t id : group) {
                const auto image = gallery.find(id);
                std::printf("  #%-6lld %-28s %s\n", static_cast<long long>(id), image->breed.c_str(), image->path.c_str());
            }
        }
        std::printf("%zu groups of near-duplicates (cosine distance <= %g) among %lld photos\n", groups.size(), o->threshold,
                    static_cast<long long>(gallery.size()));
    });
}

}  // namespace pupembed::cli
