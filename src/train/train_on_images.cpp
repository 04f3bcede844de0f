#include "pupembed/train/train_on_images.hpp"

#include <torch/torch.h>

#include <chrono>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <numeric>
#include <random>

#include "core/random.hpp"
#include "model/tensor_archive.hpp"
#include "model/network.hpp"
#include "model/torch_errors.hpp"
#include "pupembed/core/error.hpp"
#include "inference/retrieval_metrics.hpp"
#include "pupembed/io/dataset.hpp"
#include "pupembed/model/model.hpp"
#include "train/augment.hpp"
#include "train/image_cache.hpp"
#include "train/losses.hpp"
#include "train/teacher_features.hpp"
#include "train/training_run.hpp"
#include "train/image_training_data.hpp"
#include "train/image_training_setup.hpp"
#include "train/training_support.hpp"

namespace fs = std::filesystem;
namespace F = torch::nn::functional;

namespace pupembed {
namespace {

const char kClassifierRunFormat[] = "pupembed-train-classifier";
constexpr int kClassifierRunVersion = 1;

// ---------------------------------------------------------------------------------------------
// The recipe: a classifier head warmed up on the frozen trunk, then everything fine-tuned, with
// an embedding head and proxy loss beside the classifier when asked (stage 2 end to end)

class ImageTrainingRecipe : public TrainingRecipe {
public:
    ImageTrainingRecipe(const ImageTrainingOptions& options, const TrainingCallbacks& callbacks, bool resume)
        : o_(options),
          callbacks_(callbacks),
          files_{options.run_dir},
          data_(prepare_data(options, callbacks)),
          model_(make_model(options, data_.train_set.class_names, resume)),
          head_(dynamic_cast<LinearClassifierHeadImpl&>(*model_.network->classifier)),
          embedding_(bool(model_.network->embedding)) {
        // Frozen layers need no gradient: backpropagation then stops at the first trained layer.
        if (!o_.freeze_until.empty())
            for (auto& weight : model_.network->trunk->parameters_until(o_.freeze_until)) weight.requires_grad_(false);
        // One learnt proxy per class for the embedding loss (drawn right after the model's weights).
        if (embedding_)
            proxies_ = (torch::randn({int64_t(data_.train_set.class_names.size()), o_.embedding_dim}) /
                        std::sqrt(double(o_.embedding_dim)))
                           .requires_grad_();
        if (o_.l2sp > 0 || o_.distill > 0 || (o_.similarity_distill > 0 && o_.teacher.empty())) {
            starting_model_ = load_model(o_.init);
            to_channels_last(*starting_model_.network);
            starting_model_.network->eval();
            for (const auto& weight : starting_model_.network->trunk->parameters()) {
                weight.requires_grad_(false);
                anchors_.push_back(weight);
            }
        }
        if (!o_.teacher.empty())
            teacher_rows_ = teacher_embeddings(o_.teacher, data_.train, files_.teacher(), callbacks_.on_message);
        if (o_.ema > 0) {
            ema_model_ = create_model(model_.info);
            to_channels_last(*ema_model_.network);
            copy_state(*model_.network, *ema_model_.network, 0.0);
        }
        count_ = data_.train.labels.size(0);
        batch_ = std::min<int64_t>(o_.batch, count_);
        if (batch_ < 2) throw Error(o_.train_data, "needs at least 2 readable training images");
        const int64_t steps_per_epoch = count_ / batch_;
        warmup_steps_ = steps_per_epoch * o_.warmup_epochs;
        finetune_steps_ = steps_per_epoch * o_.epochs;
    }

    std::string kind() const override { return "train-classifier"; }
    uint64_t seed() const override { return o_.seed; }
    int64_t samples() const override { return count_; }
    int64_t batch_size() const override { return batch_; }
    int epochs() const override { return o_.warmup_epochs + o_.epochs; }
    int phase_of(int epoch) const override { return epoch < o_.warmup_epochs ? 0 : 1; }
    std::string phase_name(int phase) const override { return pupembed::phase_name(phase == 0 ? Phase::Warmup : Phase::Finetune); }
    std::string divergence_advice() const override { return "try lower learning rates"; }

    void start() override {
        optimizer_phase_ = o_.warmup_epochs > 0 ? Phase::Warmup : Phase::Finetune;
        optimizer_ = make_optimizer(model_, proxies_, optimizer_phase_, o_);
    }

