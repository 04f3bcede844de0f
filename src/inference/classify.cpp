#include "pupembed/inference/classify.hpp"

#include <algorithm>
#include <numeric>

#include "pupembed/core/error.hpp"
#include "pupembed/inference/embed.hpp"
#include "pupembed/model/model.hpp"

namespace pupembed {

std::vector<ClassScore> top_classes(const Model& model, const std::vector<float>& probabilities, int k) {
    const ModelInfo& info = model.info;
    if (probabilities.size() != info.class_names.size() && !probabilities.empty())
        throw Error("internal: " + std::to_string(probabilities.size()) + " probabilities for " +
                    std::to_string(info.class_names.size()) + " classes");
    std::vector<size_t> order(probabilities.size());
    std::iota(order.begin(), order.end(), 0);
    const size_t shown = std::min(order.size(), size_t(std::max(0, k)));
    std::partial_sort(order.begin(), order.begin() + long(shown), order.end(), [&](size_t a, size_t b) {
        return probabilities[a] > probabilities[b] || (probabilities[a] == probabilities[b] && a < b);
    });
    std::vector<ClassScore> top;
    for (size_t i = 0; i < shown; ++i) {
        const size_t c = order[i];
        top.push_back({int(c), info.class_ids[c], info.class_names[c], probabilities[c]});
    }
    return top;
}

std::vector<Prediction> predict_classes(Model& model, const std::vector<std::string>& paths, int k,
                                        const InferenceOptions& options) {
    if (!model.has_classifier())
        throw Error("this model has no classifier, so it cannot predict classes (it gives features only)");
    if (k < 1) throw Error("-k", "must be at least 1, got " + std::to_string(k));
    std::vector<Prediction> predictions;
    for_each_embedded_batch(model, paths, options, false, true, [&](const EmbeddedBatch& batch) {
        for (size_t row = 0; row < batch.indices.size(); ++row)
            predictions.push_back({paths[batch.indices[row]], top_classes(model, batch.probabilities.row_vector(int64_t(row)), k)});
    });
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
        columns.push_back(found);
    }
    return columns;
}

}  // namespace pupembed
