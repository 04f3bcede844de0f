// The skeleton every training recipe runs in. It owns the run folder (config.json, the
// checkpoint, metrics.jsonl), where the run stands (epoch, step, the epoch's sample order, the
// sample RNG), the checkpoint's common part (the optimiser, LibTorch's RNG), the cosine schedule's
// clock, the stop request and step limit, and the step reports with their ETA. A recipe
// (TrainingRecipe) brings only its data, model, step and validation.
#pragma once

#include <torch/torch.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <random>
#include <string>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "pupembed/core/clock.hpp"
#include "pupembed/train/training_reports.hpp"

namespace pupembed {

/// Where a run stands; every checkpoint keeps it.
struct RunProgress {
    int epoch = 0;               ///< epochs completed
    int64_t step_in_epoch = 0;   ///< steps completed in the current epoch
    int64_t global_step = 0;     ///< steps completed in all
    std::vector<int64_t> order;  ///< the current epoch's sample order
    std::mt19937_64 rng;         ///< the sample order, and the recipe's own draws (crops, pairs)
    double loss_sum = 0;         ///< batch losses times batch sizes, this epoch so far
    int64_t seen = 0;            ///< samples this epoch so far
    double epoch_seconds = 0;    ///< time spent on the current epoch before a stop
};

using CheckpointTensors = std::vector<std::pair<std::string, torch::Tensor>>;

class TrainingRecipe {
public:
    virtual ~TrainingRecipe() = default;

    /// The run's kind, as its metrics log names it ("train-classifier", "train-siamese").
    virtual std::string kind() const = 0;
    virtual uint64_t seed() const = 0;
    virtual int64_t samples() const = 0;     ///< training samples, shuffled each epoch
    virtual int64_t batch_size() const = 0;  ///< samples a step (at most samples())
    virtual int epochs() const = 0;
    /// The phase of 0-based epoch `epoch` (phases are consecutive epochs; a recipe of one phase
    /// keeps 0) and each phase's name for the reports.
    virtual int phase_of(int /*epoch*/) const { return 0; }
    virtual std::string phase_name(int phase) const = 0;
    /// What to try when the loss stops being finite, e.g. "try a lower --lr".
    virtual std::string divergence_advice() const = 0;

    /// A new run begins: make the optimiser of the first phase.
    virtual void start() = 0;
    /// An epoch's steps begin (after a stop too): set train modes; when `fresh` (its step 0),
    /// reset the recipe's own epoch counters and switch optimisers at a change of phase.
    virtual void begin_epoch(int phase, bool fresh) = 0;
    /// One optimiser step on the samples `indices` (batch_size() of them, from progress.order),
    /// the run's step `progress.global_step` of `total_steps`; returns the batch's mean loss.
    virtual double step(const int64_t* indices, RunProgress& progress, int64_t total_steps) = 0;
    /// After an epoch's last step (progress.epoch already counts it): validate, write best.pt
    /// when better, and give the epoch's line for the metrics log.
    virtual nlohmann::json end_epoch(const RunProgress& progress, double seconds, double images_per_second) = 0;
    /// After the epoch's checkpoint and metrics line: the recipe's own epoch callback.
    virtual void after_epoch() {}
    /// The run's last epoch is done: write final.pt.
    virtual void finish() = 0;

    /// The recipe's part of a checkpoint (weights, its own counters), beside RunProgress.
    virtual void save_state(nlohmann::json& meta, CheckpointTensors& tensors) const = 0;
    /// Reads back what save_state wrote (`take` gives a tensor by name: an Error when missing)
    /// and makes the optimiser the checkpoint's optimiser state then goes into.
    virtual void load_state(const nlohmann::json& meta, const std::function<torch::Tensor(const std::string&)>& take) = 0;
    virtual torch::optim::Optimizer& optimizer() = 0;
};

/// A module's parameters and buffers as checkpoint tensors named PREFIX.NAME, and back (`take`
/// gives a tensor by name).
void add_module_state(const std::string& prefix, const torch::nn::Module& module, CheckpointTensors& tensors);
void load_module_state(const std::string& prefix, torch::nn::Module& module,
                       const std::function<torch::Tensor(const std::string&)>& take);

/// The run folder's files.
struct RunFiles {
    std::filesystem::path dir;
    std::string config() const { return (dir / "config.json").string(); }
    std::string checkpoint() const { return (dir / "checkpoint.ckpt").string(); }
    std::string metrics() const { return (dir / "metrics.jsonl").string(); }
    std::string best() const { return (dir / "best.pt").string(); }
    std::string final_model() const { return (dir / "final.pt").string(); }
    std::string teacher() const { return (dir / "teacher.npy").string(); }
};

/// What a run reports and how it can be stopped.
struct RunControl {
    std::function<void(const std::string&)> on_message;
    std::function<void(const StepReport&)> on_step;
    /// Checked after every step; when it becomes true the run writes a checkpoint and stops.
    const std::atomic<bool>* stop_requested = nullptr;
    int64_t stop_after_steps = 0;  ///< > 0: stop (with a checkpoint) once this many steps are done in all
};

/// The RunControl of a run's callbacks (on_message, on_step, stop_requested).
RunControl run_control(const TrainingCallbacks& callbacks, int64_t stop_after_steps);

struct RunResult {
    bool finished = false;  ///< false: stopped early, resumable
    int epoch = 0;
    int64_t step = 0;
};

/// Runs `recipe` in `run_dir` from its start, or with `resume` from the folder's checkpoint, to its
/// last epoch or a stop. Stopped and resumed gives what an uninterrupted run gives.
RunResult run_training(TrainingRecipe& recipe, const std::string& run_dir, const RunControl& control, bool resume);


/// The cosine schedule: a learning rate's factor at `step` of `steps`, from 1 down to 0.
double cosine_factor(int64_t step, int64_t steps);

/// Writes RUN_DIR/config.json ({"format", "version", "options"}) for a new run; throws Error if
/// the folder already holds a run (a config or a checkpoint).
void start_run_folder(const std::string& run_dir, const std::string& format, int version, const nlohmann::json& options);

/// Reads the options of RUN_DIR/config.json, checking its format and version.
nlohmann::json read_run_options(const std::string& run_dir, const std::string& format, int newest_version);

/// Appends `line` to the JSON-lines metrics log `path`, starting a new log with a format line.
void append_metrics_line(const std::string& path, const std::string& run_kind, const nlohmann::json& line);

}  // namespace pupembed
