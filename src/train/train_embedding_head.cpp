#include "pupembed/train/train_embedding_head.hpp"

#include <torch/torch.h>

#include <chrono>
#include <cmath>
#include <filesystem>
#include <numeric>
#include <random>

#include "core/random.hpp"
#include "model/tensor_archive.hpp"
#include "model/network.hpp"
#include "model/torch_errors.hpp"
#include "pupembed/core/error.hpp"
#include "inference/retrieval_metrics.hpp"
#include "pupembed/io/npy.hpp"
#include "pupembed/model/model.hpp"
#include "pupembed/train/features.hpp"
#include "train/losses.hpp"
#include "train/training_run.hpp"
#include "train/training_support.hpp"

namespace fs = std::filesystem;

namespace pupembed {
namespace {

const char kSiameseRunFormat[] = "pupembed-train-siamese";
constexpr int kSiameseRunVersion = 1;

/// The trained parts: the embedding head and, for the proxy loss, one learnt proxy per class.
struct HeadAndProxiesImpl : torch::nn::Module {
    HeadAndProxiesImpl(int64_t in, int64_t hidden, int64_t dim, int64_t classes, bool with_proxies) {
        head = register_module("head", EmbeddingHead(in, hidden, dim));
        if (with_proxies) proxies = register_parameter("proxies", torch::randn({classes, dim}) / std::sqrt(double(dim)));
    }
    EmbeddingHead head{nullptr};
    torch::Tensor proxies;
};
TORCH_MODULE(HeadAndProxies);

/// `base` (trunk, classifier) with `head` as its embedding head.
Model with_embedding_head(const Model& base, const EmbeddingHeadTrainingOptions& o, EmbeddingHeadImpl& head,
                          const std::string& source) {
    ModelInfo info = base.info;
    info.embedding = EmbeddingHeadImpl::kKind;
    info.embedding_hidden = o.hidden;
    info.embedding_dim = o.embedding_dim;
    info.posterior_weight = 0;  // chosen for another head, if base had one: export sets it anew
    info.source = source;
    Model model = create_model(info);
    torch::NoGradGuard no_grad;
    auto base_parameters = base.network->named_parameters();
    auto base_buffers = base.network->named_buffers();
    for (auto& item : model.network->named_parameters()) {
        if (item.key().rfind("embedding.", 0) == 0) continue;
        item.value().copy_(base_parameters[item.key()]);
    }
    for (auto& item : model.network->named_buffers()) {
        if (item.key().rfind("embedding.", 0) == 0) continue;
        item.value().copy_(base_buffers[item.key()]);
    }
    auto head_parameters = head.named_parameters();
    auto head_buffers = head.named_buffers();
    for (auto& item : model.network->embedding->named_parameters()) item.value().copy_(head_parameters[item.key()]);
    for (auto& item : model.network->embedding->named_buffers()) item.value().copy_(head_buffers[item.key()]);
    return model;
}

/// Checks the feature sets against each other and against the model that made them.
void check_feature_sets(const EmbeddingHeadTrainingOptions& o, const FeatureSet& train, const FeatureSet& val, const Model& base) {
    if (train.class_names != val.class_names)
        throw Error("train and val features have different classes (" + std::to_string(train.class_names.size()) +
                    " and " + std::to_string(val.class_names.size()) + ")");
    if (train.features.columns != val.features.columns)
        throw Error("train and val features differ in size (" + std::to_string(train.features.columns) + " and " +
                    std::to_string(val.features.columns) + ")");
    const std::string trunk_output = base.network->trunk->layer_names().back();
    for (const FeatureSet* set : {&train, &val})
        if (!set->layer.empty() && set->layer != trunk_output)
            throw Error(set == &train ? o.train_features : o.val_features,
                        "holds " + set->layer + " features; the embedding head of a model file takes the trunk's output (" +
                            trunk_output + ")");
    if (base.network->trunk->out_channels() != train.features.columns)
        throw Error(o.train_features, "features are " + std::to_string(train.features.columns) + "-d, the trunk of " +
                                          train.model + " gives " + std::to_string(base.network->trunk->out_channels()));
}

/// A feature set's rows as an N x C float32 tensor, and its labels as int64.
torch::Tensor features_tensor(const FeatureSet& set) {
    return torch::from_blob(const_cast<float*>(set.features.values.data()), {set.features.rows, set.features.columns},
                            torch::kFloat32)
        .clone();
}
torch::Tensor labels_tensor(const FeatureSet& set) { return torch::tensor(set.labels, torch::kInt64); }

FeatureSet read_train_features(const EmbeddingHeadTrainingOptions& o) {
    FeatureSet train = read_feature_set(o.train_features);
    if (train.model.empty()) throw Error(row_table_path(o.train_features), "does not name the model that made it");
    return train;
}

// ---------------------------------------------------------------------------------------------
// The recipe: an embedding head (and the proxies) trained on extracted trunk features

class EmbeddingHeadRecipe : public TrainingRecipe {
public:
    EmbeddingHeadRecipe(const EmbeddingHeadTrainingOptions& options, const TrainingCallbacks& callbacks)
        : o_(options),
          callbacks_(callbacks),
          files_{options.run_dir},
          train_(read_train_features(options)),
          val_(read_feature_set(options.val_features)),
          base_(load_model(train_.model)),
          proxy_(options.loss == "proxy") {
        check_feature_sets(o_, train_, val_, base_);
        train_x_ = features_tensor(train_);
        train_y_ = labels_tensor(train_);
        val_x_ = features_tensor(val_);
        val_y_ = labels_tensor(val_);
        if (callbacks.on_message)
            callbacks.on_message("train: " + std::to_string(train_.features.rows) + " vectors, val: " +
                                 std::to_string(val_.features.rows) + ", " + std::to_string(train_.class_names.size()) +
                                 " classes; trunk from " + train_.model);
        torch::manual_seed(o_.seed);
        trained_ = HeadAndProxies(train_.features.columns, o_.hidden, o_.embedding_dim, int64_t(train_.class_names.size()),
                                  proxy_);
        std::vector<torch::optim::OptimizerParamGroup> groups;
        using torch::optim::AdamWOptions;
        groups.emplace_back(trained_->head->parameters(),
                            std::make_unique<AdamWOptions>(AdamWOptions(o_.lr).weight_decay(o_.weight_decay)));
        if (proxy_)
            groups.emplace_back(std::vector<torch::Tensor>{trained_->proxies},
                                std::make_unique<AdamWOptions>(AdamWOptions(o_.proxy_lr).weight_decay(0)));
        optimizer_ = std::make_unique<torch::optim::AdamW>(std::move(groups), AdamWOptions(o_.lr));
        const int64_t count = train_.features.rows;
        const int64_t* labels = train_.labels.data();
        by_class_.resize(train_.class_names.size());
        for (int64_t i = 0; i < count; ++i) by_class_[size_t(labels[i])].push_back(i);
    }

