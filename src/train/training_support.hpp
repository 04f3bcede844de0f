// What the training commands share: batches from the image cache, optimiser and RNG state in
// checkpoints, run folders with a config and a metrics log.
#pragma once

#include <torch/torch.h>

#include <nlohmann/json.hpp>
#include <random>
#include <string>

#include "pupembed/io/image.hpp"

namespace pupembed {

/// Crops of the cached (N, S, S, 3) uint8 images `indices`, normalised, as an (n, 3, size, size)
/// channels_last float tensor: random crops and flips (when `flip`) drawn from `rng`, or centre
/// crops when `rng` is null.
torch::Tensor batch_from_cache(const torch::Tensor& pixels, const int64_t* indices, int64_t count, int size, bool flip,
                               std::mt19937_64* rng, const Preprocessing& preprocessing);

/// An optimiser's state as bytes (LibTorch's archive) in a uint8 tensor, and back.
torch::Tensor optimizer_state(const torch::optim::Optimizer& optimizer);
void load_optimizer_state(torch::optim::Optimizer& optimizer, const torch::Tensor& bytes);

/// LibTorch's default CPU generator state (dropout, initialisation), and back.
torch::Tensor torch_rng_state();
void set_torch_rng_state(const torch::Tensor& state);

/// mt19937_64 state as text, and back.
std::string rng_text(const std::mt19937_64& rng);
void set_rng_from_text(std::mt19937_64& rng, const std::string& text);

/// Appends `line` to the JSON-lines metrics log `path`, starting a new log with a format line.
void append_metrics_line(const std::string& path, const std::string& run_kind, const nlohmann::json& line);

/// Writes RUN_DIR/config.json ({"format", "version", "options"}) for a new run; throws Error if
/// the folder already holds a run (a config or a checkpoint).
void start_run_folder(const std::string& run_dir, const std::string& format, int version, const nlohmann::json& options);

/// Reads the options of RUN_DIR/config.json, checking its format and version.
nlohmann::json read_run_options(const std::string& run_dir, const std::string& format, int newest_version);

}  // namespace pupembed
