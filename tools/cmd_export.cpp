// pupembed export MODEL -o OUT [--float16] [--large-input SIZE]
#include <cstdio>
#include <memory>

#include "common.hpp"
#include "pupembed/core/error.hpp"
#include "pupembed/model/model.hpp"

namespace pupembed::cli {

void register_export(CLI::App& app) {
    struct Options {
        std::string model, output;
        bool float16 = false, allow_partial = false;
        int large_input = -1;
    };
    auto o = std::make_shared<Options>();
    CLI::App* command = app.add_subcommand(
        "export",
        "Write the one model file a user needs (trunk, embedding head, breed classifier, preprocessing,\n"
        "class names), e.g. from train-siamese's best.pt; --float16 halves its size.");
    command->add_option("MODEL", o->model, "Model file to export")->required();
    command->add_option("-o,--output", o->output, "File to write")->required();
    command->add_flag("--float16", o->float16, "Store the weights as float16");
    command->add_flag("--allow-partial", o->allow_partial, "Export a model without an embedding head or classifier");
    command->add_option("--large-input", o->large_input,
                        "Photos with a shorter side of at least 8/7 of this run at this input size instead (e.g. 224: "
                        "more detail where the photo has it, small photos stay fast); 0: off (default: as MODEL has it)")
        ->check(CLI::Range(0, 1024));
    command->callback([o] {
        Model model = load_model(o->model);
        if (o->large_input >= 0) set_large_input(model.info.preprocessing, o->large_input);
        if (!o->allow_partial && (!model.has_embedding_head() || !model.has_classifier()))
            throw Error(o->model, std::string("has no ") + (model.has_embedding_head() ? "classifier" : "embedding head") +
                                      " (train-siamese's best.pt has both; --allow-partial exports it anyway)");
        save_model(o->output, model, o->float16);
        std::printf("wrote %s: %s, %zu classes, %lld-d embedding, %s\n", o->output.c_str(), model.info.backbone.c_str(),
                    model.info.class_names.size(), static_cast<long long>(model.embedding_size()),
                    o->float16 ? "float16 weights" : "float32 weights");
    });
}

}  // namespace pupembed::cli
