// pupembed eval --model M DATA
#include <cstdio>
#include <memory>

#include "common.hpp"
#include "pupembed/model.hpp"

namespace pupembed::cli {

void register_eval(CLI::App& app) {
    struct Options {
        std::string model, data;
        bool json = false;
        RuntimeOptions runtime;
    };
    auto options = std::make_shared<Options>();
    CLI::App* command = app.add_subcommand(
        "eval",
        "Measure a model on a labelled dataset: breed top-1 and top-5 accuracy, with the model's\n"
        "outputs restricted to the dataset's classes (matched by WordNet id, e.g. n02085620, or name).\n"
        "DATA is a folder-per-class tree or a list file.");
    command->add_option("DATA", options->data, "Folder ROOT/<class>/<image> or list file")->required();
    command->add_option("-m,--model", options->model, "Model file with a classifier")->required();
    command->add_flag("--json", options->json, "Print JSON");
    add_runtime_options(*command, options->runtime);
    command->callback([options] {
        Model model = load_model(options->model);
        prepare_for_inference(model);
        const Dataset dataset = load_dataset(options->data);
        const auto report = evaluate_classification(model, dataset, start_inference(options->runtime, "eval"));
        finish_progress();
        if (options->json) {
            print_json({{"model", options->model},
                        {"data", options->data},
                        {"images", report.images},
                        {"classes", report.classes},
                        {"breed_top1", report.top1},
                        {"breed_top5", report.top5},
                        {"unreadable", report.unreadable}});
            return;
        }
        std::printf("%s on %s: %lld images, %lld classes\n", options->model.c_str(), options->data.c_str(),
                    static_cast<long long>(report.images), static_cast<long long>(report.classes));
        std::printf("  breed top-1  %.4f\n  breed top-5  %.4f\n", report.top1, report.top5);
        for (const auto& line : report.unreadable) std::fprintf(stderr, "skipped %s\n", line.c_str());
        if (!report.unreadable.empty()) std::printf("  skipped %zu unreadable images\n", report.unreadable.size());
    });
}

}  // namespace pupembed::cli
