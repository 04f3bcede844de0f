// What a training run reports and gives back, and how it is stopped: one set of types for both
// recipes (training on images: the breed classifier, and with an embedding loss the whole network;
// training an embedding head on extracted features).
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <string>

namespace pupembed {

/// Where a run stands after a step (for a progress line).
struct StepReport {
    std::string phase;  ///< "warmup" or "finetune" (images); "head" (an embedding head)
    int epoch = 0;      ///< 1-based over all phases
    int epochs = 0;
    int64_t step = 0;   ///< 1-based within the epoch
    int64_t steps = 0;
    double loss = 0;    ///< running mean over the epoch so far
    double phase_eta_seconds = 0;  ///< time left in the current phase
    double images_per_second = 0;
    double eta_seconds = 0;
};

/// An epoch's figures. Those a recipe does not measure are -1.
struct EpochReport {
    std::string phase;
    int epoch = 0;
    int epochs = 0;
    double train_loss = 0;
    double train_top1 = -1;       ///< the classifier's, on the training batches
    double val_top1 = -1;         ///< the classifier's
    double val_top5 = -1;
    double val_recall_at_1 = -1;  ///< with an embedding
    double val_map_at_r = -1;     ///< with an embedding
    double images_per_second = 0;
    double seconds = 0;
    bool best = false;            ///< best.pt was written from this epoch
};

struct TrainingCallbacks {
    std::function<void(const std::string&)> on_message;  ///< one-line notes (cache, skipped images)
    std::function<void(const StepReport&)> on_step;
    std::function<void(const EpochReport&)> on_epoch;
    /// Checked after every step; when it becomes true the run writes a checkpoint and stops.
    const std::atomic<bool>* stop_requested = nullptr;
};

/// How a run ended, and its files.
struct TrainingOutcome {
    bool finished = false;         ///< false: stopped early, resumable
    int epoch = 0;                 ///< epochs completed
    int64_t step = 0;              ///< steps completed in all
    double best_val_top1 = -1;     ///< val top-1 of best.pt, with a classifier trained
    double best_val_map_at_r = -1; ///< val MAP@R of best.pt, with an embedding trained
    std::string best_model;        ///< RUN_DIR/best.pt
    std::string final_model;       ///< RUN_DIR/final.pt (when finished)
    std::string checkpoint;        ///< RUN_DIR/checkpoint.ckpt
    int64_t skipped_images = 0;    ///< unreadable photos left out (training on images)
};

}  // namespace pupembed
