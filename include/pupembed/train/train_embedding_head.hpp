// Stage 2: train the embedding head on extracted trunk features, resumable.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <string>

#include <nlohmann/json.hpp>

#include "pupembed/train/train_on_images.hpp"  // StepReport, EpochReport-like callbacks

namespace pupembed {

struct SiameseTrainingOptions {
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

    nlohmann::json to_json() const;
    static SiameseTrainingOptions from_json(const nlohmann::json& json);
};

struct SiameseEpochReport {
    int epoch = 0, epochs = 0;
    double train_loss = 0;
    double val_recall_at_1 = 0, val_map_at_r = 0;
    double seconds = 0;
    bool best = false;
};

struct SiameseCallbacks {
    std::function<void(const std::string&)> on_message;
    std::function<void(const StepReport&)> on_step;
    std::function<void(const SiameseEpochReport&)> on_epoch;
    const std::atomic<bool>* stop_requested = nullptr;
};

struct SiameseOutcome {
    bool finished = false;
    int epoch = 0;
    int64_t step = 0;
    double best_map_at_r = 0;
    std::string best_model;   ///< RUN_DIR/best.pt: the features' model with this embedding head
    std::string final_model;  ///< RUN_DIR/final.pt
    std::string checkpoint;
};

/// Trains the head; the model files it writes are the features' source model (trunk and
/// classifier) with the embedding head added: best.pt by val MAP@R, and final.pt.
SiameseOutcome train_siamese(const SiameseTrainingOptions& options, const SiameseCallbacks& callbacks = {});

/// Continues the run in `run_dir` exactly where it stopped.
SiameseOutcome resume_siamese_training(const std::string& run_dir, const SiameseCallbacks& callbacks = {},
                                       int64_t stop_after_steps = 0);

}  // namespace pupembed
