#include "pupembed/inference/evaluate.hpp"

#include <torch/torch.h>

#include <chrono>

#include "model/torch_errors.hpp"
#include "inference/retrieval_metrics.hpp"
#include "pupembed/core/error.hpp"
#include "pupembed/inference/embed.hpp"
#include "pupembed/model/model.hpp"

namespace pupembed {

namespace {

EvaluationReport evaluate_unguarded(Model& model, const Dataset& dataset, const InferenceOptions& options) {
    EvaluationReport report;
    report.classes = int64_t(dataset.class_names.size());
    report.has_classifier = model.has_classifier();
    report.embedding = model.has_embedding_head() ? "embedding head" : "pooled trunk features";
    if (model.info.posterior_weight > 0) report.embedding += " and breed posterior";
    report.embedding_size = model.embedding_size();
    // The model classes scored: those of the dataset's classes it has; each dataset class's
    // position among them, or -1.
    std::vector<int64_t> scored_columns, position(dataset.class_names.size(), -1);
    if (report.has_classifier) {
        const std::vector<int64_t> matched = match_classes(model, dataset.class_names);
        for (size_t c = 0; c < matched.size(); ++c) {
            if (matched[c] < 0) {
                report.unmatched_classes.push_back(dataset.class_names[c]);
                continue;
            }
            position[c] = int64_t(scored_columns.size());
            scored_columns.push_back(matched[c]);
        }
    }
    const torch::Tensor columns = torch::tensor(scored_columns, torch::kInt64);
    std::vector<std::string> paths;
    for (const Sample& sample : dataset.samples) paths.push_back(sample.path);

    const auto start = std::chrono::steady_clock::now();
    const int64_t top = std::min<int64_t>(5, int64_t(scored_columns.size()));
    int64_t hits1 = 0, hits5 = 0;
    std::vector<float> embeddings;
    std::vector<int64_t> labels;
    for_each_embedded_batch(model, paths, options, true, report.has_classifier, [&](const EmbeddedBatch& batch) {
        for (const auto& failure : batch.failures) report.unreadable.push_back(failure);
        if (batch.indices.empty()) return;
        std::vector<int64_t> truth;
        for (const size_t i : batch.indices) truth.push_back(dataset.samples[i].label);
        if (top > 0) {
            // The images of classes the model has, ranked among those classes only.
            std::vector<int64_t> rows, scored_truth;
            for (size_t row = 0; row < truth.size(); ++row)
                if (position[size_t(truth[row])] >= 0) {
                    rows.push_back(int64_t(row));
                    scored_truth.push_back(position[size_t(truth[row])]);
                }
            const torch::Tensor probabilities = torch::from_blob(const_cast<float*>(batch.probabilities.values.data()),
                                                                 {batch.probabilities.rows, batch.probabilities.columns});
            const torch::Tensor scored = probabilities.index_select(0, torch::tensor(rows, torch::kInt64)).index_select(1, columns);
            const torch::Tensor ranked = std::get<1>(scored.topk(top, 1));
            const torch::Tensor match = ranked.eq(torch::tensor(scored_truth, torch::kInt64).unsqueeze(1));
            hits1 += match.select(1, 0).sum().item<int64_t>();
            hits5 += match.any(1).sum().item<int64_t>();
            report.classified_images += int64_t(rows.size());
        }
        embeddings.insert(embeddings.end(), batch.embeddings.values.begin(), batch.embeddings.values.end());
        labels.insert(labels.end(), truth.begin(), truth.end());
    });
    report.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    report.images = int64_t(labels.size());
    if (report.images == 0) throw Error("none of the " + std::to_string(paths.size()) + " images could be read");
    if (report.classified_images > 0) {
        report.top1 = double(hits1) / double(report.classified_images);
        report.top5 = double(hits5) / double(report.classified_images);
    }
    const torch::Tensor all = torch::from_blob(embeddings.data(), {report.images, report.embedding_size});
    const torch::Tensor label_tensor = torch::tensor(labels, torch::kInt64);
    report.retrieval = retrieval_metrics(all, label_tensor);
    report.distances = distance_distributions(all, label_tensor);
    return report;
}

}  // namespace

EvaluationReport evaluate_model(Model& model, const Dataset& dataset, const InferenceOptions& options) {
    return rethrow_torch_errors("evaluation", [&] { return evaluate_unguarded(model, dataset, options); });
}

}  // namespace pupembed
