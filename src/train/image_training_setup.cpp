#include "train/image_training_setup.hpp"

#include "model/network.hpp"
#include "pupembed/core/error.hpp"
#include "train/training_run.hpp"

namespace pupembed {

const char* command_name(const ImageTrainingOptions& options) {
    return options.embedding_loss.empty() ? "pupembed train-classifier" : "pupembed train-siamese --finetune-trunk";
}

namespace {

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

}  // namespace

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

Model make_model(const ImageTrainingOptions& options, const std::vector<std::string>& class_names, bool resuming) {
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

const char* phase_name(Phase phase) { return phase == Phase::Warmup ? "warmup" : "finetune"; }

namespace {

/// The parameter groups a phase trains, with their base learning rates: the trunk (not while
/// warming up), the classifier, and with an embedding loss the embedding head and the proxies.
std::vector<std::pair<std::vector<torch::Tensor>, double>> trained_groups(Model& model, const torch::Tensor& proxies,
                                                                         Phase phase, const ImageTrainingOptions& o) {
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

}  // namespace

std::unique_ptr<torch::optim::AdamW> make_optimizer(Model& model, const torch::Tensor& proxies, Phase phase,
                                                    const ImageTrainingOptions& o) {
    using torch::optim::AdamWOptions;
    std::vector<torch::optim::OptimizerParamGroup> groups;
    for (auto& [parameters, lr] : trained_groups(model, proxies, phase, o)) {
        const bool is_proxies = parameters.size() == 1 && parameters[0].is_same(proxies);
        groups.emplace_back(parameters,
                            std::make_unique<AdamWOptions>(AdamWOptions(lr).weight_decay(is_proxies ? 0 : o.weight_decay)));
    }
    return std::make_unique<torch::optim::AdamW>(std::move(groups), AdamWOptions(o.head_lr).weight_decay(o.weight_decay));
}

void set_learning_rates(torch::optim::AdamW& optimizer, Model& model, const torch::Tensor& proxies, Phase phase,
                        const ImageTrainingOptions& o, int64_t finetune_step, int64_t finetune_steps) {
    const double factor = phase == Phase::Finetune ? cosine_factor(finetune_step, finetune_steps) : 1.0;
    auto& groups = optimizer.param_groups();
    const auto rates = trained_groups(model, proxies, phase, o);
    for (size_t g = 0; g < groups.size(); ++g)
        static_cast<torch::optim::AdamWOptions&>(groups[g].options()).lr(rates[g].second * factor);
}

void check_options(const ImageTrainingOptions& o) {
    if (o.input_size < 16 || o.input_size > o.resize)
        throw Error("--input-size", "must be at least 16 and at most --resize (" + std::to_string(o.resize) + ")");
    if (o.batch < 2) throw Error("--batch", "must be at least 2 (batch normalisation)");
    if (o.warmup_epochs < 0 || o.epochs < 0 || o.warmup_epochs + o.epochs < 1)
        throw Error("--epochs", "needs at least one epoch in all");
    if (o.init.empty()) throw Error("--init", "give a model file, or \"none\" to train from scratch");
    if (!o.embedding_loss.empty() && o.embedding_loss != "proxy")
        throw Error("embedding loss \"" + o.embedding_loss + "\"", "unknown (training on images supports proxy)");
    if ((o.l2sp > 0 || o.distill > 0 || (o.similarity_distill > 0 && o.teacher.empty())) && o.init == "none")
        throw Error("--l2sp, --distill and --distill-similarity (without --teacher)",
                    "need --init: they hold the model near its starting weights");
    if (o.l2sp < 0 || o.distill < 0 || o.similarity_distill < 0 || o.ema < 0 || o.ema >= 1)
        throw Error("--l2sp, --distill and --distill-similarity must be at least 0 and --ema in [0, 1)");
    if (!o.teacher.empty() && !(o.similarity_distill > 0))
        throw Error("--teacher", "needs --distill-similarity: the teacher's neighbourhoods are what is distilled");
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

}  // namespace pupembed