    std::string kind() const override { return "train-siamese"; }
    uint64_t seed() const override { return o_.seed; }
    int64_t samples() const override { return train_.features.rows; }
    int64_t batch_size() const override { return std::min<int64_t>(o_.batch, samples()); }
    int epochs() const override { return o_.epochs; }
    std::string phase_name(int) const override { return o_.loss; }
    std::string divergence_advice() const override { return "try a lower --lr"; }

    void start() override {}
    void begin_epoch(int, bool) override { trained_->train(); }

    double step(const int64_t* indices, RunProgress& progress, int64_t total_steps) override {
        using torch::optim::AdamWOptions;
        const double factor = cosine_factor(progress.global_step, std::max<int64_t>(1, total_steps));
        auto& param_groups = optimizer_->param_groups();
        static_cast<AdamWOptions&>(param_groups[0].options()).lr(o_.lr * factor);
        if (proxy_) static_cast<AdamWOptions&>(param_groups[1].options()).lr(o_.proxy_lr * factor);

        const int64_t batch = batch_size();
        const torch::Tensor anchors = torch::from_blob(const_cast<int64_t*>(indices), {batch}, torch::kInt64).clone();
        torch::Tensor loss;
        if (proxy_) {
            const torch::Tensor e = trained_->head->forward(train_x_.index_select(0, anchors));
            loss = proxy_softmax_loss(e, trained_->proxies, train_y_.index_select(0, anchors), o_.scale);
        } else {
            const int64_t count = samples();
            const int64_t* labels = train_.labels.data();
            std::vector<int64_t> partners, same;
            for (int64_t i = 0; i < batch; ++i) {
                const int64_t a = indices[i];
                const auto& mates = by_class_[size_t(labels[a])];
                const bool positive = mates.size() > 1 && double(uniform_below(progress.rng, 1000000)) < o_.positive_share * 1e6;
                int64_t b = a;
                if (positive) {
                    while (b == a) b = mates[uniform_below(progress.rng, mates.size())];
                } else {
                    do b = int64_t(uniform_below(progress.rng, uint64_t(count)));
                    while (labels[b] == labels[a]);
                }
                partners.push_back(b);
                same.push_back(positive ? 1 : 0);
            }
            const torch::Tensor both = trained_->head->forward(
                train_x_.index_select(0, torch::cat({anchors, torch::tensor(partners, torch::kInt64)})));
            loss = contrastive_loss(both.narrow(0, 0, batch), both.narrow(0, batch, batch), torch::tensor(same, torch::kInt64),
                                    o_.margin);
        }
        optimizer_->zero_grad();
        loss.backward();
        optimizer_->step();
        return loss.item<double>();
    }

