// pupembed extract --model M DATA -o feats.npy
#include <cstdio>
#include <memory>

#include "common.hpp"
#include "pupembed/model/threads.hpp"
#include "pupembed/model/model.hpp"
#include "pupembed/io/npy.hpp"
#include "pupembed/train/features.hpp"
#include "training_progress.hpp"

namespace pupembed::cli {

void register_extract(CLI::App& app) {
    struct Options {
        std::string model, data, output;
        ExtractOptions extract;
        int threads = 0;
    };
    auto o = std::make_shared<Options>();
    CLI::App* command = app.add_subcommand(
        "extract",
        "Stage 2's input: run a model's trunk (spliced before its classifier) over labelled photos and\n"
        "save the pooled vectors (512-d for SqueezeNet) as a NumPy .npy, with a .tsv of path and label\n"
        "beside it. --augment K saves K randomly cropped and flipped versions of each photo.");
    command->add_option("DATA", o->data, "Folder-per-class tree or list file")->required();
    command->add_option("-m,--model", o->model, "Model file (e.g. a stage-1 best.pt)")->required();
    command->add_option("-o,--output", o->output, "The .npy to write (the .tsv goes beside it)")->required();
    command->add_option("--augment", o->extract.augment, "Random crops per photo (0: the centre crop only)")
        ->check(CLI::Range(0, 64))
        ->capture_default_str();
    command->add_option("--layer", o->extract.layer, "Trunk layer to pool (SqueezeNet: conv1, fire2 ... fire9; default: the last)");
    command->add_option("--seed", o->extract.seed, "Seed of the random crops")->capture_default_str();
    command->add_option("--cache-dir", o->extract.cache_dir, "Where decoded photos are cached");
    command->add_flag("--strict", o->extract.strict, "Fail on an unreadable photo instead of skipping it");
    command->add_option("--threads", o->threads, "Threads (0: one per core)")->check(CLI::Range(0, kMaxThreads));
    command->callback([o] {
        set_thread_count(o->threads);
        Model model = load_model_for_inference(o->model);
        o->extract.on_message = print_training_message;
        o->extract.on_progress = start_inference(RuntimeOptions{o->threads, 64, o->extract.max_pixels}, "extract").on_progress;
        const FeatureSet set = extract_features(model, o->model, load_dataset(o->data), o->extract);
        finish_progress();
        write_feature_set(o->output, set);
        std::printf("wrote %s (%lld x %lld) and %s\n", o->output.c_str(), static_cast<long long>(set.features.rows),
                    static_cast<long long>(set.features.columns), row_table_path(o->output).c_str());
    });
}

}  // namespace pupembed::cli
