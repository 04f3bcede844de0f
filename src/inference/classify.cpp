#include "pupembed/inference/classify.hpp"

#include <torch/torch.h>

#include <algorithm>

#include "inference/batch_loader.hpp"
#include "pupembed/core/error.hpp"
#include "pupembed/model/model.hpp"

namespace pupembed {

std::vector<Prediction> predict_classes(Model& model, const std::vector<std::string>& paths, int k,
                                        const InferenceOptions& options) {
    if (!model.network->classifier)
        throw Error("this model has no classifier, so it cannot predict classes (it gives features only)");
    if (k < 1) throw Error("-k", "must be at least 1, got " + std::to_string(k));
    const int64_t top = std::min<int64_t>(k, int64_t(model.info.class_names.size()));
    torch::InferenceMode inference;
    std::vector<Prediction> predictions;
    BatchLoader loader(paths, model.info.preprocessing, options.load, options.batch_size, false);
    LoadedBatch batch;
    size_t done = 0;
    while (loader.next(batch, done)) {
        const torch::Tensor probabilities = torch::softmax(model.network->logits(batch.input), 1);
        const auto [values, indices] = probabilities.topk(top, 1);
        for (size_t row = 0; row < batch.indices.size(); ++row) {
            Prediction prediction{paths[batch.indices[row]], {}};
            for (int64_t j = 0; j < top; ++j) {
                const int index = static_cast<int>(indices[int64_t(row)][j].item<int64_t>());
                prediction.top.push_back({index, model.info.class_ids[size_t(index)], model.info.class_names[size_t(index)],
                                          values[int64_t(row)][j].item<float>()});
            }
            predictions.push_back(std::move(prediction));
        }
        if (options.on_progress) options.on_progress(int64_t(done), int64_t(paths.size()));
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

}  // namespace pupembed