    nlohmann::json end_epoch(const RunProgress& progress, double seconds, double /*images_per_second*/) override {
        trained_->eval();
        RetrievalMetrics metrics;
        {
            torch::NoGradGuard no_grad;
            metrics = retrieval_metrics(trained_->head->forward(val_x_), val_y_, {1});
        }
        report_ = EpochReport{};
        report_.phase = o_.loss;
        report_.epoch = progress.epoch;
        report_.epochs = o_.epochs;
        report_.train_loss = progress.loss_sum / double(std::max<int64_t>(1, progress.seen));
        report_.val_recall_at_1 = metrics.recall_at[0];
        report_.val_map_at_r = metrics.map_at_r;
        report_.seconds = seconds;
        if (metrics.map_at_r > best_map_) {
            best_map_ = metrics.map_at_r;
            report_.best = true;
            save_model(files_.best(), model_with_head());
        }
        return {{"train_loss", report_.train_loss},
                {"val_recall_at_1", report_.val_recall_at_1},
                {"val_map_at_r", report_.val_map_at_r},
                {"best", report_.best}};
    }

    void after_epoch() override {
        if (callbacks_.on_epoch) callbacks_.on_epoch(report_);
    }

    void finish() override { save_model(files_.final_model(), model_with_head()); }

    void save_state(nlohmann::json& meta, CheckpointTensors& tensors) const override {
        add_module_state("trained", *trained_, tensors);
        meta["best_map"] = best_map_;
    }

    void load_state(const nlohmann::json& meta, const std::function<torch::Tensor(const std::string&)>& take) override {
        best_map_ = meta.at("best_map");
        load_module_state("trained", *trained_, take);
    }

    torch::optim::Optimizer& optimizer() override { return *optimizer_; }

    TrainingOutcome outcome(const RunResult& result) const {
        TrainingOutcome outcome;
        outcome.finished = result.finished;
        outcome.epoch = result.epoch;
        outcome.step = result.step;
        outcome.best_val_map_at_r = result.finished ? best_map_ : std::max(0.0, best_map_);
        outcome.checkpoint = files_.checkpoint();
        outcome.best_model = files_.best();
        if (result.finished) outcome.final_model = files_.final_model();
        return outcome;
    }

private:
    Model model_with_head() {
        const std::string source =
            "pupembed train-siamese (" + o_.loss + " loss) on " + o_.train_features + ", trunk " + train_.model;
        return with_embedding_head(base_, o_, *trained_->head, source);
    }

