// What the training recipes share: batches from the image cache, optimiser and RNG state for
// checkpoints (the run itself is training_run.hpp's).
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

/// (N, H, W, 3) uint8 pixels, normalised by `preprocessing`, as an (N, 3, H, W) channels_last float tensor.
torch::Tensor normalized_batch(const torch::Tensor& pixels, const Preprocessing& preprocessing);

/// An optimiser's state as bytes (LibTorch's archive) in a uint8 tensor, and back.
torch::Tensor optimizer_state(const torch::optim::Optimizer& optimizer);
void load_optimizer_state(torch::optim::Optimizer& optimizer, const torch::Tensor& bytes);

/// LibTorch's default CPU generator state (dropout, initialisation), and back.
torch::Tensor torch_rng_state();
void set_torch_rng_state(const torch::Tensor& state);

/// mt19937_64 state as text, and back.
std::string rng_text(const std::mt19937_64& rng);
void set_rng_from_text(std::mt19937_64& rng, const std::string& text);

}  // namespace pupembed
