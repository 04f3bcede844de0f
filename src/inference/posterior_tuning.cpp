#include "pupembed/inference/posterior_tuning.hpp"

#include <torch/torch.h>

#include <cmath>
#include <string>

#include "inference/retrieval_metrics.hpp"
#include "model/network.hpp"
#include "model/torch_errors.hpp"
#include "pupembed/core/error.hpp"
#include "pupembed/inference/classify.hpp"
#include "pupembed/inference/embed.hpp"
#include "pupembed/io/dataset.hpp"
#include "pupembed/model/model.hpp"

namespace pupembed {
namespace {

/// Puts a model's posterior setting back when it goes.
class RestorePosterior {
public:
    explicit RestorePosterior(Model& model)
        : model_(model), weight_(model.info.posterior_weight), temperature_(model.info.posterior_temperature) {}
    ~RestorePosterior() { set_embedding_posterior(model_, weight_, temperature_); }
    RestorePosterior(const RestorePosterior&) = delete;
    RestorePosterior& operator=(const RestorePosterior&) = delete;

private:
    Model& model_;
    double weight_, temperature_;
};

/// Mean negative log-likelihood of `truth` under softmax(log_probabilities / temperature).
double negative_log_likelihood(const torch::Tensor& log_probabilities, const torch::Tensor& truth, double temperature) {
    return -(log_probabilities / temperature).log_softmax(1).gather(1, truth.unsqueeze(1)).mean().item<double>();
}

PosteriorTuning tune_unguarded(Model& model, const Dataset& photos, const InferenceOptions& options,
                               const std::vector<double>& weights) {
    if (!model.has_classifier() || !model.has_embedding_head())
        throw Error(std::string("tuning the posterior in the embedding needs a classifier and an embedding head; this "
                                "model has no ") +
                    (model.has_classifier() ? "embedding head" : "classifier"));
    if (weights.empty()) throw Error("no posterior weights to try");
    for (const double weight : weights)
        if (!(weight >= 0 && weight <= 100)) throw Error("bad posterior weight " + std::to_string(weight) + " (need 0 to 100)");

    // The head's embeddings and the posterior at temperature 1, from one pass over the photos.
    const std::vector<int64_t> matched = match_classes(model, photos.class_names);
    std::vector<std::string> paths;
    for (const Sample& sample : photos.samples) paths.push_back(sample.path);
    std::vector<float> embeddings, probabilities;
    std::vector<int64_t> labels;
    int64_t head_size = 0, classes = 0;
    {
        RestorePosterior restore(model);
        set_embedding_posterior(model, 0, 1);
        for_each_embedded_batch(model, paths, options, true, true, [&](const EmbeddedBatch& batch) {
            head_size = batch.embeddings.columns;
            classes = batch.probabilities.columns;
            embeddings.insert(embeddings.end(), batch.embeddings.values.begin(), batch.embeddings.values.end());
            probabilities.insert(probabilities.end(), batch.probabilities.values.begin(), batch.probabilities.values.end());
            for (const size_t i : batch.indices) labels.push_back(photos.samples[i].label);
        });
    }
    PosteriorTuning tuning;
    tuning.images = int64_t(labels.size());
    if (tuning.images == 0) throw Error("none of the " + std::to_string(paths.size()) + " photos could be read");
    const torch::Tensor head = torch::from_blob(embeddings.data(), {tuning.images, head_size});
    // Logits up to a constant per photo, which the softmax ignores.
    const torch::Tensor log_p = torch::from_blob(probabilities.data(), {tuning.images, classes}).clamp_min(1e-30).log();
    const torch::Tensor label_tensor = torch::tensor(labels, torch::kInt64);

    // Calibration: the photos of breeds the model has, with their breed's column.
    std::vector<int64_t> rows, truth;
    for (int64_t i = 0; i < tuning.images; ++i) {
        const int64_t column = matched[size_t(labels[size_t(i)])];
        if (column < 0) continue;
        rows.push_back(i);
        truth.push_back(column);
    }
    tuning.classified_images = int64_t(rows.size());
    if (rows.empty()) throw Error("none of the photos' breeds is one of the model's classes: nothing to calibrate on");
    const torch::Tensor calibration = log_p.index_select(0, torch::tensor(rows, torch::kInt64));
    const torch::Tensor truth_tensor = torch::tensor(truth, torch::kInt64);
    // The negative log-likelihood is convex in 1/T: a fine grid of T (1% steps from 0.05 to 20)
    // finds its minimum to within a step.
    tuning.log_likelihood_at_1 = negative_log_likelihood(calibration, truth_tensor, 1);
    tuning.log_likelihood = tuning.log_likelihood_at_1;
    for (double t = 0.05; t <= 20; t *= 1.01) {
        const double nll = negative_log_likelihood(calibration, truth_tensor, t);
        if (nll < tuning.log_likelihood) {
            tuning.log_likelihood = nll;
            tuning.temperature = t;
        }
    }

    for (const double weight : weights) {
        const torch::Tensor both = weight > 0 ? with_posterior(head, log_p, weight, tuning.temperature) : head;
        const RetrievalMetrics metrics = retrieval_metrics(both, label_tensor, {1});
        tuning.tried.push_back({weight, metrics.recall_at.at(0), metrics.map_at_r});
        if (tuning.tried.size() == 1 || tuning.tried.back().recall_at_1 > tuning.chosen.recall_at_1)
            tuning.chosen = tuning.tried.back();
    }
    return tuning;
}

}  // namespace

PosteriorTuning tune_embedding_posterior(Model& model, const Dataset& photos, const InferenceOptions& options,
                                         const std::vector<double>& weights) {
    return rethrow_torch_errors("tuning the posterior", [&] { return tune_unguarded(model, photos, options, weights); });
}

}  // namespace pupembed
