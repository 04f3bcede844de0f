#include "pupembed/train/train_on_images.hpp"

#include <torch/torch.h>

#include <chrono>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <numeric>
#include <random>

#include "core/random.hpp"
#include "io/tensor_archive.hpp"
#include "model/network.hpp"
#include "model/torch_errors.hpp"
#include "pupembed/core/error.hpp"
#include "inference/retrieval_metrics.hpp"
#include "pupembed/io/dataset.hpp"
#include "pupembed/model/model.hpp"
#include "train/augment.hpp"
#include "train/image_cache.hpp"
#include "train/losses.hpp"
#include "train/training_run.hpp"
#include "train/training_support.hpp"

namespace fs = std::filesystem;
namespace F = torch::nn::functional;

namespace pupembed {
namespace {

const char kClassifierRunFormat[] = "pupembed-train-classifier";
constexpr int kClassifierRunVersion = 1;

using Clock = std::chrono::steady_clock;

void say(const TrainingCallbacks& callbacks, const std::string& message) {
    if (callbacks.on_message) callbacks.on_message(message);
}

// ---------------------------------------------------------------------------------------------
// Data

struct TrainingData {
    Dataset train_set, val_set;
    CachedImages train, val;
};

Dataset load_checked(const std::string& path) {
    Dataset dataset = load_dataset(path);
    std::error_code error;
    if (!fs::is_directory(path, error)) check_files_exist(dataset, path);
    return dataset;
}

TrainingData prepare_data(const ClassifierTrainingOptions& options, const TrainingCallbacks& callbacks) {
    TrainingData data;
    data.train_set = load_checked(options.train_data);
    if (options.val_data.empty()) {
        Split split = split_stratified(data.train_set, options.val_fraction, options.seed);
        data.train_set = std::move(split.train);
        data.val_set = std::move(split.val);
        if (data.val_set.samples.empty())
            throw Error("--val-fraction", "leaves no validation images; give --val or a larger fraction");
    } else {
        data.val_set = load_checked(options.val_data);
    }
    if (data.train_set.class_names.size() < 2)
        throw Error(options.train_data, "has " + std::to_string(data.train_set.class_names.size()) +
                                            " class; a classifier needs at least 2");
    if (data.train_set.class_names != data.val_set.class_names) {
        const auto& a = data.train_set.class_names;
        const auto& b = data.val_set.class_names;
        std::string example;
        for (const auto& name : a)
            if (std::find(b.begin(), b.end(), name) == b.end()) { example = "\"" + name + "\" is only in train"; break; }
        if (example.empty())
            for (const auto& name : b)
                if (std::find(a.begin(), a.end(), name) == a.end()) { example = "\"" + name + "\" is only in val"; break; }
        throw Error("train and val have different classes (" + std::to_string(a.size()) + " and " +
                    std::to_string(b.size()) + "; " + example + ")");
    }

    ImageCacheOptions cache;
    cache.size = options.resize;
    cache.dir = options.cache_dir;
    cache.strict = options.strict;
    cache.load.max_pixels = options.max_pixels;
    for (auto* part : {&data.train, &data.val}) {
        const bool is_train = part == &data.train;
        const Dataset& set = is_train ? data.train_set : data.val_set;
        const auto start = Clock::now();
        *part = load_image_cache(set, cache);
        char line[512];
        std::snprintf(line, sizeof(line), "%s: %lld images, %zu classes, %s %s (%.1f s)", is_train ? "train" : "val",
                      static_cast<long long>(part->labels.size(0)), set.class_names.size(),
                      part->reused ? "cache reused:" : "decoded into cache", part->file.c_str(), seconds_since(start));
        say(callbacks, line);
        for (const auto& skipped : part->skipped) say(callbacks, "skipped unreadable image " + skipped);
    }
    return data;
}

// ---------------------------------------------------------------------------------------------
// Batches from the cache

struct Validation {
    double top1 = 0, top5 = 0;
    double recall_at_1 = -1, map_at_r = -1;  ///< with an embedding head
};

/// Breed top-1/top-5 on the centre crops of `val` and, when the model has an embedding head,
/// Recall@1 and MAP@R of its embeddings.
Validation evaluate(Model& model, const CachedImages& val) {
    model.network->eval();
    torch::InferenceMode inference;
    const int64_t count = val.labels.size(0);
    std::vector<int64_t> all(static_cast<size_t>(count));
    std::iota(all.begin(), all.end(), 0);
    const int64_t top = std::min<int64_t>(5, int64_t(model.info.class_names.size()));
    const bool embed = bool(model.network->embedding);
    // Written in place: a small tensor kept per batch would fragment the heap (see runtime.hpp).
    torch::Tensor embeddings = embed ? torch::empty({count, model.network->embedding_size()}) : torch::Tensor();
    int64_t hits1 = 0, hits5 = 0;
    for (int64_t begin = 0; begin < count; begin += 128) {
        const int64_t n = std::min<int64_t>(128, count - begin);
        const torch::Tensor x = batch_from_cache(val.pixels, all.data() + begin, n, model.info.preprocessing.input_size, false,
                                           nullptr, model.info.preprocessing);
        const NetworkImpl::Outputs outputs = model.network->run(x, true, embed);
        const torch::Tensor ranked = std::get<1>(outputs.logits.topk(top, 1));
        const torch::Tensor truth = val.labels.narrow(0, begin, n).unsqueeze(1);
        const torch::Tensor match = ranked.eq(truth);
        hits1 += match.select(1, 0).sum().item<int64_t>();
        hits5 += match.any(1).sum().item<int64_t>();
        if (embed) embeddings.narrow(0, begin, n).copy_(outputs.embeddings);
    }
    Validation result;
    result.top1 = double(hits1) / double(count);
    result.top5 = double(hits5) / double(count);
    if (embed) {
        const RetrievalMetrics metrics = retrieval_metrics(embeddings, val.labels, {1});
        result.recall_at_1 = metrics.recall_at[0];
        result.map_at_r = metrics.map_at_r;
    }
    return result;
}

// ---------------------------------------------------------------------------------------------
// The model and the optimiser

const char* command_name(const ClassifierTrainingOptions& options) {
    return options.embedding_loss.empty() ? "pupembed train-classifier" : "pupembed train-siamese --finetune-trunk";
}

/// Copies every weight of `from` that `to` has under the same name and shape, except the
/// classifier's when the two classify different classes.
void copy_matching_weights(const Model& from, Model& to) {
    const bool same_classes = from.info.classifier == to.info.classifier && from.info.class_ids == to.info.class_ids;
    torch::NoGradGuard no_grad;
    auto copy = [&](torch::OrderedDict<std::string, torch::Tensor> source,
                    torch::OrderedDict<std::string, torch::Tensor> target) {
        for (auto& item : target) {
            if (!same_classes && item.key().rfind("classifier.", 0) == 0) continue;
            const torch::Tensor* found = source.find(item.key());
            if (found && found->sizes() == item.value().sizes()) item.value().copy_(*found);
        }
    };
    copy(from.network->named_parameters(), to.network->named_parameters());
    copy(from.network->named_buffers(), to.network->named_buffers());
}

/// Moves every weight of `to` toward `from`'s: to = decay * to + (1 - decay) * from (decay 0
/// copies); buffers (batch-norm statistics) and weights `from` keeps frozen are copied.
void copy_state(NetworkImpl& from, NetworkImpl& to, double decay) {
    torch::NoGradGuard no_grad;
    const auto source = from.named_parameters();
    for (auto& item : to.named_parameters()) {
        const torch::Tensor& weight = source[item.key()];
        if (weight.requires_grad())
            item.value().mul_(decay).add_(weight, 1 - decay);
        else
            item.value().copy_(weight);  // exactly, not the average's rounding of an unchanging value
    }
    const auto buffers = from.named_buffers();
    for (auto& item : to.named_buffers()) item.value().copy_(buffers[item.key()]);
}

/// The network to train: the init model's weights where they fit (unless `resuming`, when the
/// checkpoint's weights replace everything), a pool-bn-linear head for `class_names` and, with an
/// embedding loss, an embedding head.
Model make_model(const ClassifierTrainingOptions& options, const std::vector<std::string>& class_names, bool resuming) {
    ModelInfo info;
    info.preprocessing.input_size = options.input_size;
    info.preprocessing.resize_shorter = options.resize;
    info.classifier = LinearClassifierHeadImpl::kKind;
    if (!options.embedding_loss.empty()) {
        info.embedding = EmbeddingHeadImpl::kKind;
        info.embedding_hidden = options.embedding_hidden;
        info.embedding_dim = options.embedding_dim;
    }
    for (const auto& name : class_names) {
        const auto [id, readable] = class_id_and_name(name);
        info.class_ids.push_back(id);
        info.class_names.push_back(readable);
    }
    Model init;
    if (options.init != "none" && !resuming) {
        init = load_model(options.init);
        info.backbone = init.info.backbone;
        info.preprocessing.mean = init.info.preprocessing.mean;
        info.preprocessing.std = init.info.preprocessing.std;
        info.source = std::string(command_name(options)) + " on " + options.train_data + " from " + options.init + " (" +
                      init.info.source + ")";
    } else {
        info.backbone = options.backbone;
        info.source = std::string(command_name(options)) + " on " + options.train_data +
                      (options.init == "none" ? " from scratch" : " from " + options.init);
    }
    torch::manual_seed(options.seed);
    Model model = create_model(info);
    dynamic_cast<LinearClassifierHeadImpl&>(*model.network->classifier).dropout->options.p(options.dropout);
    if (init.network) copy_matching_weights(init, model);
    to_channels_last(*model.network);
    return model;
}

enum class Phase { Warmup, Finetune };
const char* phase_name(Phase phase) { return phase == Phase::Warmup ? "warmup" : "finetune"; }

/// The parameter groups a phase trains, with their base learning rates: the trunk (not while
/// warming up), the classifier, and with an embedding loss the embedding head and the proxies.
std::vector<std::pair<std::vector<torch::Tensor>, double>> trained_groups(Model& model, const torch::Tensor& proxies,
                                                                         Phase phase, const ClassifierTrainingOptions& o) {
    std::vector<std::pair<std::vector<torch::Tensor>, double>> groups;
    const double head_lr = phase == Phase::Warmup ? o.warmup_lr : o.head_lr;
    if (phase == Phase::Finetune) {
        std::vector<torch::Tensor> trunk;  // less the layers kept frozen (freeze_until)
        for (const auto& weight : model.network->trunk->parameters())
            if (weight.requires_grad()) trunk.push_back(weight);
        if (!trunk.empty()) groups.emplace_back(std::move(trunk), o.trunk_lr);
    }
    groups.emplace_back(model.network->classifier->parameters(), head_lr);
    if (model.network->embedding) {
        groups.emplace_back(model.network->embedding->parameters(), head_lr);
        groups.emplace_back(std::vector<torch::Tensor>{proxies}, o.proxy_lr);
    }
    return groups;
}

std::unique_ptr<torch::optim::AdamW> make_optimizer(Model& model, const torch::Tensor& proxies, Phase phase,
                                                    const ClassifierTrainingOptions& o) {
    using torch::optim::AdamWOptions;
    std::vector<torch::optim::OptimizerParamGroup> groups;
    for (auto& [parameters, lr] : trained_groups(model, proxies, phase, o)) {
        const bool is_proxies = parameters.size() == 1 && parameters[0].is_same(proxies);
        groups.emplace_back(parameters,
                            std::make_unique<AdamWOptions>(AdamWOptions(lr).weight_decay(is_proxies ? 0 : o.weight_decay)));
    }
    return std::make_unique<torch::optim::AdamW>(std::move(groups), AdamWOptions(o.head_lr).weight_decay(o.weight_decay));
}

/// Cosine from each group's base rate to 0 over the fine-tuning steps; constant while warming up.
void set_learning_rates(torch::optim::AdamW& optimizer, Model& model, const torch::Tensor& proxies, Phase phase,
                        const ClassifierTrainingOptions& o, int64_t finetune_step, int64_t finetune_steps) {
    const double factor = phase == Phase::Finetune ? cosine_factor(finetune_step, finetune_steps) : 1.0;
    auto& groups = optimizer.param_groups();
    const auto rates = trained_groups(model, proxies, phase, o);
    for (size_t g = 0; g < groups.size(); ++g)
        static_cast<torch::optim::AdamWOptions&>(groups[g].options()).lr(rates[g].second * factor);
}

void check_options(const ClassifierTrainingOptions& o) {
    if (o.input_size < 16 || o.input_size > o.resize)
        throw Error("--input-size", "must be at least 16 and at most --resize (" + std::to_string(o.resize) + ")");
    if (o.batch < 2) throw Error("--batch", "must be at least 2 (batch normalisation)");
    if (o.warmup_epochs < 0 || o.epochs < 0 || o.warmup_epochs + o.epochs < 1)
        throw Error("--epochs", "needs at least one epoch in all");
    if (o.init.empty()) throw Error("--init", "give a model file, or \"none\" to train from scratch");
    if (!o.embedding_loss.empty() && o.embedding_loss != "proxy")
        throw Error("embedding loss \"" + o.embedding_loss + "\"", "unknown (training on images supports proxy)");
    if ((o.l2sp > 0 || o.distill > 0 || o.similarity_distill > 0) && o.init == "none")
        throw Error("--l2sp, --distill and --distill-similarity", "need --init: they hold the model near its starting weights");
    if (o.l2sp < 0 || o.distill < 0 || o.similarity_distill < 0 || o.ema < 0 || o.ema >= 1)
        throw Error("--l2sp, --distill and --distill-similarity must be at least 0 and --ema in [0, 1)");
    if (o.similarity_distill > 0 && o.embedding_loss.empty())
        throw Error("--distill-similarity", "needs an embedding loss (it shapes the embedding head)");
    if (!(o.similarity_temperature > 0))
        throw Error("--distill-temperature", "must be positive, got " + std::to_string(o.similarity_temperature));
    if (!o.train_sizes.empty() && !o.photo_augment)
        throw Error("--train-sizes", "needs --photo-augment (plain crops are cut at the input size)");
    for (const int size : o.train_sizes)
        if (size < 16 || size > 1024) throw Error("--train-sizes", "each size must be in [16, 1024], got " + std::to_string(size));
    if (!o.embedding_loss.empty() && (o.embedding_dim < 2 || o.embedding_hidden < 1 || !(o.proxy_scale > 0)))
        throw Error("need an embedding of at least 2, a hidden layer of at least 1 and a positive proxy scale");
}

// ---------------------------------------------------------------------------------------------
// The recipe: a classifier head warmed up on the frozen trunk, then everything fine-tuned, with
// an embedding head and proxy loss beside the classifier when asked (stage 2 end to end)

class ImageTrainingRecipe : public TrainingRecipe {
public:
    ImageTrainingRecipe(const ClassifierTrainingOptions& options, const TrainingCallbacks& callbacks, bool resume)
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
        if (o_.l2sp > 0 || o_.distill > 0 || o_.similarity_distill > 0) {
            teacher_ = load_model(o_.init);
            to_channels_last(*teacher_.network);
            teacher_.network->eval();
            for (const auto& weight : teacher_.network->trunk->parameters()) {
                weight.requires_grad_(false);
                anchors_.push_back(weight);
            }
        }
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
        loss = loss + held_near_start(x, pooled, embedded);
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
    /// in both phases, the embedding's neighbourhoods distilled from the starting trunk's.
    torch::Tensor held_near_start(const torch::Tensor& x, const torch::Tensor& pooled, const torch::Tensor& embedded) {
        torch::Tensor extra = torch::zeros({});
        const bool finetune = phase_ == Phase::Finetune;
        if (!finetune && o_.similarity_distill == 0) return extra;
        torch::Tensor teacher;
        if (!finetune) {
            teacher = pooled.detach();  // the trunk is still the starting one, frozen
        } else if (o_.distill > 0 || o_.similarity_distill > 0) {
            torch::NoGradGuard frozen;
            teacher = global_average_pool(teacher_.network->trunk->forward(x));
        }
        if (finetune && o_.l2sp > 0) extra = extra + l2_sp_penalty(model_.network->trunk->parameters(), anchors_, o_.l2sp);
        if (finetune && o_.distill > 0) extra = extra + o_.distill * feature_distillation_loss(pooled, teacher);
        if (o_.similarity_distill > 0)
            extra = extra + o_.similarity_distill * similarity_distillation_loss(embedded, teacher, o_.similarity_temperature);
        return extra;
    }

