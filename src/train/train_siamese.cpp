#include "pupembed/train/train_siamese.hpp"

#include <torch/torch.h>

#include <chrono>
#include <cmath>
#include <filesystem>
#include <numeric>
#include <random>

#include "core/random.hpp"
#include "io/tensor_archive.hpp"
#include "model/torch_errors.hpp"
#include "pupembed/core/error.hpp"
#include "pupembed/io/npy.hpp"
#include "pupembed/inference/metrics.hpp"
#include "model/network.hpp"
#include "pupembed/model/model.hpp"
#include "pupembed/train/features.hpp"
#include "train/losses.hpp"
#include "train/training_support.hpp"

namespace fs = std::filesystem;

namespace pupembed {
namespace {

const char kConfigFormat[] = "pupembed-train-siamese";
constexpr int kConfigVersion = 1;
const char kCheckpointMagic[] = "PUPCHKPT";
constexpr uint32_t kCheckpointVersion = 1;
using Clock = std::chrono::steady_clock;

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

struct State {
    int epoch = 0;
    int64_t step_in_epoch = 0, global_step = 0;
    std::vector<int64_t> order;
    std::mt19937_64 rng;
    double loss_sum = 0;
    int64_t seen = 0;
    double best_map = -1;
};

struct Files {
    fs::path dir;
    std::string checkpoint() const { return (dir / "checkpoint.ckpt").string(); }
    std::string metrics() const { return (dir / "metrics.jsonl").string(); }
    std::string best() const { return (dir / "best.pt").string(); }
    std::string final_model() const { return (dir / "final.pt").string(); }
};

/// `base` (trunk, classifier) with `head` as its embedding head.
Model with_embedding_head(const Model& base, const SiameseTrainingOptions& o, EmbeddingHeadImpl& head,
                          const std::string& source) {
    ModelInfo info = base.info;
    info.embedding = EmbeddingHeadImpl::kKind;
    info.embedding_hidden = o.hidden;
    info.embedding_dim = o.embedding_dim;
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

void save_checkpoint(const Files& files, HeadAndProxies& trained, const torch::optim::AdamW& optimizer, const State& s) {
    std::vector<std::pair<std::string, torch::Tensor>> tensors;
    for (const auto& item : trained->named_parameters()) tensors.emplace_back("trained." + item.key(), item.value());
    for (const auto& item : trained->named_buffers()) tensors.emplace_back("trained." + item.key(), item.value());
    tensors.emplace_back("order", torch::tensor(s.order, torch::kInt64));
    tensors.emplace_back("torch_rng", torch_rng_state());
    tensors.emplace_back("optimizer", optimizer_state(optimizer));
    write_tensor_archive(files.checkpoint(), kCheckpointMagic, kCheckpointVersion,
                         {{"epoch", s.epoch},
                          {"step_in_epoch", s.step_in_epoch},
                          {"global_step", s.global_step},
                          {"rng", rng_text(s.rng)},
                          {"loss_sum", s.loss_sum},
                          {"seen", s.seen},
                          {"best_map", s.best_map}},
                         tensors);
}

void load_checkpoint(const Files& files, HeadAndProxies& trained, torch::optim::AdamW& optimizer, State& s) {
    const std::string path = files.checkpoint();
    TensorArchive archive = read_tensor_archive(path, kCheckpointMagic, kCheckpointVersion, "pupembed checkpoint");
    auto take = [&](const std::string& name) {
        const auto found = archive.tensors.find(name);
        if (found == archive.tensors.end()) throw Error(path, "damaged checkpoint (no " + name + ")");
        return found->second;
    };
    try {
        s.epoch = archive.meta.at("epoch");
        s.step_in_epoch = archive.meta.at("step_in_epoch");
        s.global_step = archive.meta.at("global_step");
        set_rng_from_text(s.rng, archive.meta.at("rng").get<std::string>());
        s.loss_sum = archive.meta.at("loss_sum");
        s.seen = archive.meta.at("seen");
        s.best_map = archive.meta.at("best_map");
    } catch (const nlohmann::json::exception& e) {
        throw Error(path, std::string("damaged checkpoint (") + e.what() + ")");
    }
    torch::NoGradGuard no_grad;
    for (auto& item : trained->named_parameters()) item.value().copy_(take("trained." + item.key()));
    for (auto& item : trained->named_buffers()) item.value().copy_(take("trained." + item.key()));
    const torch::Tensor order = take("order");
    s.order.assign(order.data_ptr<int64_t>(), order.data_ptr<int64_t>() + order.numel());
    set_torch_rng_state(take("torch_rng"));
    load_optimizer_state(optimizer, take("optimizer"));
}

SiameseOutcome run_unguarded(const SiameseTrainingOptions& o, const SiameseCallbacks& callbacks, bool resume) {
    const Files files{o.run_dir};
    const FeatureSet train = read_feature_set(o.train_features);
    const FeatureSet val = read_feature_set(o.val_features);
    if (train.class_names != val.class_names)
        throw Error("train and val features have different classes (" + std::to_string(train.class_names.size()) +
                    " and " + std::to_string(val.class_names.size()) + ")");
    if (train.features.size(1) != val.features.size(1))
        throw Error("train and val features differ in size (" + std::to_string(train.features.size(1)) + " and " +
                    std::to_string(val.features.size(1)) + ")");
    if (train.model.empty()) throw Error(row_table_path(o.train_features), "does not name the model that made it");
    const Model base = load_model(train.model);
    const std::string trunk_output = base.network->trunk->layer_names().back();
    for (const FeatureSet* set : {&train, &val})
        if (!set->layer.empty() && set->layer != trunk_output)
            throw Error(set == &train ? o.train_features : o.val_features,
                        "holds " + set->layer + " features; the embedding head of a model file takes the trunk's output (" +
                            trunk_output + ")");
    if (base.network->trunk->out_channels() != train.features.size(1))
        throw Error(o.train_features, "features are " + std::to_string(train.features.size(1)) + "-d, the trunk of " +
                                          train.model + " gives " + std::to_string(base.network->trunk->out_channels()));
    if (callbacks.on_message)
        callbacks.on_message("train: " + std::to_string(train.features.size(0)) + " vectors, val: " +
                             std::to_string(val.features.size(0)) + ", " + std::to_string(train.class_names.size()) +
                             " classes; trunk from " + train.model);

    const bool proxy = o.loss == "proxy";
    torch::manual_seed(o.seed);
    HeadAndProxies trained(train.features.size(1), o.hidden, o.embedding_dim, int64_t(train.class_names.size()), proxy);
    std::vector<torch::optim::OptimizerParamGroup> groups;
    using torch::optim::AdamWOptions;
    groups.emplace_back(trained->head->parameters(), std::make_unique<AdamWOptions>(AdamWOptions(o.lr).weight_decay(o.weight_decay)));
    if (proxy)
        groups.emplace_back(std::vector<torch::Tensor>{trained->proxies},
                            std::make_unique<AdamWOptions>(AdamWOptions(o.proxy_lr).weight_decay(0)));
    torch::optim::AdamW optimizer(std::move(groups), AdamWOptions(o.lr));

    State s;
    if (resume) {
        load_checkpoint(files, trained, optimizer, s);
    } else {
        s.rng.seed(o.seed);
    }
    const int64_t count = train.features.size(0);
    const int64_t batch = std::min<int64_t>(o.batch, count);
    const int64_t steps_per_epoch = std::max<int64_t>(1, count / batch);
    const int64_t total_steps = steps_per_epoch * o.epochs;
    const int64_t* labels = train.labels.data_ptr<int64_t>();
    std::vector<std::vector<int64_t>> by_class(train.class_names.size());
    for (int64_t i = 0; i < count; ++i) by_class[size_t(labels[i])].push_back(i);

    SiameseOutcome outcome;
    outcome.checkpoint = files.checkpoint();
    outcome.best_model = files.best();
    const auto run_start = Clock::now();
    const int64_t steps_at_start = s.global_step;
    while (s.epoch < o.epochs) {
        if (s.step_in_epoch == 0) {
            s.order.resize(size_t(count));
            std::iota(s.order.begin(), s.order.end(), 0);
            shuffle_portably(s.order, s.rng);
            s.loss_sum = 0;
            s.seen = 0;
        }
        trained->train();
        const auto epoch_start = Clock::now();
        for (int64_t step = s.step_in_epoch; step < steps_per_epoch; ++step) {
            const double t = double(s.global_step) / double(std::max<int64_t>(1, total_steps));
            const double factor = 0.5 * (1.0 + std::cos(M_PI * t));
            auto& param_groups = optimizer.param_groups();
            static_cast<AdamWOptions&>(param_groups[0].options()).lr(o.lr * factor);
            if (proxy) static_cast<AdamWOptions&>(param_groups[1].options()).lr(o.proxy_lr * factor);

            const torch::Tensor anchors = torch::from_blob(s.order.data() + step * batch, {batch}, torch::kInt64).clone();
            torch::Tensor loss;
            if (proxy) {
                const torch::Tensor e = trained->head->forward(train.features.index_select(0, anchors));
                loss = proxy_softmax_loss(e, trained->proxies, train.labels.index_select(0, anchors), o.scale);
            } else {
                std::vector<int64_t> partners, same;
                for (int64_t i = 0; i < batch; ++i) {
                    const int64_t a = s.order[size_t(step * batch + i)];
                    const auto& mates = by_class[size_t(labels[a])];
                    const bool positive = mates.size() > 1 && double(uniform_below(s.rng, 1000000)) < o.positive_share * 1e6;
                    int64_t b = a;
                    if (positive) {
                        while (b == a) b = mates[uniform_below(s.rng, mates.size())];
                    } else {
                        do b = int64_t(uniform_below(s.rng, uint64_t(count)));
                        while (labels[b] == labels[a]);
                    }
                    partners.push_back(b);
                    same.push_back(positive ? 1 : 0);
                }
                const torch::Tensor both = trained->head->forward(
                    train.features.index_select(0, torch::cat({anchors, torch::tensor(partners, torch::kInt64)})));
                loss = contrastive_loss(both.narrow(0, 0, batch), both.narrow(0, batch, batch),
                                        torch::tensor(same, torch::kInt64), o.margin);
            }
            optimizer.zero_grad();
            loss.backward();
            optimizer.step();
            const double value = loss.item<double>();
            if (!std::isfinite(value)) throw Error("training diverged (loss " + std::to_string(value) + "); try a lower --lr");
            s.loss_sum += value * double(batch);
            s.seen += batch;
            s.global_step += 1;
            s.step_in_epoch = step + 1;
            if (callbacks.on_step) {
                StepReport r;
                r.phase = o.loss;
                r.epoch = s.epoch + 1;
                r.epochs = o.epochs;
                r.step = step + 1;
                r.steps = steps_per_epoch;
                r.loss = s.loss_sum / double(s.seen);
                const double elapsed = std::chrono::duration<double>(Clock::now() - run_start).count();
                r.images_per_second = double((s.global_step - steps_at_start) * batch) / std::max(elapsed, 1e-9);
                r.eta_seconds = elapsed / double(s.global_step - steps_at_start) * double(total_steps - s.global_step);
                r.phase_eta_seconds = r.eta_seconds;
                callbacks.on_step(r);
            }
            const bool asked = callbacks.stop_requested && callbacks.stop_requested->load();
            const bool limit = o.stop_after_steps > 0 && s.global_step >= o.stop_after_steps;
            if ((asked || limit) && s.global_step < total_steps) {
                save_checkpoint(files, trained, optimizer, s);
                outcome.epoch = s.epoch;
                outcome.step = s.global_step;
                outcome.best_map_at_r = std::max(0.0, s.best_map);
                return outcome;
            }
        }
        trained->eval();
        RetrievalMetrics metrics;
        {
            torch::NoGradGuard no_grad;
            metrics = retrieval_metrics(trained->head->forward(val.features), val.labels, {1});
        }
        SiameseEpochReport report;
        report.epoch = s.epoch + 1;
        report.epochs = o.epochs;
        report.train_loss = s.loss_sum / double(std::max<int64_t>(1, s.seen));
        report.val_recall_at_1 = metrics.recall_at[0];
        report.val_map_at_r = metrics.map_at_r;
        report.seconds = std::chrono::duration<double>(Clock::now() - epoch_start).count();
        s.epoch += 1;
        s.step_in_epoch = 0;
        const std::string source = "pupembed train-siamese (" + o.loss + " loss) on " + o.train_features + ", trunk " +
                                   train.model;
        if (metrics.map_at_r > s.best_map) {
            s.best_map = metrics.map_at_r;
            report.best = true;
            save_model(files.best(), with_embedding_head(base, o, *trained->head, source));
        }
        save_checkpoint(files, trained, optimizer, s);
        append_metrics_line(files.metrics(), "train-siamese",
                            {{"event", "epoch"}, {"epoch", report.epoch}, {"epochs", report.epochs},
                             {"step", s.global_step}, {"train_loss", report.train_loss},
                             {"val_recall_at_1", report.val_recall_at_1}, {"val_map_at_r", report.val_map_at_r},
                             {"seconds", report.seconds}, {"best", report.best}});
        if (callbacks.on_epoch) callbacks.on_epoch(report);
        if (s.epoch == o.epochs)
            save_model(files.final_model(), with_embedding_head(base, o, *trained->head, source));
    }
    outcome.finished = true;
    outcome.epoch = s.epoch;
    outcome.step = s.global_step;
    outcome.best_map_at_r = s.best_map;
    outcome.final_model = files.final_model();
    return outcome;
}

SiameseOutcome run(const SiameseTrainingOptions& o, const SiameseCallbacks& callbacks, bool resume) {
    return rethrow_torch_errors("training", [&] { return run_unguarded(o, callbacks, resume); });
}

}  // namespace

nlohmann::json SiameseTrainingOptions::to_json() const {
    return {{"train_features", train_features}, {"val_features", val_features}, {"run_dir", run_dir},
            {"loss", loss}, {"embedding_dim", embedding_dim}, {"hidden", hidden}, {"epochs", epochs},
            {"batch", batch}, {"lr", lr}, {"proxy_lr", proxy_lr}, {"weight_decay", weight_decay},
            {"margin", margin}, {"positive_share", positive_share}, {"scale", scale}, {"seed", seed},
            {"stop_after_steps", stop_after_steps}};
}

SiameseTrainingOptions SiameseTrainingOptions::from_json(const nlohmann::json& j) {
    SiameseTrainingOptions o;
    o.train_features = j.at("train_features");
    o.val_features = j.at("val_features");
    o.run_dir = j.at("run_dir");
    o.loss = j.at("loss");
    o.embedding_dim = j.at("embedding_dim");
    o.hidden = j.at("hidden");
    o.epochs = j.at("epochs");
    o.batch = j.at("batch");
    o.lr = j.at("lr");
    o.proxy_lr = j.at("proxy_lr");
    o.weight_decay = j.at("weight_decay");
    o.margin = j.at("margin");
    o.positive_share = j.at("positive_share");
    o.scale = j.at("scale");
    o.seed = j.at("seed");
    o.stop_after_steps = j.at("stop_after_steps");
    return o;
}

SiameseOutcome train_siamese(const SiameseTrainingOptions& options, const SiameseCallbacks& callbacks) {
    if (options.loss != "proxy" && options.loss != "contrastive")
        throw Error("--loss", "must be proxy or contrastive, got \"" + options.loss + "\"");
    if (options.epochs < 1 || options.batch < 2 || options.embedding_dim < 2 || options.hidden < 1)
        throw Error("need at least 1 epoch, a batch of 2, an embedding of 2 and a hidden layer of 1");
    if (!(options.positive_share > 0 && options.positive_share < 1))
        throw Error("--positive-share", "must be between 0 and 1");
    SiameseTrainingOptions stored = options;
    for (std::string* path : {&stored.train_features, &stored.val_features, &stored.run_dir})
        *path = fs::absolute(*path).lexically_normal().string();
    start_run_folder(options.run_dir, kConfigFormat, kConfigVersion, stored.to_json());
    return run(options, callbacks, false);
}

SiameseOutcome resume_siamese_training(const std::string& run_dir, const SiameseCallbacks& callbacks,
                                       int64_t stop_after_steps) {
    SiameseTrainingOptions options;
    try {
        options = SiameseTrainingOptions::from_json(read_run_options(run_dir, kConfigFormat, kConfigVersion));
    } catch (const nlohmann::json::exception& e) {
        throw Error(run_dir, std::string("damaged run configuration (") + e.what() + ")");
    }
    options.run_dir = run_dir;
    options.stop_after_steps = stop_after_steps;
    if (!fs::exists(fs::path(run_dir) / "checkpoint.ckpt")) throw Error(run_dir, "has no checkpoint.ckpt to resume from");
    return run(options, callbacks, true);
}

}  // namespace pupembed
