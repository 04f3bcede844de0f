#include "pupembed/model/model.hpp"

#include <torch/torch.h>

#include "model/tensor_archive.hpp"
#include "model/network.hpp"
#include "model/torch_errors.hpp"
#include "pupembed/core/error.hpp"

namespace pupembed {
namespace {

const char kModelMagic[] = "PUPMODEL";

nlohmann::json to_json(const ModelInfo& info) {
    const Preprocessing& p = info.preprocessing;
    nlohmann::json meta = {{"backbone", info.backbone},
                           {"preprocessing",
                            {{"input_size", p.input_size},
                             {"resize", "shorter-side"},
                             {"resize_shorter", p.resize_shorter},
                             {"crop", "centre"},
                             {"mean", p.mean},
                             {"std", p.std},
                             {"large_input_size", p.large_input_size},
                             {"large_resize_shorter", p.large_resize_shorter}}},
                           {"classifier", info.classifier},
                           {"class_ids", info.class_ids},
                           {"class_names", info.class_names},
                           {"embedding", info.embedding},
                           {"embedding_hidden", info.embedding_hidden},
                           {"embedding_dim", info.embedding_dim},
                           {"source", info.source}};
    if (info.posterior_weight > 0)
        meta["embedding_posterior"] = {{"weight", info.posterior_weight}, {"temperature", info.posterior_temperature}};
    return meta;
}

ModelInfo info_from_json(const nlohmann::json& meta) {
    ModelInfo info;
    info.backbone = meta.at("backbone").get<std::string>();
    const auto& p = meta.at("preprocessing");
    if (p.at("resize").get<std::string>() != "shorter-side" || p.at("crop").get<std::string>() != "centre")
        throw Error("unknown resize rule " + p.at("resize").dump() + " / crop " + p.at("crop").dump());
    info.preprocessing.input_size = p.at("input_size").get<int>();
    info.preprocessing.resize_shorter = p.at("resize_shorter").get<int>();
    info.preprocessing.mean = p.at("mean").get<std::array<float, 3>>();
    info.preprocessing.std = p.at("std").get<std::array<float, 3>>();
    info.preprocessing.large_input_size = p.value("large_input_size", 0);
    info.preprocessing.large_resize_shorter = p.value("large_resize_shorter", 0);
    info.classifier = meta.at("classifier").get<std::string>();
    info.class_ids = meta.at("class_ids").get<std::vector<std::string>>();
    info.class_names = meta.at("class_names").get<std::vector<std::string>>();
    info.embedding = meta.value("embedding", "");
    info.embedding_hidden = meta.value("embedding_hidden", 512);
    info.embedding_dim = meta.value("embedding_dim", 128);
    info.source = meta.value("source", "");
    if (meta.contains("embedding_posterior")) {
        info.posterior_weight = meta.at("embedding_posterior").at("weight").get<double>();
        info.posterior_temperature = meta.at("embedding_posterior").at("temperature").get<double>();
    }
    return info;
}

void check_info(const ModelInfo& info) {
    if (info.class_ids.size() != info.class_names.size())
        throw Error("model has " + std::to_string(info.class_ids.size()) + " class ids but " +
                    std::to_string(info.class_names.size()) + " class names");
    if (!info.classifier.empty() && info.class_names.size() < 2)
        throw Error("a classifier needs at least 2 classes, got " + std::to_string(info.class_names.size()));
    if (!info.embedding.empty() && info.embedding != EmbeddingHeadImpl::kKind)
        throw Error("embedding head \"" + info.embedding + "\"", std::string("unknown (known: ") + EmbeddingHeadImpl::kKind + ")");
    if (!info.embedding.empty() && (info.embedding_dim < 2 || info.embedding_dim > 4096 || info.embedding_hidden < 1 ||
                                    info.embedding_hidden > 16384))
        throw Error("bad embedding size " + std::to_string(info.embedding_dim) + " (hidden " +
                    std::to_string(info.embedding_hidden) + ")");
    if (!(info.posterior_weight >= 0 && info.posterior_weight <= 100))
        throw Error("bad posterior weight " + std::to_string(info.posterior_weight) + " (need 0 to 100)");
    if (!(info.posterior_temperature > 0 && info.posterior_temperature <= 100))
        throw Error("bad posterior temperature " + std::to_string(info.posterior_temperature) +
                    " (need above 0, at most 100)");
    if (info.posterior_weight > 0 && (info.classifier.empty() || info.embedding.empty()))
        throw Error("a posterior in the embedding needs a classifier and an embedding head; this model has no " +
                    std::string(info.classifier.empty() ? "classifier" : "embedding head"));
    const Preprocessing& p = info.preprocessing;
    if (p.input_size < 16 || p.input_size > 1024 || p.resize_shorter < p.input_size || p.resize_shorter > 4096)
        throw Error("bad preprocessing: input size " + std::to_string(p.input_size) + ", resize " +
                    std::to_string(p.resize_shorter) + " (need 16 <= input size <= resize <= 4096)");
    if (p.large_input_size != 0 &&
        (p.large_input_size < 16 || p.large_input_size > 1024 || p.large_resize_shorter < p.large_input_size ||
         p.large_resize_shorter > 4096))
        throw Error("bad preprocessing: large input size " + std::to_string(p.large_input_size) + ", resize " +
                    std::to_string(p.large_resize_shorter) + " (need 16 <= large input size <= its resize <= 4096)");
    for (const float s : p.std)
        if (!(s > 0)) throw Error("bad preprocessing: std must be positive");
}

}  // namespace

NetworkImpl::NetworkImpl(const ModelInfo& info) {
    trunk = register_module("trunk", make_trunk(info.backbone));
    if (!info.classifier.empty()) {
        class_count = static_cast<int64_t>(info.class_names.size());
        classifier = register_module("classifier", make_classifier_head(info.classifier, trunk->out_channels(),
                                                                         class_count));
    }
    if (!info.embedding.empty())
        embedding = register_module("embedding", EmbeddingHead(trunk->out_channels(), info.embedding_hidden, info.embedding_dim));
    posterior_weight = info.posterior_weight;
    posterior_temperature = info.posterior_temperature;
}

NetworkImpl::Outputs NetworkImpl::run(const torch::Tensor& images, bool want_logits, bool want_embeddings) {
    if (want_logits && !classifier) throw Error("this model has no classifier (it gives features only)");
    const bool posterior = want_embeddings && posterior_weight > 0;
    const torch::Tensor map = trunk->forward(images);
    Outputs outputs;
    if (want_logits || posterior) outputs.logits = classifier->forward(map);
    if (want_embeddings) {
        const torch::Tensor pooled = global_average_pool(map);
        outputs.embeddings = embedding ? embedding->forward(pooled)
                                       : torch::nn::functional::normalize(
                                             pooled, torch::nn::functional::NormalizeFuncOptions().dim(1));
        if (posterior)
            outputs.embeddings = with_posterior(outputs.embeddings, outputs.logits, posterior_weight, posterior_temperature);
    }
    if (!want_logits) outputs.logits = torch::Tensor();
    return outputs;
}

int64_t NetworkImpl::embedding_size() const {
    const int64_t head = embedding ? embedding->output->options.out_features() : trunk->out_channels();
    return posterior_weight > 0 ? head + class_count : head;
}

torch::Tensor NetworkImpl::logits(const torch::Tensor& images) {
    if (!classifier) throw Error("this model has no classifier (it gives features only)");
    return classifier->forward(trunk->forward(images));
}

torch::Tensor NetworkImpl::pooled_features(const torch::Tensor& images) {
    return global_average_pool(trunk->forward(images));
}

bool Model::has_classifier() const { return network && network->classifier; }

bool Model::has_embedding_head() const { return network && !network->embedding.is_empty(); }

int64_t Model::embedding_size() const { return network->embedding_size(); }

int64_t Model::appearance_size() const { return info.posterior_weight > 0 ? info.embedding_dim : 0; }

int64_t Model::feature_channels() const { return network->trunk->out_channels(); }

int64_t Model::parameter_count() const {
    int64_t count = 0;
    for (const auto& parameter : network->parameters()) count += parameter.numel();
    return count;
}

Model create_model(const ModelInfo& info) {
    check_info(info);
    return Model{info, std::make_shared<NetworkImpl>(info)};
}

namespace {

void save_model_unguarded(const std::string& path, const Model& model, bool float16) {
    std::vector<std::pair<std::string, torch::Tensor>> tensors;
    for (const auto& item : model.network->named_parameters()) tensors.emplace_back(item.key(), item.value());
    for (const auto& item : model.network->named_buffers()) tensors.emplace_back(item.key(), item.value());
    write_tensor_archive(path, kModelMagic, format_version(model.info), to_json(model.info), tensors,
                         float16 ? StoredType::Float16 : StoredType::Float32);
}

}  // namespace

uint32_t format_version(const ModelInfo& info) {
    // Older readers would ignore what they do not know and embed differently without a word: a
    // model with the posterior in its embedding is version 3, which version-2 readers refuse, and
    // one with a large input is version 2, which version-1 readers refuse.
    if (info.posterior_weight > 0) return 3;
    return info.preprocessing.large_input_size > 0 ? 2 : 1;
}

void set_embedding_posterior(Model& model, double weight, double temperature) {
    ModelInfo info = model.info;
    info.posterior_weight = weight;
    info.posterior_temperature = temperature;
    check_info(info);
    model.info = info;
    model.network->posterior_weight = weight;
    model.network->posterior_temperature = temperature;
}

void save_model(const std::string& path, const Model& model, bool float16) {
    rethrow_torch_errors(path, [&] { save_model_unguarded(path, model, float16); });
}

namespace {

Model load_model_unguarded(const std::string& path) {
    TensorArchive archive = read_tensor_archive(path, kModelMagic, kModelFormatVersion, "pupembed model");
    Model model;
    try {
        model = create_model(info_from_json(archive.meta));
    } catch (const nlohmann::json::exception& e) {
        throw Error(path, std::string("damaged pupembed model file (bad settings: ") + e.what() + ")");
    } catch (const Error& e) {
        throw Error(path, e.what());
    }
    torch::NoGradGuard no_grad;
    auto load_into = [&](const std::string& name, torch::Tensor& target) {
        const auto found = archive.tensors.find(name);
        if (found == archive.tensors.end()) throw Error(path, "damaged pupembed model file (no weights for " + name + ")");
        if (found->second.sizes() != target.sizes())
            throw Error(path, "damaged pupembed model file (" + name + " has shape " + c10::str(found->second.sizes()) +
                                  ", the network needs " + c10::str(target.sizes()) + ")");
        target.copy_(found->second);
        archive.tensors.erase(found);
    };
    for (auto& item : model.network->named_parameters()) load_into(item.key(), item.value());
    for (auto& item : model.network->named_buffers()) load_into(item.key(), item.value());
    if (!archive.tensors.empty())
        throw Error(path, "damaged pupembed model file (unexpected weights " + archive.tensors.begin()->first + ")");
    return model;
}

}  // namespace

Model load_model(const std::string& path) {
    return rethrow_torch_errors(path, [&] { return load_model_unguarded(path); });
}

Model load_model_for_inference(const std::string& path) {
    Model model = load_model(path);
    prepare_for_inference(model);
    return model;
}

void prepare_for_inference(Model& model) {
    model.network->eval();
    to_channels_last(*model.network);
}

}  // namespace pupembed