    void begin_epoch(int phase, bool fresh) override {
        phase_ = phase == 0 ? Phase::Warmup : Phase::Finetune;
        if (fresh) {
            correct_ = 0;
            if (phase_ != optimizer_phase_) {
                optimizer_ = make_optimizer(model_, proxies_, phase_, o_);
                optimizer_phase_ = phase_;
            }
        }
        model_.network->train();
        if (phase_ == Phase::Warmup) model_.network->trunk->eval();
    }

    double step(const int64_t* indices, RunProgress& progress, int64_t /*total_steps*/) override {
        const torch::Tensor x = training_batch(indices, progress.rng);
        const int64_t* labels = data_.train.labels.data_ptr<int64_t>();
        std::vector<int64_t> target_values(static_cast<size_t>(batch_));
        for (int64_t i = 0; i < batch_; ++i) target_values[size_t(i)] = labels[indices[i]];
        const torch::Tensor targets = torch::tensor(target_values, torch::kInt64);
        set_learning_rates(*optimizer_, model_, proxies_, phase_, o_, progress.global_step - warmup_steps_, finetune_steps_);

        torch::Tensor pooled;
        if (phase_ == Phase::Warmup) {
            torch::NoGradGuard frozen;
            pooled = global_average_pool(model_.network->trunk->forward(x));
        } else {
            pooled = global_average_pool(model_.network->trunk->forward(x));
        }
        const torch::Tensor logits = head_.forward_pooled(pooled);
        torch::Tensor loss = F::cross_entropy(logits, targets, F::CrossEntropyFuncOptions().label_smoothing(o_.label_smoothing));
        torch::Tensor embedded;
        if (embedding_) {
            embedded = model_.network->embedding->forward(pooled);
            loss = loss * o_.classifier_weight + proxy_softmax_loss(embedded, proxies_, targets, o_.proxy_scale);
        }
        loss = loss + held_near_start(x, pooled, embedded, indices);
        optimizer_->zero_grad();
        loss.backward();
        optimizer_->step();
        if (o_.ema > 0) {
            // The average follows quickly at first: decay (1 + t) / (10 + t) until it reaches o_.ema.
            const double t = double(progress.global_step);
            copy_state(*model_.network, *ema_model_.network, std::min(o_.ema, (1 + t) / (10 + t)));
        }
        correct_ += logits.argmax(1).eq(targets).sum().item<int64_t>();
        return loss.item<double>();
    }

    nlohmann::json end_epoch(const RunProgress& progress, double seconds, double images_per_second) override {
        report_ = EpochReport{};
        report_.phase = pupembed::phase_name(phase_);
        report_.epoch = progress.epoch;
        report_.epochs = epochs();
        report_.train_loss = progress.loss_sum / double(std::max<int64_t>(1, progress.seen));
        report_.train_top1 = double(correct_) / double(std::max<int64_t>(1, progress.seen));
        report_.seconds = seconds;
        report_.images_per_second = images_per_second;
        const Validation validation = evaluate(kept(), data_.val);
        report_.val_top1 = validation.top1;
        report_.val_top5 = validation.top5;
        report_.val_recall_at_1 = validation.recall_at_1;
        report_.val_map_at_r = validation.map_at_r;
        if (embedding_ ? validation.map_at_r > best_map_ : validation.top1 > best_top1_) {
            best_top1_ = validation.top1;
            best_map_ = validation.map_at_r;
            best_epoch_ = progress.epoch;
            report_.best = true;
            save_model(files_.best(), kept());
        }
        nlohmann::json line = {{"phase", report_.phase},
                               {"train_loss", report_.train_loss},
                               {"train_top1", report_.train_top1},
                               {"val_top1", report_.val_top1},
                               {"val_top5", report_.val_top5},
                               {"images_per_second", report_.images_per_second},
                               {"best", report_.best}};
        if (embedding_) {
            line["val_recall_at_1"] = report_.val_recall_at_1;
            line["val_map_at_r"] = report_.val_map_at_r;
        }
        return line;
    }

    void after_epoch() override {
        if (callbacks_.on_epoch) callbacks_.on_epoch(report_);
    }

    void finish() override { save_model(files_.final_model(), kept()); }