    const EmbeddingHeadTrainingOptions o_;
    const TrainingCallbacks& callbacks_;
    const RunFiles files_;
    const FeatureSet train_, val_;
    torch::Tensor train_x_, train_y_, val_x_, val_y_;  ///< the sets' features (N x C) and labels as tensors
    const Model base_;
    const bool proxy_;
    HeadAndProxies trained_{nullptr};
    std::unique_ptr<torch::optim::AdamW> optimizer_;
    std::vector<std::vector<int64_t>> by_class_;  ///< training samples of each class (contrastive pairs)
    double best_map_ = -1;
    EpochReport report_;
};

TrainingOutcome run(const EmbeddingHeadTrainingOptions& o, const TrainingCallbacks& callbacks, bool resume) {
    return rethrow_torch_errors("training", [&] {
        EmbeddingHeadRecipe recipe(o, callbacks);
        return recipe.outcome(run_training(recipe, o.run_dir, run_control(callbacks, o.stop_after_steps), resume));
    });
}

}  // namespace

ImageTrainingOptions end_to_end_training_options(const EmbeddingHeadTrainingOptions& t, const EndToEndOptions& f) {
    ImageTrainingOptions run;
    run.train_data = t.train_features;
    run.val_data = t.val_features;
    run.init = f.init;
    run.run_dir = t.run_dir;
    run.cache_dir = f.cache_dir;
    run.input_size = f.input_size;
    run.resize = f.resize;
    run.warmup_epochs = f.warmup_epochs;
    run.epochs = f.epochs;
    run.batch = f.batch;
    run.warmup_lr = t.lr;
    run.head_lr = f.head_lr;
    run.trunk_lr = f.trunk_lr;
    run.weight_decay = t.weight_decay;
    run.seed = t.seed;
    run.stop_after_steps = t.stop_after_steps;
    run.embedding_loss = t.loss;
    run.embedding_dim = t.embedding_dim;
    run.embedding_hidden = t.hidden;
    run.proxy_lr = t.proxy_lr;
    run.proxy_scale = t.scale;
    run.classifier_weight = f.classifier_weight;
    run.photo_augment = f.photo_augment;
    run.photo = f.photo;
    run.train_sizes = f.train_sizes;
    run.l2sp = f.l2sp;
    run.distill = f.distill;
    run.ema = f.ema;
    run.freeze_until = f.freeze_until;
    run.similarity_distill = f.similarity_distill;
    run.similarity_temperature = f.similarity_temperature;
    run.teacher = f.teacher;
    return run;
}

TrainingOutcome train_embedding_head(const EmbeddingHeadTrainingOptions& options, const TrainingCallbacks& callbacks) {
    if (options.loss != "proxy" && options.loss != "contrastive")
        throw Error("--loss", "must be proxy or contrastive, got \"" + options.loss + "\"");
    if (options.epochs < 1 || options.batch < 2 || options.embedding_dim < 2 || options.hidden < 1)
        throw Error("need at least 1 epoch, a batch of 2, an embedding of 2 and a hidden layer of 1");
    if (!(options.positive_share > 0 && options.positive_share < 1))
        throw Error("--positive-share", "must be between 0 and 1");
    EmbeddingHeadTrainingOptions stored = options;
    for (std::string* path : {&stored.train_features, &stored.val_features, &stored.run_dir})
        *path = fs::absolute(*path).lexically_normal().string();
    start_run_folder(options.run_dir, kSiameseRunFormat, kSiameseRunVersion, nlohmann::json(stored));
    return run(options, callbacks, false);
}

TrainingOutcome resume_embedding_head_training(const std::string& run_dir, const TrainingCallbacks& callbacks,
                                               int64_t stop_after_steps) {
    EmbeddingHeadTrainingOptions options;
    try {
        options = read_run_options(run_dir, kSiameseRunFormat, kSiameseRunVersion).get<EmbeddingHeadTrainingOptions>();
    } catch (const nlohmann::json::exception& e) {
        throw Error(run_dir, std::string("damaged run configuration (") + e.what() + ")");
    }
    options.run_dir = run_dir;
    options.stop_after_steps = stop_after_steps;
    if (!fs::exists(fs::path(run_dir) / "checkpoint.ckpt")) throw Error(run_dir, "has no checkpoint.ckpt to resume from");
    return run(options, callbacks, true);
}

}  // namespace pupembed
