// pupembed algebra "a.jpg + b.jpg - c.jpg" -k 5 --db G
#include <algorithm>
#include <cstdio>
#include <memory>

#include "gallery_common.hpp"
#include "pupembed/core/error.hpp"

namespace pupembed::cli {

void register_algebra(CLI::App& app) {
    struct Options {
        std::string expression;
        int k = 5;
        GalleryOptions gallery;
        bool json = false;
        RuntimeOptions runtime;
    };
    auto o = std::make_shared<Options>();
    CLI::App* command = app.add_subcommand(
        "algebra",
        "Puppy algebra: add and subtract photos' embeddings, normalise, and show the nearest gallery photos\n"
        "(the photos in the expression left out). Operands are photo files or gallery ids (#12); a weight\n"
        "goes before * (0.5*a.jpg); parentheses group; quote names with spaces or parentheses ('my dog.jpg').\n"
        "+ and - need spaces around them: a-b.jpg is one file name.");
    command->add_option("EXPRESSION", o->expression, "e.g. \"a.jpg + b.jpg - c.jpg\"")->required();
    command->add_option("-k", o->k, "How many photos to show")->check(CLI::Range(1, 10000))->capture_default_str();
    add_gallery_options(*command, o->gallery, true);
    command->add_flag("--json", o->json, "Print JSON");
    add_runtime_options(*command, o->runtime);
    command->callback([o] {
        const AlgebraQuery query = algebra_query(o->expression);
        Gallery gallery = Gallery::open(o->gallery.db, false);
        CommandEmbedder embedding(query.terms, &gallery, o->gallery, o->runtime);
        const AlgebraSearch search = search_algebra(gallery, embedding.embedder(), query, search_parameters(o->gallery, o->k));
        const auto& photos = search.terms;
        const auto& weights = search.weights;
        const auto neighbours = neighbours_of(gallery, search.nearest, 0);
        print_gallery_warnings(gallery);
        if (o->json) {
            print_json({{"gallery", o->gallery.db}, {"expression", o->expression}, {"terms", algebra_terms_json(photos, weights)},
                        {"results", neighbours_json(neighbours)}});
            return;
        }
        for (size_t i = 0; i < photos.size(); ++i)
            std::printf("%+.2f x %s: %s\n", weights[i], photos[i].text.c_str(),
                        photos[i].breed.empty() ? "no breed guess" : photos[i].breed.c_str());
        print_neighbours(neighbours);
    });
}

}  // namespace pupembed::cli
