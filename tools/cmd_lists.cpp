// pupembed lists ROOT --val-fraction F --seed S -o DIR
#include <filesystem>
#include <iostream>
#include <memory>

#include "common.hpp"
#include "pupembed/core/error.hpp"
#include "pupembed/io/dataset.hpp"

namespace pupembed::cli {

void register_lists(CLI::App& app) {
    struct Options {
        std::string root, output_dir;
        double val_fraction = 0.2;
        uint64_t seed = 1;
        bool json = false;
    };
    auto options = std::make_shared<Options>();
    CLI::App* command = app.add_subcommand(
        "lists",
        "Write stratified, deterministic train/val list files (DIR/train.list, DIR/val.list) for a\n"
        "folder-per-class tree ROOT/<class>/<image>. Each line is `path<TAB>class`, the path relative\n"
        "to the list's folder.");
    command->add_option("ROOT", options->root, "Folder with one subfolder per class")->required();
    command->add_option("-o,--output", options->output_dir, "Folder to write train.list and val.list into")->required();
    command->add_option("--val-fraction", options->val_fraction, "Share of each class that goes to val")
        ->check(CLI::Range(0.0, 0.99))
        ->capture_default_str();
    command->add_option("--seed", options->seed, "Seed of the random split")->capture_default_str();
    command->add_flag("--json", options->json, "Print JSON");
    command->callback([options] {
        const Dataset dataset = scan_class_folders(options->root);
        const Split split = split_stratified(dataset, options->val_fraction, options->seed);
        std::error_code error;
        std::filesystem::create_directories(options->output_dir, error);
        if (error) throw Error(options->output_dir, "cannot create folder: " + error.message());
        const std::string train = (std::filesystem::path(options->output_dir) / "train.list").string();
        const std::string val = (std::filesystem::path(options->output_dir) / "val.list").string();
        write_list_file(train, split.train);
        write_list_file(val, split.val);
        if (options->json) {
            print_json({{"train", {{"file", train}, {"images", split.train.samples.size()}}},
                        {"val", {{"file", val}, {"images", split.val.samples.size()}}},
                        {"classes", dataset.class_names.size()},
                        {"val_fraction", options->val_fraction},
                        {"seed", options->seed}});
        } else {
            std::cout << "wrote " << train << " (" << split.train.samples.size() << " images) and " << val << " ("
                      << split.val.samples.size() << " images), " << dataset.class_names.size() << " classes\n";
        }
    });
}

}  // namespace pupembed::cli
