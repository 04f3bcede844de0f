// pupembed embed --model M IMAGES_OR_DIRS -o out.npy
#include <cstdio>
#include <memory>

#include "common.hpp"
#include "pupembed/inference/embed.hpp"
#include "pupembed/io/npy.hpp"
#include "pupembed/model/model.hpp"

namespace pupembed::cli {

void register_embed(CLI::App& app) {
    struct Options {
        std::string model, output;
        std::vector<std::string> inputs;
        bool skip_bad = false;
        RuntimeOptions runtime;
    };
    auto o = std::make_shared<Options>();
    CLI::App* command = app.add_subcommand(
        "embed",
        "Embed photos: one unit vector per photo into a NumPy .npy, with a .tsv of the photos' paths beside\n"
        "it. Folders are searched recursively. Photos are decoded on another thread while the network runs.");
    command->add_option("IMAGES", o->inputs, "Image files and folders")->required();
    command->add_option("-m,--model", o->model, "Model file (default: $PUPEMBED_MODEL, else the shipped default model)");
    command->add_option("-o,--output", o->output, "The .npy to write")->required();
    command->add_flag("--skip-bad", o->skip_bad, "Skip unreadable photos (listed on stderr) instead of stopping");
    add_runtime_options(*command, o->runtime);
    command->callback([o] {
        o->model = model_path_or_default(o->model);
        Model model = load_model_for_inference(o->model);
        std::vector<std::string> passed_over;
        const auto paths = collect_image_paths(o->inputs, &passed_over);
        for (const auto& entry : passed_over) std::fprintf(stderr, "skipped %s\n", entry.c_str());
        const EmbeddingSet set = embed_images(model, paths, start_inference(o->runtime, "embed"), o->skip_bad);
        finish_progress();
        for (const auto& failure : set.failures) std::fprintf(stderr, "skipped %s\n", failure.c_str());
        write_embedding_set(o->output, set, o->model);
        std::printf("wrote %s (%lld x %lld) and %s; %.0f images/s%s\n", o->output.c_str(),
                    static_cast<long long>(set.vectors.rows), static_cast<long long>(set.vectors.columns),
                    row_table_path(o->output).c_str(), double(set.paths.size()) / set.seconds,
                    set.failures.empty() ? "" : (", " + std::to_string(set.failures.size()) + " skipped").c_str());
    });
}

}  // namespace pupembed::cli