    const ClassifierTrainingOptions o_;
    const TrainingCallbacks& callbacks_;
    const RunFiles files_;
    TrainingData data_;
    Model model_;
    LinearClassifierHeadImpl& head_;
    const bool embedding_;
    torch::Tensor proxies_;
    Model teacher_;                        ///< the starting weights, frozen (with l2sp or a distillation)
    std::vector<torch::Tensor> anchors_;   ///< its trunk's weights, L2-SP's anchors
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

TrainingOutcome run(const ClassifierTrainingOptions& options, const TrainingCallbacks& callbacks, bool resume) {
    return rethrow_torch_errors("training", [&] {
        ImageTrainingRecipe recipe(options, callbacks, resume);
        return recipe.outcome(run_training(recipe, options.run_dir, run_control(callbacks, options.stop_after_steps), resume));
    });
}

}  // namespace

nlohmann::json ClassifierTrainingOptions::to_json() const {
    return {{"train_data", train_data},   {"val_data", val_data},
            {"val_fraction", val_fraction}, {"init", init},
            {"run_dir", run_dir},         {"cache_dir", cache_dir},
            {"backbone", backbone},       {"input_size", input_size},
            {"resize", resize},           {"warmup_epochs", warmup_epochs},
            {"epochs", epochs},           {"batch", batch},
            {"warmup_lr", warmup_lr},     {"head_lr", head_lr},
            {"trunk_lr", trunk_lr},       {"weight_decay", weight_decay},
            {"label_smoothing", label_smoothing}, {"dropout", dropout},
            {"flip", flip},               {"seed", seed},
            {"strict", strict},           {"max_pixels", max_pixels},
            {"stop_after_steps", stop_after_steps},
            {"embedding_loss", embedding_loss}, {"embedding_dim", embedding_dim},
            {"embedding_hidden", embedding_hidden}, {"proxy_lr", proxy_lr},
            {"proxy_scale", proxy_scale}, {"classifier_weight", classifier_weight},
            {"photo_augment", photo_augment}, {"photo", photo.to_json()},
            {"train_sizes", train_sizes}, {"l2sp", l2sp},
            {"distill", distill},         {"ema", ema},
            {"freeze_until", freeze_until},
            {"similarity_distill", similarity_distill}, {"similarity_temperature", similarity_temperature}};
}

ClassifierTrainingOptions ClassifierTrainingOptions::from_json(const nlohmann::json& j) {
    ClassifierTrainingOptions o;
    o.train_data = j.at("train_data");
    o.val_data = j.at("val_data");
    o.val_fraction = j.at("val_fraction");
    o.init = j.at("init");
    o.run_dir = j.at("run_dir");
    o.cache_dir = j.at("cache_dir");
    o.backbone = j.at("backbone");
    o.input_size = j.at("input_size");
    o.resize = j.at("resize");
    o.warmup_epochs = j.at("warmup_epochs");
    o.epochs = j.at("epochs");
    o.batch = j.at("batch");
    o.warmup_lr = j.at("warmup_lr");
    o.head_lr = j.at("head_lr");
    o.trunk_lr = j.at("trunk_lr");
    o.weight_decay = j.at("weight_decay");
    o.label_smoothing = j.at("label_smoothing");
    o.dropout = j.at("dropout");
    o.flip = j.at("flip");
    o.seed = j.at("seed");
    o.strict = j.at("strict");
    o.max_pixels = j.at("max_pixels");
    o.stop_after_steps = j.at("stop_after_steps");
    o.embedding_loss = j.value("embedding_loss", "");
    o.embedding_dim = j.value("embedding_dim", 128);
    o.embedding_hidden = j.value("embedding_hidden", 512);
    o.proxy_lr = j.value("proxy_lr", 1e-2);
    o.proxy_scale = j.value("proxy_scale", 8.0);
    o.classifier_weight = j.value("classifier_weight", 1.0);
    o.photo_augment = j.value("photo_augment", false);
    if (j.contains("photo")) o.photo = PhotoAugmentation::from_json(j.at("photo"));
    o.train_sizes = j.value("train_sizes", std::vector<int>{});
    o.l2sp = j.value("l2sp", 0.0);
    o.distill = j.value("distill", 0.0);
    o.ema = j.value("ema", 0.0);
    o.freeze_until = j.value("freeze_until", "");
    o.similarity_distill = j.value("similarity_distill", 0.0);
    o.similarity_temperature = j.value("similarity_temperature", 0.1);
    return o;
}

TrainingOutcome train_classifier(const ClassifierTrainingOptions& options, const TrainingCallbacks& callbacks) {
    ClassifierTrainingOptions resolved = options;
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
    ClassifierTrainingOptions stored = resolved;
    stored.run_dir = fs::absolute(options.run_dir).lexically_normal().string();
    start_run_folder(options.run_dir, kClassifierRunFormat, kClassifierRunVersion, stored.to_json());
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

TrainingOutcome resume_classifier_training(const std::string& run_dir, const TrainingCallbacks& callbacks,
                                           int64_t stop_after_steps) {
    const RunFiles files{run_dir};
    ClassifierTrainingOptions options;
    const nlohmann::json stored = read_run_options(run_dir, kClassifierRunFormat, kClassifierRunVersion);
    try {
        options = ClassifierTrainingOptions::from_json(stored);
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
