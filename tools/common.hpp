// What the subcommands of `pupembed` share: option groups, progress lines, output helpers.
#pragma once

#include <CLI/CLI.hpp>
#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "pupembed/inference/classify.hpp"
#include "pupembed/model/model.hpp"

namespace pupembed::cli {

/// --threads, --batch, --max-pixels and --full-decode, for commands that run a network over images.
struct RuntimeOptions {
    int threads = 0;
    int batch = 64;
    int64_t max_pixels = ImageLoadOptions{}.max_pixels;
    bool full_decode = false;
};
void add_runtime_options(CLI::App& command, RuntimeOptions& options);

/// Applies the thread count and returns inference settings; with `progress_label`, a progress
/// line on stderr (only when stderr is a terminal).
InferenceOptions start_inference(const RuntimeOptions& options, const std::string& progress_label);

/// Ends a progress line drawn by start_inference's callback (or one marked with mark_progress_drawn).
void finish_progress();
void mark_progress_drawn();

/// A model's embedding posterior setting as {"weight", "temperature"}, or null without one.
nlohmann::json posterior_json(const ModelInfo& info);

/// --shard I/N (`embed`, `index build`): this run's part I and the number of parts N (0 <= I < N).
std::pair<int64_t, int64_t> shard_part(const std::string& text);

/// Prints `value` to stdout as indented JSON followed by a newline.
void print_json(const nlohmann::json& value);

// One registration function per subcommand (one file each).
void register_import_imagenet(CLI::App& app);
void register_info(CLI::App& app);
void register_lists(CLI::App& app);
void register_predict(CLI::App& app);
void register_eval(CLI::App& app);
void register_train_classifier(CLI::App& app);
void register_extract(CLI::App& app);
void register_train_siamese(CLI::App& app);
void register_embed(CLI::App& app);
void register_export(CLI::App& app);
void register_breed(CLI::App& app);
void register_index(CLI::App& app);
void register_similar(CLI::App& app);
void register_search(CLI::App& app);
void register_algebra(CLI::App& app);
void register_dedup(CLI::App& app);
void register_serve(CLI::App& app);

}  // namespace pupembed::cli
