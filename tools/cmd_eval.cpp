// pupembed eval --model M [--model M2 ...] DATA [--report DIR]
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
        std::string data, report_dir;
        bool json = false;
        RuntimeOptions runtime;
    };
    auto options = std::make_shared<Options>();
    CLI::App* command = app.add_subcommand(
        "eval",
        "Measure models on a labelled dataset, side by side: breed top-1 and top-5 (outputs restricted\n"
        "to the dataset's breeds, matched by WordNet id such as n02085620, or name), Recall@1/2/4/8 and\n"
        "MAP@R of the embeddings (the embedding head, or the pooled trunk features of a model without\n"
        "one), and the cosine distances of same-breed and different-breed pairs.\n"
        "DATA is a folder-per-class tree or a list file.");
    command->add_option("DATA", options->data, "Folder ROOT/<class>/<image> or list file")->required();
    command->add_option("-m,--model", options->models, "Model file; repeat to compare models (default: the shipped model)")
        ->allow_extra_args(false);
    command->add_option("--report", options->report_dir, "Also write report.json, report.md and distances.png here");
    command->add_flag("--json", options->json, "Print JSON");
    add_runtime_options(*command, options->runtime);
    command->callback([options] {
        const Dataset dataset = load_dataset(options->data);
        if (options->models.empty()) options->models.push_back(model_path_or_default(""));
        std::vector<NamedReport> reports;
        for (const auto& file : options->models) {
            Model model = load_model_for_inference(file);
            reports.push_back({file, evaluate_model(model, dataset, start_inference(options->runtime, "eval " + file))});
            finish_progress();
            for (const auto& line : reports.back().report.unreadable) std::fprintf(stderr, "skipped %s\n", line.c_str());
        }
        if (!options->report_dir.empty()) write_report(options->report_dir, reports, options->data);
        if (options->json) print_json(report_json(reports, options->data));
        else std::cout << report_markdown(reports, options->data);
    });
}

}  // namespace pupembed::cli
