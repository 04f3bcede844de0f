// pupembed similar A B [--db G]
#include <cstdio>
#include <memory>

#include "gallery_common.hpp"

namespace pupembed::cli {

void register_similar(CLI::App& app) {
    struct Options {
        std::string a, b;
        GalleryOptions gallery;
        bool json = false;
        RuntimeOptions runtime;
    };
    auto o = std::make_shared<Options>();
    CLI::App* command = app.add_subcommand(
        "similar",
        "Cosine distance and similarity of two photos' embeddings, with each one's breed guess.\n"
        "A photo is a file, or with --db a gallery id (#12).");
    command->add_option("A", o->a, "First photo")->required();
    command->add_option("B", o->b, "Second photo")->required();
    add_gallery_options(*command, o->gallery, false);
    command->add_flag("--json", o->json, "Print JSON");
    add_runtime_options(*command, o->runtime);
    command->callback([o] {
        std::unique_ptr<Gallery> gallery;
        if (!o->gallery.db.empty()) gallery = std::make_unique<Gallery>(Gallery::open(o->gallery.db, false));
        const std::vector<PhotoInput> inputs = photo_inputs({o->a, o->b});
        CommandEmbedder embedding(inputs, gallery.get(), o->gallery, o->runtime);
        const auto photos = resolve_photos(embedding.embedder(), inputs, gallery.get());
        const std::string& model_path = embedding.model_path();
        const float similarity = cosine_similarity(photos[0].vector, photos[1].vector);
        if (o->json) {
            print_json({{"model", model_path}, {"a", photo_json(photos[0])}, {"b", photo_json(photos[1])},
                        {"similarity", similarity}, {"distance", 1.0f - similarity}});
            return;
        }
        for (const auto& photo : photos)
            std::printf("%s: %s (%.2f)\n", photo.text.c_str(), photo.breed.empty() ? "no breed guess" : photo.breed.c_str(),
                        photo.breed_probability);
        std::printf("cosine distance %.4f, similarity %.4f\n", 1.0 - double(similarity), double(similarity));
    });
}

}  // namespace pupembed::cli