    void save_state(nlohmann::json& meta, CheckpointTensors& tensors) const override {
        add_module_state("model", *model_.network, tensors);
        if (o_.ema > 0) add_module_state("ema", *ema_model_.network, tensors);
        if (proxies_.defined()) tensors.emplace_back("proxies", proxies_);
        meta["correct"] = correct_;
        meta["best_top1"] = best_top1_;
        meta["best_map"] = best_map_;
        meta["best_epoch"] = best_epoch_;
        meta["optimizer_phase"] = pupembed::phase_name(optimizer_phase_);
    }

    void load_state(const nlohmann::json& meta, const std::function<torch::Tensor(const std::string&)>& take) override {
        correct_ = meta.at("correct");
        best_top1_ = meta.at("best_top1");
        best_map_ = meta.value("best_map", -1.0);
        best_epoch_ = meta.at("best_epoch");
        optimizer_phase_ = meta.at("optimizer_phase") == "warmup" ? Phase::Warmup : Phase::Finetune;
        load_module_state("model", *model_.network, take);
        if (o_.ema > 0) load_module_state("ema", *ema_model_.network, take);
        if (proxies_.defined()) proxies_.copy_(take("proxies"));
        optimizer_ = make_optimizer(model_, proxies_, optimizer_phase_, o_);
    }

    torch::optim::Optimizer& optimizer() override { return *optimizer_; }

    TrainingOutcome outcome(const RunResult& result) const {
        TrainingOutcome outcome;
        outcome.finished = result.finished;
        outcome.epoch = result.epoch;
        outcome.step = result.step;
        outcome.best_val_top1 = result.finished ? best_top1_ : std::max(0.0, best_top1_);
        outcome.best_val_map_at_r = best_map_;
        outcome.checkpoint = files_.checkpoint();
        outcome.best_model = files_.best();
        if (result.finished) outcome.final_model = files_.final_model();
        outcome.skipped_images = int64_t(data_.train.skipped.size() + data_.val.skipped.size());
        return outcome;
    }

private:
    /// The model validated and written: the weights' moving average with --ema, else the weights.
    Model& kept() { return o_.ema > 0 ? ema_model_ : model_; }
    const Model& kept() const { return o_.ema > 0 ? ema_model_ : model_; }

    /// A batch of the training images `indices`: random crops of the cache, or with photo_augment
    /// the photo augmentation at a size drawn from train_sizes.
    torch::Tensor training_batch(const int64_t* indices, std::mt19937_64& rng) const {
        if (!o_.photo_augment)
            return batch_from_cache(data_.train.pixels, indices, batch_, o_.input_size, o_.flip, &rng, model_.info.preprocessing);
        const int size = o_.train_sizes.empty() ? o_.input_size
                                                : o_.train_sizes[uniform_below(rng, o_.train_sizes.size())];
        return augmented_batch(data_.train.pixels, indices, batch_, size, o_.photo, rng, model_.info.preprocessing);
    }

    /// What keeps the model near its starting (ImageNet) trunk: while fine-tuning, L2-SP on the
    /// trunk's weights and distillation of its pooled features from the frozen starting trunk's;
    /// in both phases, the embedding's neighbourhoods distilled from the starting trunk's, or from
    /// the teacher's embeddings of the training images `indices` with a teacher.
    torch::Tensor held_near_start(const torch::Tensor& x, const torch::Tensor& pooled, const torch::Tensor& embedded,
                                  const int64_t* indices) {
        torch::Tensor extra = torch::zeros({});
        const bool finetune = phase_ == Phase::Finetune;
        if (!finetune && o_.similarity_distill == 0) return extra;
        torch::Tensor start;  // the starting trunk's pooled features of x
        if (!finetune) {
            start = pooled.detach();  // the trunk is still the starting one, frozen
        } else if (o_.distill > 0 || (o_.similarity_distill > 0 && !teacher_rows_.defined())) {
            torch::NoGradGuard frozen;
            start = global_average_pool(starting_model_.network->trunk->forward(x));
        }
        if (finetune && o_.l2sp > 0) extra = extra + l2_sp_penalty(model_.network->trunk->parameters(), anchors_, o_.l2sp);
        if (finetune && o_.distill > 0) extra = extra + o_.distill * feature_distillation_loss(pooled, start);
        if (o_.similarity_distill > 0) {
            const torch::Tensor neighbours =
                teacher_rows_.defined()
                    ? teacher_rows_.index_select(0, torch::from_blob(const_cast<int64_t*>(indices), {batch_}, torch::kInt64))
                    : start;
            extra = extra + o_.similarity_distill * similarity_distillation_loss(embedded, neighbours, o_.similarity_temperature);
        }
        return extra;
    }

