// Training on images, resumable: stage 1 (the breed classifier, a trunk plus a pool-bn-linear
// head) and, with an embedding loss, stage 2 end to end (`train-siamese --finetune-trunk`: trunk,
// classifier and embedding head together).
#pragma once

#include <cstdint>
#include <string>

#include <nlohmann/json.hpp>
#include <vector>

#include "pupembed/train/photo_augmentation.hpp"
#include "pupembed/train/training_reports.hpp"

namespace pupembed {

/// Everything a stage-1 run is made of. The defaults are the recipe that works on the ImageNet
/// import: the head alone first (trunk frozen), then all layers at a low learning rate with a
/// cosine schedule, label smoothing and weight decay.
struct ImageTrainingOptions {
    std::string train_data;     ///< folder-per-class tree or list file
    std::string val_data;       ///< the same for validation; "" holds out val_fraction of train_data
    double val_fraction = 0.1;
    std::string init;           ///< model file whose weights start the run where they fit; "none": random trunk
    std::string run_dir;        ///< checkpoints, metrics and models go here
    std::string cache_dir;      ///< decoded-image caches; "" for default_cache_dir()
    std::string backbone = "squeezenet1.1";  ///< with init "none"; otherwise the init model's
    int input_size = 0;         ///< network input (random crops of this size); 0: the init model's, or 128
    int resize = 0;             ///< images are cached at this size (shorter side, centre square); 0: 8/7 of input_size
    int warmup_epochs = 2;      ///< head only, trunk frozen
    int epochs = 14;            ///< all layers
    int batch = 64;
    double warmup_lr = 1e-3;    ///< head learning rate while the trunk is frozen
    double head_lr = 5e-4;      ///< head learning rate afterwards (cosine to 0)
    double trunk_lr = 1e-4;     ///< trunk learning rate afterwards (cosine to 0)
    double weight_decay = 1e-4; ///< AdamW's decoupled weight decay
    double label_smoothing = 0.1;
    double dropout = 0.2;       ///< before the head's linear layer
    bool flip = true;           ///< random horizontal flips
    /// false: random crops of the cache (and flips); true: `photo`'s augmentation instead.
    bool photo_augment = false;
    PhotoAugmentation photo;
    /// Sizes to train at, one drawn per step (with photo_augment); empty: input_size only.
    std::vector<int> train_sizes;
    double l2sp = 0;            ///< > 0: L2-SP, alpha / 2 * |trunk - its starting weights|^2 added to the loss
    double distill = 0;         ///< > 0: weight of 1 - cos(pooled trunk features, the starting trunk's)
    double ema = 0;             ///< > 0: validate and keep an exponential moving average of the weights with this decay
    /// Non-empty: the trunk's layers up to and including this one (e.g. "block6") keep --init's
    /// weights through the whole run, and the fine-tuning phase trains only the layers after it.
    std::string freeze_until;
    uint64_t seed = 1;
    bool strict = false;        ///< fail on an unreadable image instead of skipping it
    int64_t max_pixels = 50'000'000;
    int64_t stop_after_steps = 0;  ///< > 0: stop (with a checkpoint) after this many steps in all

    /// "" trains the classifier alone (stage 1). "proxy" also trains an embedding head on the
    /// same trunk with the normalised-softmax proxy loss (stage 2 end to end); the run then keeps
    /// the model with the best val MAP@R instead of the best top-1.
    std::string embedding_loss;
    int embedding_dim = 128;
    int embedding_hidden = 512;
    double proxy_lr = 1e-2;         ///< the class proxies' learning rate
    double proxy_scale = 8;         ///< softmax scale (1 / temperature) of the proxy loss
    double classifier_weight = 1;   ///< weight of the classifier's loss beside the embedding's
    /// > 0: weight of similarity-structure distillation: each photo's neighbourhood in the batch by
    /// the embedding's cosines is pulled toward its neighbourhood by the starting trunk's pooled
    /// features (KL of softmaxes at similarity_temperature), so the head keeps what the trunk knows.
    double similarity_distill = 0;
    double similarity_temperature = 0.1;
    /// A model file whose embeddings (its embedding head's, else its L2-normalised pooled
    /// features) of the training images, each at its own input size and normalisation, are the
    /// neighbourhoods similarity_distill pulls toward instead of the starting trunk's: a larger
    /// network teaching a smaller one. Computed once per run (RUN/teacher.npy); "" for none.
    std::string teacher;
};

/// The options as JSON (a run's config.json) and back; a missing field keeps its default.
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE_WITH_DEFAULT(
    ImageTrainingOptions, train_data, val_data, val_fraction, init, run_dir, cache_dir, backbone, input_size, resize,
    warmup_epochs, epochs, batch, warmup_lr, head_lr, trunk_lr, weight_decay, label_smoothing, dropout, flip, photo_augment,
    photo, train_sizes, l2sp, distill, ema, freeze_until, seed, strict, max_pixels, stop_after_steps, embedding_loss,
    embedding_dim, embedding_hidden, proxy_lr, proxy_scale, classifier_weight, similarity_distill, similarity_temperature,
    teacher)

/// Starts a run in options.run_dir (which must not hold one already). Checks all input before
/// training: an empty class folder, fewer than two classes, a list naming a missing file,
/// train and val with different classes each throw Error.
TrainingOutcome train_on_images(const ImageTrainingOptions& options, const TrainingCallbacks& callbacks = {});

/// True when RUN_DIR holds a run started by train_on_images (stage 1, or stage 2 end to end).
bool is_image_training_run(const std::string& run_dir);

/// Continues the run in `run_dir` from its checkpoint exactly where it stopped (the thread count
/// is not part of the run and may differ). `stop_after_steps` > 0 stops again at that step in all.
TrainingOutcome resume_training_on_images(const std::string& run_dir, const TrainingCallbacks& callbacks = {},
                                          int64_t stop_after_steps = 0);

}  // namespace pupembed
