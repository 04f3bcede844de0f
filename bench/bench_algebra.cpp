// Puppy algebra on a gallery of a folder-per-breed tree (breed = the photo's folder): for random
// pairs of photos of two different breeds A and B, how often the nearest photo to A + B (the
// two left out) is of breed A or B, against how often a random photo of the gallery would be.
//   build/bench/bench_algebra --db GALLERY [--pairs 1000] [--seed 1] [--json]
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <map>
#include <random>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "pupembed/core/error.hpp"
#include "pupembed/core/runtime.hpp"
#include "pupembed/gallery/gallery.hpp"
#include "pupembed/gallery/queries.hpp"
#include "pupembed/gallery/search.hpp"

namespace {

const char* argument(int argc, char** argv, const char* name, const char* fallback) {
    for (int i = 1; i + 1 < argc; ++i)
        if (std::strcmp(argv[i], name) == 0) return argv[i + 1];
    return fallback;
}

}  // namespace

int main(int argc, char** argv) try {
    pupembed::configure_process(argv);
    const std::string db = argument(argc, argv, "--db", "");
    if (db.empty()) throw pupembed::Error("--db GALLERY is required");
    const int pairs = std::atoi(argument(argc, argv, "--pairs", "1000"));
    std::mt19937_64 rng(std::strtoull(argument(argc, argv, "--seed", "1"), nullptr, 10));
    bool json = false;
    for (int i = 1; i < argc; ++i) json = json || std::strcmp(argv[i], "--json") == 0;

    pupembed::Gallery gallery = pupembed::Gallery::open(db, false);
    const auto images = gallery.images();
    if (images.size() < 3) throw pupembed::Error(db, "needs at least 3 photos");
    std::map<int64_t, std::string> breed_of;
    std::map<std::string, int64_t> count_of;
    for (const auto& image : images) {
        const std::string breed = std::filesystem::path(image.path).parent_path().filename().string();
        breed_of[image.id] = breed;
        ++count_of[breed];
    }
    if (count_of.size() < 2) throw pupembed::Error(db, "needs photos of at least 2 breeds (folders)");
    std::uniform_int_distribution<size_t> pick(0, images.size() - 1);
    int hits = 0, hits_a = 0, hits_b = 0;
    double chance = 0;
    for (int p = 0; p < pairs; ++p) {
        const auto& a = images[pick(rng)];
        const pupembed::GalleryImage* b = &images[pick(rng)];
        while (breed_of[b->id] == breed_of[a.id]) b = &images[pick(rng)];
        pupembed::QueryPhoto qa, qb;
        qa.vector = gallery.vector(a.id);
        qb.vector = gallery.vector(b->id);
        const auto nearest = pupembed::search_gallery(gallery, pupembed::combine({qa, qb}, {1, 1}), 1, {a.id, b->id},
                                                      pupembed::IndexChoice::Exact);
        const std::string& found = breed_of[nearest.at(0).image.id];
        hits_a += found == breed_of[a.id];
        hits_b += found == breed_of[b->id];
        hits += found == breed_of[a.id] || found == breed_of[b->id];
        // A random photo other than the two: of breed A or B with this probability.
        chance += double(count_of[breed_of[a.id]] + count_of[breed_of[b->id]] - 2) / double(images.size() - 2);
    }
    const double rate = double(hits) / pairs, random_rate = chance / pairs;
    if (json) {
        std::printf("%s\n", nlohmann::json({{"gallery", db}, {"photos", images.size()}, {"pairs", pairs},
                                            {"nearest_is_a_or_b", rate}, {"nearest_is_a", double(hits_a) / pairs},
                                            {"nearest_is_b", double(hits_b) / pairs}, {"random_photo_is_a_or_b", random_rate}})
                                .dump(2)
                                .c_str());
    } else {
        std::printf("%d pairs of photos of two different breeds A, B over %zu photos of %zu breeds:\n"
                    "  nearest photo to A + B is of breed A or B: %.3f (A %.3f, B %.3f)\n"
                    "  a random photo is of breed A or B:         %.3f\n",
                    pairs, images.size(), count_of.size(), rate, double(hits_a) / pairs, double(hits_b) / pairs, random_rate);
    }
    return 0;
} catch (const std::exception& e) {
    std::fprintf(stderr, "bench_algebra: error: %s\n", e.what());
    return 1;
}
