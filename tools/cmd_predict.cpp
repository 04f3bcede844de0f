// pupembed predict IMAGE... --model FILE -k 5, and pupembed breed IMAGE... (the default model)
#include <cstdio>
#include <memory>

#include "common.hpp"
#include "pupembed/gallery/query_json.hpp"
#include "pupembed/model/model.hpp"

namespace pupembed::cli {

namespace {

void register_classes_command(CLI::App& app, const char* name, const char* description, bool model_required) {
    struct Options {
        std::vector<std::string> images;
        std::string model;
        int k = 5;
        bool json = false;
        RuntimeOptions runtime;
    };
    auto options = std::make_shared<Options>();
    CLI::App* command = app.add_subcommand(name, description);
    command->add_option("IMAGE", options->images, "Image files (JPEG, PNG, WebP, BMP)")->required();
    auto* model_option = command->add_option("-m,--model", options->model,
                                      model_required ? "Model file with a classifier" : "Model file with a classifier (default: the shipped model)");
    if (model_required) model_option->required();
    command->add_option("-k", options->k, "How many classes to show per image")->check(CLI::PositiveNumber)->capture_default_str();
    command->add_flag("--json", options->json, "Print JSON");
    add_runtime_options(*command, options->runtime);
    command->callback([options] {
        const std::string model_path = model_path_or_default(options->model);
        Model model = load_model_for_inference(model_path);
        const auto predictions = predict_classes(model, options->images, options->k, start_inference(options->runtime, ""));
        if (options->json) {
            nlohmann::json out = nlohmann::json::array();
            for (const auto& prediction : predictions) out.push_back(prediction_json(prediction));
            print_json({{"model", model_path}, {"predictions", out}});
            return;
        }
        for (const auto& prediction : predictions) {
            std::printf("%s\n", prediction.path.c_str());
            for (const auto& score : prediction.top)
                std::printf("  %6.4f  %s  %s\n", score.probability, score.id.c_str(), score.name.c_str());
        }
    });
}

}  // namespace

void register_predict(CLI::App& app) {
    register_classes_command(app, "predict", "Print the most probable classes of each image.", true);
}

void register_breed(CLI::App& app) {
    register_classes_command(app, "breed",
                             "The 5 most probable breeds of each photo, with probabilities (-k for more or fewer).\n"
                             "Uses the shipped default model unless --model names another.",
                             false);
}

}  // namespace pupembed::cli
