// Stage 2: train the embedding head on extracted trunk features, resumable; and the options of
// stage 2 end to end, which trains on images (train_on_images.hpp).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "pupembed/train/train_on_images.hpp"
#include "pupembed/train/training_reports.hpp"

namespace pupembed {

struct EmbeddingHeadTrainingOptions {
    std::string train_features;  ///< .npy from `extract` (with its .tsv)
    std::string val_features;    ///< the same for validation
    std::string run_dir;
    std::string loss = "proxy";  ///< "contrastive" (the original's pairs) or "proxy" (normalised softmax)
    int embedding_dim = 128;
    int hidden = 512;
    int epochs = 10;
    int batch = 256;             ///< samples (proxy) or pairs (contrastive) per step
    double lr = 1e-3;
    double proxy_lr = 1e-2;      ///< the class proxies learn faster than the head
    double weight_decay = 1e-4;
    double margin = 0.5;         ///< contrastive: different-class pairs are pushed past this cosine distance
    double positive_share = 0.5; ///< contrastive: share of same-class pairs
    double scale = 8;            ///< proxy: softmax scale (1 / temperature); 8 measured best here (5-32 tried)
    uint64_t seed = 1;
    int64_t stop_after_steps = 0;
};

/// The options as JSON (a run's config.json) and back; a missing field keeps its default.
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE_WITH_DEFAULT(EmbeddingHeadTrainingOptions, train_features, val_features, run_dir, loss,
                                                embedding_dim, hidden, epochs, batch, lr, proxy_lr, weight_decay, margin,
                                                positive_share, scale, seed, stop_after_steps)

/// Stage 2 end to end (`train-siamese --finetune-trunk`): what the run on images takes beyond the
/// head's options: the model to start from and the whole network's schedule and regularisers.
struct EndToEndOptions {
    std::string init;            ///< model to start from (stage 1's best.pt, an ImageNet import)
    int warmup_epochs = 2;       ///< trunk frozen, heads at the head options' lr
    int epochs = 8;              ///< all layers
    int batch = 64;              ///< images per step
    double head_lr = 5e-4;       ///< after the warm-up, cosine to 0
    double trunk_lr = 5e-5;      ///< after the warm-up, cosine to 0
    double classifier_weight = 1;
    int input_size = 0, resize = 0;  ///< 0: the init model's, and 8/7 of it
    std::string cache_dir;
    bool photo_augment = false;
    PhotoAugmentation photo;
    std::vector<int> train_sizes;
    double l2sp = 0, distill = 0, ema = 0;
    double similarity_distill = 0, similarity_temperature = 0.1;
    std::string teacher;  ///< see ImageTrainingOptions::teacher
    std::string freeze_until;
};

/// The run on images that trains trunk, classifier and embedding head together: `head`'s data
/// (train_features and val_features are then photos), run folder, loss and embedding settings,
/// with `end_to_end`'s network settings.
ImageTrainingOptions end_to_end_training_options(const EmbeddingHeadTrainingOptions& head, const EndToEndOptions& end_to_end);

/// Trains the head; the model files it writes are the features' source model (trunk and
/// classifier) with the embedding head added: best.pt by val MAP@R, and final.pt.
TrainingOutcome train_embedding_head(const EmbeddingHeadTrainingOptions& options, const TrainingCallbacks& callbacks = {});

/// Continues the run in `run_dir` exactly where it stopped.
TrainingOutcome resume_embedding_head_training(const std::string& run_dir, const TrainingCallbacks& callbacks = {},
                                               int64_t stop_after_steps = 0);

}  // namespace pupembed
