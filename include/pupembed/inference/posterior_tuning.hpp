// Choosing how much of the breed posterior an embedding carries (ModelInfo::posterior_weight) on
// labelled photos: the temperature that calibrates the classifier, then the weight that gives the
// best Recall@1.
#pragma once

#include <vector>

#include "pupembed/inference/inference_options.hpp"

namespace pupembed {

struct Model;
struct Dataset;

/// One weight tried: the retrieval figures of its embeddings.
struct PosteriorWeightResult {
    double weight = 0;  ///< 0: the embedding head alone
    double recall_at_1 = 0;
    double map_at_r = 0;
};

struct PosteriorTuning {
    double temperature = 1;          ///< the one of least negative log-likelihood on the photos
    double log_likelihood_at_1 = 0;  ///< mean negative log-likelihood of the true breed at temperature 1
    double log_likelihood = 0;       ///< the same at `temperature`
    int64_t images = 0;              ///< photos embedded
    int64_t classified_images = 0;   ///< of those, photos of breeds the model has (the calibration's)
    std::vector<PosteriorWeightResult> tried;  ///< each weight at `temperature`, in the order given
    PosteriorWeightResult chosen;    ///< the best Recall@1 (the first given, of equals)
};

/// Runs `model` (which needs a classifier and an embedding head) once over `photos` and chooses
/// its posterior's setting: the temperature in [0.05, 20] minimising the mean negative
/// log-likelihood of the true breed over the photos of breeds the model has (calibration, as
/// temperature scaling does), then among `weights` (each in [0, 100]) the one whose embeddings
/// give the highest Recall@1 over all photos. The model's own setting is left as it was. Throws
/// Error for a model without both heads, no photo of a breed it has, or a bad weight.
PosteriorTuning tune_embedding_posterior(Model& model, const Dataset& photos, const InferenceOptions& options,
                                         const std::vector<double>& weights);

}  // namespace pupembed
