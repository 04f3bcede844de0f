// pupembed info MODEL
#include <iostream>
#include <memory>
#include <sstream>

#include "common.hpp"
#include "pupembed/model/model.hpp"

namespace pupembed::cli {
namespace {

std::string format_number(double value) {
    std::ostringstream out;
    out << value;
    return out.str();
}

}  // namespace

void register_info(CLI::App& app) {
    struct Options {
        std::string model;
        bool json = false;
    };
    auto options = std::make_shared<Options>();
    CLI::App* command = app.add_subcommand("info", "Show what a model file holds.");
    command->add_option("MODEL", options->model, "Model file")->required();
    command->add_flag("--json", options->json, "Print JSON");
    command->callback([options] {
        const Model model = load_model(options->model);
        const ModelInfo& info = model.info;
        const int64_t parameters = model.parameter_count();
        const Preprocessing& p = info.preprocessing;
        if (options->json) {
            print_json({{"file", options->model},
                        {"format_version", format_version(info)},
                        {"backbone", info.backbone},
                        {"feature_channels", model.feature_channels()},
                        {"classifier", info.classifier.empty() ? nlohmann::json(nullptr) : nlohmann::json(info.classifier)},
                        {"classes", info.class_names.size()},
                        {"embedding", info.embedding.empty() ? nlohmann::json(nullptr) : nlohmann::json(info.embedding)},
                        {"embedding_size", model.embedding_size()},
                        {"embedding_posterior", posterior_json(info)},
                        {"parameters", parameters},
                        {"preprocessing",
                         {{"input_size", p.input_size},
                          {"resize_shorter", p.resize_shorter},
                          {"large_input_size", p.large_input_size},
                          {"large_resize_shorter", p.large_resize_shorter},
                          {"mean", p.mean},
                          {"std", p.std}}},
                        {"source", info.source}});
            return;
        }
        std::cout << options->model << "\n"
                  << "  backbone:      " << info.backbone << " (" << model.feature_channels()
                  << "-channel features)\n"
                  << "  classifier:    "
                  << (info.classifier.empty() ? "none" : info.classifier + ", " + std::to_string(info.class_names.size()) + " classes")
                  << "\n"
                  << "  embedding:     "
                  << (info.embedding.empty() ? "none (pooled trunk features, " + std::to_string(model.embedding_size()) + "-d)"
                                             : info.embedding + ", " + std::to_string(info.embedding_dim) + "-d (hidden " +
                                                   std::to_string(info.embedding_hidden) + ")")
                  << (info.posterior_weight > 0 ? ", then the square root of the breed posterior (weight " +
                                                      format_number(info.posterior_weight) + ", temperature " +
                                                      format_number(info.posterior_temperature) + "): " +
                                                      std::to_string(model.embedding_size()) + "-d"
                                                : std::string())
                  << "\n"
                  << "  parameters:    " << parameters << "\n"
                  << "  preprocessing: shorter side to " << p.resize_shorter << ", centre crop " << p.input_size << "x"
                  << p.input_size << ", mean (" << p.mean[0] << ", " << p.mean[1] << ", " << p.mean[2] << "), std ("
                  << p.std[0] << ", " << p.std[1] << ", " << p.std[2] << ")"
                  << (p.large_input_size > 0 ? "; photos with a shorter side of " + std::to_string(p.large_resize_shorter) +
                                                   "+: shorter side to " + std::to_string(p.large_resize_shorter) +
                                                   ", centre crop " + std::to_string(p.large_input_size) + "x" +
                                                   std::to_string(p.large_input_size)
                                             : std::string())
                  << "\n"
                  << "  source:        " << info.source << "\n";
    });
}

}  // namespace pupembed::cli
