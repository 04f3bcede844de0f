// pupembed eval --model M [--model M2 ...] DATA [DATA2 ...] [--report DIR]
#include <cstdio>
#include <iostream>
#include <memory>

#include "common.hpp"
#include "pupembed/inference/report.hpp"
#include "pupembed/model/model.hpp"

namespace pupembed::cli {

void register_eval(CLI::App& app) {
    struct Options {
        std::vector<std::string> models;
        std::vector<std::string> data;
        std::string report_dir;
        bool json = false;
        RuntimeOptions runtime;
    };
    auto options = std::make_shared<Options>();
    CLI::App* command = app.add_subcommand(
        "eval",
        "Measure models on labelled datasets, side by side: Recall@1/2/4/8 and MAP@R of the embeddings\n"
        "(the embedding head, or the pooled trunk features of a model without one), the cosine distances\n"
        "of same-breed and different-breed pairs and, for the dataset's breeds the model's classifier\n"
        "has (matched by WordNet id such as n02085620, or name), breed top-1 and top-5 with the outputs\n"
        "restricted to those breeds; breeds it lacks are named in a note. Any labelled folder works.\n"
        "DATA is a folder-per-class tree or a list file; give several to see them side by side\n"
        "(e.g. stanford-dogs-64/val and imagewoof-320-dev).");
    command->add_option("DATA", options->data, "Folders ROOT/<class>/<image> or list files")->required();
    command->add_option("-m,--model", options->models, "Model file; repeat to compare models (default: the shipped model)")
        ->allow_extra_args(false);
    command->add_option("--report", options->report_dir, "Also write report.json, report.md and distances.png here");
    command->add_flag("--json", options->json, "Print JSON");
    add_runtime_options(*command, options->runtime);
    command->callback([options] {
        std::vector<Dataset> datasets;
        for (const auto& data : options->data) datasets.push_back(load_dataset(data));
        if (options->models.empty()) options->models.push_back(model_path_or_default(""));
        std::vector<DatasetReport> reports;
        for (const auto& data : options->data) reports.push_back({data, {}});
        for (const auto& file : options->models) {
            Model model = load_model_for_inference(file);
            for (size_t d = 0; d < datasets.size(); ++d) {
                const std::string what = "eval " + file + (datasets.size() > 1 ? " on " + options->data[d] : "");
                reports[d].models.push_back({file, evaluate_model(model, datasets[d], start_inference(options->runtime, what))});
                finish_progress();
                for (const auto& line : reports[d].models.back().report.unreadable)
                    std::fprintf(stderr, "skipped %s\n", line.c_str());
            }
        }
        if (!options->report_dir.empty()) write_report(options->report_dir, reports);
        if (options->json) print_json(report_json(reports));
        else std::cout << report_markdown(reports);
    });
}

}  // namespace pupembed::cli
