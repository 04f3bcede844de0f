#include "train/image_training_data.hpp"

#include <torch/torch.h>

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <numeric>

#include "inference/retrieval_metrics.hpp"
#include "model/network.hpp"
#include "pupembed/core/clock.hpp"
#include "pupembed/core/error.hpp"
#include "pupembed/model/model.hpp"
#include "train/training_support.hpp"

namespace fs = std::filesystem;

namespace pupembed {

namespace {

Dataset load_checked(const std::string& path) {
    Dataset dataset = load_dataset(path);
    std::error_code error;
    if (!fs::is_directory(path, error)) check_files_exist(dataset, path);
    return dataset;
}

}  // namespace

TrainingData prepare_data(const ImageTrainingOptions& options, const TrainingCallbacks& callbacks) {
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
        if (callbacks.on_message) {
            callbacks.on_message(line);
            for (const auto& skipped : part->skipped) callbacks.on_message("skipped unreadable image " + skipped);
        }
    }
    return data;
}

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

}  // namespace pupembed
