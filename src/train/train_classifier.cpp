#include "pupembed/train/train_classifier.hpp"

#include <torch/torch.h>

#include <chrono>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <numeric>
#include <random>

#include "core/random.hpp"
#include "io/tensor_archive.hpp"
#include "model/torch_errors.hpp"
#include "pupembed/core/error.hpp"
#include "pupembed/inference/metrics.hpp"
#include "pupembed/io/dataset.hpp"
#include "model/network.hpp"
#include "pupembed/model/model.hpp"
#include "train/image_cache.hpp"
#include "train/losses.hpp"
#include "train/training_support.hpp"

namespace fs = std::filesystem;
namespace F = torch::nn::functional;

namespace pupembed {
namespace {

const char kConfigFormat[] = "pupembed-train-classifier";
constexpr int kConfigVersion = 1;
const char kCheckpointMagic[] = "PUPCHKPT";
constexpr uint32_t kCheckpointVersion = 1;

using Clock = std::chrono::steady_clock;

double seconds_since(Clock::time_point start) { return std::chrono::duration<double>(Clock::now() - start).count(); }

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
    if (phase == Phase::Finetune) groups.emplace_back(model.network->trunk->parameters(), o.trunk_lr);
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
    double factor = 1;
    if (phase == Phase::Finetune) {
        const double t = finetune_steps > 0 ? double(finetune_step) / double(finetune_steps) : 1.0;
        factor = 0.5 * (1.0 + std::cos(M_PI * t));
    }
    auto& groups = optimizer.param_groups();
    const auto rates = trained_groups(model, proxies, phase, o);
    for (size_t g = 0; g < groups.size(); ++g)
        static_cast<torch::optim::AdamWOptions&>(groups[g].options()).lr(rates[g].second * factor);
}

// ---------------------------------------------------------------------------------------------
// Run state and checkpoints

struct RunState {
    int epoch = 0;               ///< epochs completed
    int64_t step_in_epoch = 0;   ///< steps completed in the current epoch
    int64_t global_step = 0;
    std::vector<int64_t> order;  ///< the current epoch's sample order
    std::mt19937_64 rng;
    double loss_sum = 0;         ///< over the current epoch so far
    int64_t correct = 0, seen = 0;
    double epoch_seconds = 0;    ///< time spent on the current epoch before a stop
    double best_top1 = -1;       ///< val top-1 of the best epoch
    double best_map = -1;        ///< val MAP@R of the best epoch (with an embedding loss)
    int best_epoch = 0;
    Phase optimizer_phase = Phase::Warmup;
};

struct RunFiles {
    fs::path dir;
    std::string config() const { return (dir / "config.json").string(); }
    std::string checkpoint() const { return (dir / "checkpoint.ckpt").string(); }
    std::string metrics() const { return (dir / "metrics.jsonl").string(); }
    std::string best() const { return (dir / "best.pt").string(); }
    std::string final_model() const { return (dir / "final.pt").string(); }
};

void save_checkpoint(const RunFiles& files, const Model& model, const torch::Tensor& proxies,
                     const torch::optim::AdamW& optimizer, const RunState& state) {
    std::vector<std::pair<std::string, torch::Tensor>> tensors;
    for (const auto& item : model.network->named_parameters()) tensors.emplace_back("model." + item.key(), item.value());
    for (const auto& item : model.network->named_buffers()) tensors.emplace_back("model." + item.key(), item.value());
    if (proxies.defined()) tensors.emplace_back("proxies", proxies);
    tensors.emplace_back("order", torch::tensor(state.order, torch::kInt64));
    tensors.emplace_back("torch_rng", torch_rng_state());
    tensors.emplace_back("optimizer", optimizer_state(optimizer));
    const nlohmann::json meta = {{"epoch", state.epoch},
                                 {"step_in_epoch", state.step_in_epoch},
                                 {"global_step", state.global_step},
                                 {"rng", rng_text(state.rng)},
                                 {"loss_sum", state.loss_sum},
                                 {"correct", state.correct},
                                 {"seen", state.seen},
                                 {"epoch_seconds", state.epoch_seconds},
                                 {"best_top1", state.best_top1},
                                 {"best_map", state.best_map},
                                 {"best_epoch", state.best_epoch},
                                 {"optimizer_phase", phase_name(state.optimizer_phase)}};
    write_tensor_archive(files.checkpoint(), kCheckpointMagic, kCheckpointVersion, meta, tensors);
}

/// Loads the checkpoint into `model`, `state` and (after making it for the saved phase) `optimizer`.
void load_checkpoint(const RunFiles& files, Model& model, torch::Tensor& proxies,
                     std::unique_ptr<torch::optim::AdamW>& optimizer, RunState& state,
                     const ClassifierTrainingOptions& options) {
    const std::string path = files.checkpoint();
    TensorArchive archive = read_tensor_archive(path, kCheckpointMagic, kCheckpointVersion, "pupembed checkpoint");
    try {
        const auto& meta = archive.meta;
        state.epoch = meta.at("epoch");
        state.step_in_epoch = meta.at("step_in_epoch");
        state.global_step = meta.at("global_step");
        set_rng_from_text(state.rng, meta.at("rng").get<std::string>());
        state.loss_sum = meta.at("loss_sum");
        state.correct = meta.at("correct");
        state.seen = meta.at("seen");
        state.epoch_seconds = meta.at("epoch_seconds");
        state.best_top1 = meta.at("best_top1");
        state.best_map = meta.value("best_map", -1.0);
        state.best_epoch = meta.at("best_epoch");
        state.optimizer_phase = meta.at("optimizer_phase") == "warmup" ? Phase::Warmup : Phase::Finetune;
    } catch (const nlohmann::json::exception& e) {
        throw Error(path, std::string("damaged checkpoint (") + e.what() + ")");
    }
    torch::NoGradGuard no_grad;
    auto take = [&](const std::string& name) {
        const auto found = archive.tensors.find(name);
        if (found == archive.tensors.end()) throw Error(path, "damaged checkpoint (no " + name + ")");
        return found->second;
    };
    for (auto& item : model.network->named_parameters()) item.value().copy_(take("model." + item.key()));
    for (auto& item : model.network->named_buffers()) item.value().copy_(take("model." + item.key()));
    if (proxies.defined()) proxies.copy_(take("proxies"));
    const torch::Tensor order = take("order");
    state.order.assign(order.data_ptr<int64_t>(), order.data_ptr<int64_t>() + order.numel());
    set_torch_rng_state(take("torch_rng"));
    optimizer = make_optimizer(model, proxies, state.optimizer_phase, options);
    load_optimizer_state(*optimizer, take("optimizer"));
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
    if (!o.embedding_loss.empty() && (o.embedding_dim < 2 || o.embedding_hidden < 1 || !(o.proxy_scale > 0)))
        throw Error("need an embedding of at least 2, a hidden layer of at least 1 and a positive proxy scale");
}

// ---------------------------------------------------------------------------------------------
// The loop

TrainingOutcome run_unguarded(const ClassifierTrainingOptions& options, const TrainingCallbacks& callbacks, bool resume) {
    const RunFiles files{options.run_dir};
    TrainingData data = prepare_data(options, callbacks);
    Model model = make_model(options, data.train_set.class_names, resume);
    auto& head = dynamic_cast<LinearClassifierHeadImpl&>(*model.network->classifier);
    const bool embedding = bool(model.network->embedding);
    // One learnt proxy per class for the embedding loss (drawn right after the model's weights).
    torch::Tensor proxies;
    if (embedding)
        proxies = (torch::randn({int64_t(data.train_set.class_names.size()), options.embedding_dim}) /
                   std::sqrt(double(options.embedding_dim)))
                      .requires_grad_();

    RunState state;
    std::unique_ptr<torch::optim::AdamW> optimizer;
    if (resume) {
        load_checkpoint(files, model, proxies, optimizer, state, options);
        say(callbacks, "resuming at epoch " + std::to_string(state.epoch + 1) + ", step " +
                           std::to_string(state.step_in_epoch) + " of it (" + std::to_string(state.global_step) +
                           " steps done)");
    } else {
        state.rng.seed(options.seed);
        state.optimizer_phase = options.warmup_epochs > 0 ? Phase::Warmup : Phase::Finetune;
        optimizer = make_optimizer(model, proxies, state.optimizer_phase, options);
    }

    const int64_t count = data.train.labels.size(0);
    const int64_t batch = std::min<int64_t>(options.batch, count);
    if (batch < 2) throw Error(options.train_data, "needs at least 2 readable training images");
    const int64_t steps_per_epoch = count / batch;
    const int total_epochs = options.warmup_epochs + options.epochs;
    const int64_t total_steps = steps_per_epoch * total_epochs;
    const int64_t warmup_steps = steps_per_epoch * options.warmup_epochs;
    const int64_t finetune_steps = steps_per_epoch * options.epochs;
    const int64_t* labels = data.train.labels.data_ptr<int64_t>();

    TrainingOutcome outcome;
    outcome.checkpoint = files.checkpoint();
    outcome.best_model = files.best();
    outcome.skipped_images = int64_t(data.train.skipped.size() + data.val.skipped.size());
    // Seconds and steps spent in each phase by this process, for the ETA.
    double phase_seconds[2] = {0, 0};
    int64_t phase_steps[2] = {0, 0};

    while (state.epoch < total_epochs) {
        const Phase phase = state.epoch < options.warmup_epochs ? Phase::Warmup : Phase::Finetune;
        if (state.step_in_epoch == 0) {
            state.order.resize(size_t(count));
            std::iota(state.order.begin(), state.order.end(), 0);
            shuffle_portably(state.order, state.rng);
            state.loss_sum = 0;
            state.correct = state.seen = 0;
            state.epoch_seconds = 0;
            if (phase != state.optimizer_phase) {
                optimizer = make_optimizer(model, proxies, phase, options);
                state.optimizer_phase = phase;
            }
        }
        model.network->train();
        if (phase == Phase::Warmup) model.network->trunk->eval();
        const auto epoch_start = Clock::now();
        const double seconds_before = state.epoch_seconds;
        const double phase_seconds_before[2] = {phase_seconds[0], phase_seconds[1]};
        const int64_t phase_steps_before[2] = {phase_steps[0], phase_steps[1]};
        const int64_t first_step = state.step_in_epoch;
        for (int64_t step = state.step_in_epoch; step < steps_per_epoch; ++step) {
            const int64_t* indices = state.order.data() + step * batch;
            const torch::Tensor x =
                batch_from_cache(data.train.pixels, indices, batch, options.input_size, options.flip, &state.rng, model.info.preprocessing);
            std::vector<int64_t> target_values(static_cast<size_t>(batch));
            for (int64_t i = 0; i < batch; ++i) target_values[size_t(i)] = labels[indices[i]];
            const torch::Tensor targets = torch::tensor(target_values, torch::kInt64);
            set_learning_rates(*optimizer, model, proxies, phase, options, state.global_step - warmup_steps, finetune_steps);

            torch::Tensor pooled;
            if (phase == Phase::Warmup) {
                torch::NoGradGuard frozen;
                pooled = global_average_pool(model.network->trunk->forward(x));
            } else {
                pooled = global_average_pool(model.network->trunk->forward(x));
            }
            const torch::Tensor logits = head.forward_pooled(pooled);
            torch::Tensor loss =
                F::cross_entropy(logits, targets, F::CrossEntropyFuncOptions().label_smoothing(options.label_smoothing));
            if (embedding)
                loss = loss * options.classifier_weight +
                       proxy_softmax_loss(model.network->embedding->forward(pooled), proxies, targets, options.proxy_scale);
            optimizer->zero_grad();
            loss.backward();
            optimizer->step();

            const double loss_value = loss.item<double>();
            if (!std::isfinite(loss_value))
                throw Error("training diverged (loss " + std::to_string(loss_value) + " at step " +
                            std::to_string(state.global_step + 1) + "); try lower learning rates");
            state.loss_sum += loss_value * double(batch);
            state.correct += logits.argmax(1).eq(targets).sum().item<int64_t>();
            state.seen += batch;
            state.global_step += 1;
            state.step_in_epoch = step + 1;

            const double epoch_elapsed = seconds_since(epoch_start);
            if (callbacks.on_step) {
                StepReport report;
                report.phase = phase_name(phase);
                report.epoch = state.epoch + 1;
                report.epochs = total_epochs;
                report.step = step + 1;
                report.steps = steps_per_epoch;
                report.loss = state.loss_sum / double(state.seen);
                report.images_per_second = double((step + 1 - first_step) * batch) / std::max(epoch_elapsed, 1e-9);
                const int p = phase == Phase::Warmup ? 0 : 1;
                phase_seconds[p] = phase_seconds_before[p] + epoch_elapsed;
                phase_steps[p] = phase_steps_before[p] + (step + 1 - first_step);
                const int64_t warmup_left = std::max<int64_t>(0, warmup_steps - state.global_step);
                const int64_t finetune_left = total_steps - state.global_step - warmup_left;
                const int64_t phase_left = p == 0 ? warmup_left : finetune_left;
                report.phase_eta_seconds = phase_seconds[p] / double(phase_steps[p]) * double(phase_left);
                report.eta_seconds = 0;
                for (int q = 0; q < 2; ++q) {
                    const int64_t left = q == 0 ? warmup_left : finetune_left;
                    if (left == 0) continue;
                    if (phase_steps[q] == 0) {
                        report.eta_seconds = -1;  // not measured yet
                        break;
                    }
                    report.eta_seconds += phase_seconds[q] / double(phase_steps[q]) * double(left);
                }
                callbacks.on_step(report);
            }
            const bool asked = callbacks.stop_requested && callbacks.stop_requested->load();
            const bool limit = options.stop_after_steps > 0 && state.global_step >= options.stop_after_steps;
            if ((asked || limit) && state.global_step < total_steps) {
                state.epoch_seconds = seconds_before + epoch_elapsed;
                save_checkpoint(files, model, proxies, *optimizer, state);
                outcome.epoch = state.epoch;
                outcome.step = state.global_step;
                outcome.best_val_top1 = std::max(0.0, state.best_top1);
                outcome.best_val_map_at_r = state.best_map;
                return outcome;
            }
        }

        EpochReport report;
        report.phase = phase_name(phase);
        report.epoch = state.epoch + 1;
        report.epochs = total_epochs;
        report.train_loss = state.loss_sum / double(std::max<int64_t>(1, state.seen));
        report.train_top1 = double(state.correct) / double(std::max<int64_t>(1, state.seen));
        report.seconds = seconds_before + seconds_since(epoch_start);
        report.images_per_second = double(steps_per_epoch * batch) / std::max(report.seconds, 1e-9);
        const Validation validation = evaluate(model, data.val);
        report.val_top1 = validation.top1;
        report.val_top5 = validation.top5;
        report.val_recall_at_1 = validation.recall_at_1;
        report.val_map_at_r = validation.map_at_r;
        state.epoch += 1;
        state.step_in_epoch = 0;
        if (embedding ? validation.map_at_r > state.best_map : validation.top1 > state.best_top1) {
            state.best_top1 = validation.top1;
            state.best_map = validation.map_at_r;
            state.best_epoch = state.epoch;
            report.best = true;
            save_model(files.best(), model);
        }
        save_checkpoint(files, model, proxies, *optimizer, state);
        nlohmann::json line = {{"event", "epoch"},
                               {"phase", report.phase},
                               {"epoch", report.epoch},
                               {"epochs", report.epochs},
                               {"step", state.global_step},
                               {"train_loss", report.train_loss},
                               {"train_top1", report.train_top1},
                               {"val_top1", report.val_top1},
                               {"val_top5", report.val_top5},
                               {"images_per_second", report.images_per_second},
                               {"seconds", report.seconds},
                               {"best", report.best}};
        if (embedding) {
            line["val_recall_at_1"] = report.val_recall_at_1;
            line["val_map_at_r"] = report.val_map_at_r;
        }
        append_metrics_line(files.metrics(), "train-classifier", line);
        if (callbacks.on_epoch) callbacks.on_epoch(report);
    }
    save_model(files.final_model(), model);
    outcome.finished = true;
    outcome.epoch = state.epoch;
    outcome.step = state.global_step;
    outcome.best_val_top1 = state.best_top1;
    outcome.best_val_map_at_r = state.best_map;
    outcome.final_model = files.final_model();
    return outcome;
}

TrainingOutcome run(const ClassifierTrainingOptions& options, const TrainingCallbacks& callbacks, bool resume) {
    return rethrow_torch_errors("training", [&] { return run_unguarded(options, callbacks, resume); });
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
            {"proxy_scale", proxy_scale}, {"classifier_weight", classifier_weight}};
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
    if (resolved.resize == 0) resolved.resize = resolved.input_size + resolved.input_size / 7;  // 128 -> 146
    check_options(resolved);
    ClassifierTrainingOptions stored = resolved;
    stored.run_dir = fs::absolute(options.run_dir).lexically_normal().string();
    start_run_folder(options.run_dir, kConfigFormat, kConfigVersion, stored.to_json());
    return run(resolved, callbacks, false);
}

bool is_image_training_run(const std::string& run_dir) {
    try {
        read_run_options(run_dir, kConfigFormat, kConfigVersion);
        return true;
    } catch (const Error&) {
        return false;
    }
}

TrainingOutcome resume_classifier_training(const std::string& run_dir, const TrainingCallbacks& callbacks,
                                           int64_t stop_after_steps) {
    const RunFiles files{run_dir};
    ClassifierTrainingOptions options;
    const nlohmann::json stored = read_run_options(run_dir, kConfigFormat, kConfigVersion);
    try {
        options = ClassifierTrainingOptions::from_json(stored);
    } catch (const nlohmann::json::exception& e) {
        throw Error(files.config(), std::string("damaged run configuration (") + e.what() + ")");
    }
    options.run_dir = run_dir;
    options.stop_after_steps = stop_after_steps;
    if (!fs::exists(files.checkpoint())) throw Error(run_dir, "has no checkpoint.ckpt to resume from");
    return run(options, callbacks, true);
}

}  // namespace pupembed
