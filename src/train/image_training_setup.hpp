// Training on images (train_on_images.cpp): the network to train, its optimiser and learning
// rates in each phase, and the check of the options.
#pragma once

#include <torch/torch.h>

#include <memory>
#include <string>
#include <vector>

#include "pupembed/model/model.hpp"
#include "pupembed/train/train_on_images.hpp"

namespace pupembed {

class NetworkImpl;

/// The command a run's models say they come from.
const char* command_name(const ImageTrainingOptions& options);

/// The network to train: the init model's weights where they fit (unless `resuming`, when the
/// checkpoint's weights replace everything), a pool-bn-linear head for `class_names` and, with an
/// embedding loss, an embedding head.
Model make_model(const ImageTrainingOptions& options, const std::vector<std::string>& class_names, bool resuming);

/// Moves every weight of `to` toward `from`'s: to = decay * to + (1 - decay) * from (decay 0
/// copies); buffers (batch-norm statistics) and weights `from` keeps frozen are copied.
void copy_state(NetworkImpl& from, NetworkImpl& to, double decay);

/// The head alone on the frozen trunk, then all layers.
enum class Phase { Warmup, Finetune };
const char* phase_name(Phase phase);

/// AdamW over what `phase` trains: the trunk (not while warming up), the classifier, and with an
/// embedding loss the embedding head and the class `proxies` (no weight decay on these).
std::unique_ptr<torch::optim::AdamW> make_optimizer(Model& model, const torch::Tensor& proxies, Phase phase,
                                                    const ImageTrainingOptions& o);

/// Cosine from each group's base rate to 0 over the fine-tuning steps; constant while warming up.
void set_learning_rates(torch::optim::AdamW& optimizer, Model& model, const torch::Tensor& proxies, Phase phase,
                        const ImageTrainingOptions& o, int64_t finetune_step, int64_t finetune_steps);

/// Throws Error naming the option for options that cannot train.
void check_options(const ImageTrainingOptions& o);

}  // namespace pupembed
