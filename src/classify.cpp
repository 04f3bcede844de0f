#include "pupembed/classify.hpp"

#include <torch/torch.h>

#include <algorithm>

#include "pupembed/error.hpp"
#include "pupembed/model.hpp"

namespace pupembed {
namespace {

/// Loads and preprocesses `paths[begin, end)` into `chw`; returns the indices that loaded, and
/// appends "path: reason" to `failures` for the rest (or throws when `failures` is null).
std::vector<size_t> load_batch(const std::vector<std::string>& paths, size_t begin, size_t end,
                               const Preprocessing& preprocessing, const ImageLoadOptions& load,
                               std::vector<float>& chw, std::vector<std::string>* failures) {
    const size_t plane = size_t(3) * preprocessing.input_size * preprocessing.input_size;
    chw.resize((end - begin) * plane);
    std::vector<size_t> loaded;
    for (size_t i = begin; i < end; ++i) {
        try {
            preprocess(load_image(paths[i], load), preprocessing, chw.data() + loaded.size() * plane);
            loaded.push_back(i);
        } catch (const Error& e) {
            if (!failures) throw;
            failures->push_back(e.what());
        }
    }
    return loaded;
}

void check_batch_size(int batch_size) {
    if (batch_size < 1) throw Error("--batch", "must be at least 1, got " + std::to_string(batch_size));
}

}  // namespace

std::vector<Prediction> predict_classes(Model& model, const std::vector<std::string>& paths, int k,
                                        const InferenceOptions& options) {
    if (!model.network->classifier)
        throw Error("this model has no classifier, so it cannot predict classes (it gives features only)");
    if (k < 1) throw Error("-k", "must be at least 1, got " + std::to_string(k));
    check_batch_size(options.batch_size);
    const int64_t classes = static_cast<int64_t>(model.info.class_names.size());
    const int64_t top = std::min<int64_t>(k, classes);
    const int size = model.info.preprocessing.input_size;
    torch::InferenceMode inference;
    std::vector<Prediction> predictions;
    std::vector<float> chw;
    for (size_t begin = 0; begin < paths.size(); begin += options.batch_size) {
        const size_t end = std::min(paths.size(), begin + options.batch_size);
        const auto loaded = load_batch(paths, begin, end, model.info.preprocessing, options.load, chw, nullptr);
        const torch::Tensor probabilities =
            torch::softmax(model.network->logits(make_input_batch(chw, int64_t(loaded.size()), size)), 1);
        const auto [values, indices] = probabilities.topk(top, 1);
        for (size_t row = 0; row < loaded.size(); ++row) {
            Prediction prediction{paths[loaded[row]], {}};
            for (int64_t j = 0; j < top; ++j) {
                const int index = static_cast<int>(indices[row][j].item<int64_t>());
                prediction.top.push_back(
                    {index, model.info.class_ids[index], model.info.class_names[index], values[row][j].item<float>()});
            }
            predictions.push_back(std::move(prediction));
        }
        if (options.on_progress) options.on_progress(int64_t(end), int64_t(paths.size()));
    }
    return predictions;
}

std::vector<int64_t> match_classes(const Model& model, const std::vector<std::string>& class_names) {
    const ModelInfo& info = model.info;
    std::vector<int64_t> columns;
    for (const std::string& name : class_names) {
        const std::string wnid = wordnet_id(name);
        int64_t found = -1;
        for (size_t j = 0; j < info.class_ids.size() && found < 0; ++j)
            if ((!wnid.empty() && info.class_ids[j] == wnid) || info.class_ids[j] == name || info.class_names[j] == name)
                found = int64_t(j);
        if (found < 0) throw Error("dataset class \"" + name + "\"", "matches none of the model's classes");
        columns.push_back(found);
    }
    return columns;
}

ClassificationReport evaluate_classification(Model& model, const Dataset& dataset, const InferenceOptions& options) {
    if (!model.network->classifier) throw Error("this model has no classifier, so its accuracy cannot be measured");
    check_batch_size(options.batch_size);
    const torch::Tensor columns = torch::tensor(match_classes(model, dataset.class_names), torch::kInt64);
    std::vector<std::string> paths;
    for (const Sample& sample : dataset.samples) paths.push_back(sample.path);

    ClassificationReport report;
    report.classes = int64_t(dataset.class_names.size());
    const int64_t top = std::min<int64_t>(5, report.classes);
    int64_t hits1 = 0, hits5 = 0;
    torch::InferenceMode inference;
    std::vector<float> chw;
    for (size_t begin = 0; begin < paths.size(); begin += options.batch_size) {
        const size_t end = std::min(paths.size(), begin + options.batch_size);
        const auto loaded = load_batch(paths, begin, end, model.info.preprocessing, options.load, chw, &report.unreadable);
        if (!loaded.empty()) {
            const torch::Tensor scores =
                model.network->logits(make_input_batch(chw, int64_t(loaded.size()), model.info.preprocessing.input_size))
                    .index_select(1, columns);
            const torch::Tensor ranked = std::get<1>(scores.topk(top, 1));
            for (size_t row = 0; row < loaded.size(); ++row) {
                const int64_t truth = dataset.samples[loaded[row]].label;
                const auto row_ranks = ranked[int64_t(row)];
                if (row_ranks[0].item<int64_t>() == truth) ++hits1;
                if ((row_ranks == truth).any().item<bool>()) ++hits5;
            }
            report.images += int64_t(loaded.size());
        }
        if (options.on_progress) options.on_progress(int64_t(end), int64_t(paths.size()));
    }
    if (report.images > 0) {
        report.top1 = double(hits1) / double(report.images);
        report.top5 = double(hits5) / double(report.images);
    }
    return report;
}

}  // namespace pupembed
