// What a model is worth on a labelled dataset: breed accuracy, retrieval quality, distances.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "pupembed/inference/classify.hpp"
#include "pupembed/inference/metrics.hpp"
#include "pupembed/io/dataset.hpp"

namespace pupembed {

struct Model;

struct EvaluationReport {
    int64_t images = 0;   ///< images scored
    int64_t classes = 0;  ///< dataset classes
    bool has_classifier = false;
    /// Breed accuracy over the images of the classes the model has (classified_images), its
    /// outputs restricted to those classes. Scored only when classified_images > 0.
    double top1 = 0, top5 = 0;
    int64_t classified_images = 0;
    std::vector<std::string> unmatched_classes;  ///< dataset classes the model's classifier lacks
    bool breeds_scored() const { return has_classifier && classified_images > 0; }
    std::string embedding;      ///< "embedding head" (maybe "and breed posterior") or "pooled trunk features"
    int64_t embedding_size = 0;
    RetrievalMetrics retrieval;
    DistanceDistributions distances;
    double seconds = 0;                   ///< wall time of the network pass (decoding included)
    std::vector<std::string> unreadable;  ///< "path: reason" of images skipped
};

/// Runs the model over every image once: Recall@1/2/4/8 and MAP@R of its embeddings, the same-
/// and different-breed cosine distance histograms and, when it has a classifier, breed top-1/top-5
/// over the images of the dataset classes it has (matched as match_classes does; the others are
/// listed in unmatched_classes). Any labelled folder works. Unreadable images are skipped and listed.
EvaluationReport evaluate_model(Model& model, const Dataset& dataset, const InferenceOptions& options = {});

}  // namespace pupembed