    const ImageTrainingOptions o_;
    const TrainingCallbacks& callbacks_;
    const RunFiles files_;
    TrainingData data_;
    Model model_;
    LinearClassifierHeadImpl& head_;
    const bool embedding_;
    torch::Tensor proxies_;
    Model starting_model_;                 ///< the starting weights, frozen (with l2sp or a distillation)
    std::vector<torch::Tensor> anchors_;   ///< its trunk's weights, L2-SP's anchors
    torch::Tensor teacher_rows_;           ///< the teacher's embedding of each training image (with a teacher)
    Model ema_model_;                      ///< the moving average (with ema)
    int64_t count_ = 0, batch_ = 0, warmup_steps_ = 0, finetune_steps_ = 0;
    std::unique_ptr<torch::optim::AdamW> optimizer_;
    Phase optimizer_phase_ = Phase::Warmup;  ///< the phase the optimiser was made for
    Phase phase_ = Phase::Warmup;            ///< the current epoch's
    int64_t correct_ = 0;                    ///< right guesses this epoch
    double best_top1_ = -1;                  ///< val top-1 of the best epoch
    double best_map_ = -1;                   ///< val MAP@R of the best epoch (with an embedding loss)
    int best_epoch_ = 0;
    EpochReport report_;
};

TrainingOutcome run(const ImageTrainingOptions& options, const TrainingCallbacks& callbacks, bool resume) {
    return rethrow_torch_errors("training", [&] {
        ImageTrainingRecipe recipe(options, callbacks, resume);
        return recipe.outcome(run_training(recipe, options.run_dir, run_control(callbacks, options.stop_after_steps), resume));
    });
}

}  // namespace

TrainingOutcome train_on_images(const ImageTrainingOptions& options, const TrainingCallbacks& callbacks) {
    ImageTrainingOptions resolved = options;
    if (options.init.empty()) throw Error("--init", "give a model file, or \"none\" to train from scratch");
    if (options.init != "none") {
        const Model init = load_model(options.init);
        resolved.backbone = init.info.backbone;
        if (resolved.input_size == 0) resolved.input_size = init.info.preprocessing.input_size;
    }
    if (resolved.input_size == 0) resolved.input_size = default_input_size(resolved.backbone);
    if (!resolved.freeze_until.empty()) {
        if (resolved.init == "none") throw Error("--freeze-until", "needs --init: the frozen layers keep its weights");
        try {
            make_trunk(resolved.backbone)->parameters_until(resolved.freeze_until);
        } catch (const Error& e) {
            throw Error("--freeze-until", e.what());
        }
    }
    if (resolved.resize == 0) resolved.resize = resolved.input_size + resolved.input_size / 7;  // 128 -> 146
    check_options(resolved);
    ImageTrainingOptions stored = resolved;
    stored.run_dir = fs::absolute(options.run_dir).lexically_normal().string();
    start_run_folder(options.run_dir, kClassifierRunFormat, kClassifierRunVersion, nlohmann::json(stored));
    return run(resolved, callbacks, false);
}

bool is_image_training_run(const std::string& run_dir) {
    try {
        read_run_options(run_dir, kClassifierRunFormat, kClassifierRunVersion);
        return true;
    } catch (const Error&) {
        return false;
    }
}

TrainingOutcome resume_training_on_images(const std::string& run_dir, const TrainingCallbacks& callbacks,
                                          int64_t stop_after_steps) {
    const RunFiles files{run_dir};
    ImageTrainingOptions options;
    const nlohmann::json stored = read_run_options(run_dir, kClassifierRunFormat, kClassifierRunVersion);
    try {
        options = stored.get<ImageTrainingOptions>();
    } catch (const nlohmann::json::exception& e) {
        throw Error(files.config(), std::string("damaged run configuration (") + e.what() + ")");
    }
    options.run_dir = run_dir;
    options.stop_after_steps = stop_after_steps;
    std::error_code error;
    if (!fs::exists(files.checkpoint(), error)) throw Error(run_dir, "has no checkpoint.ckpt to resume from");
    return run(options, callbacks, true);
}

}  // namespace pupembed
