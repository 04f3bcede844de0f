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
    double top1 = 0, top5 = 0;  ///< breed accuracy, the model's outputs restricted to the dataset's classes
    std::string embedding;      ///< "embedding head" or "pooled trunk features"
    int64_t embedding_size = 0;
    RetrievalMetrics retrieval;
    DistanceDistributions distances;
    double seconds = 0;                   ///< wall time of the network pass (decoding included)
    std::vector<std::string> unreadable;  ///< "path: reason" of images skipped
};

/// Runs the model over every image once: breed top-1/top-5 when it has a classifier (dataset
/// classes matched as match_classes does), Recall@1/2/4/8 and MAP@R of its embeddings, and the
/// same- and different-breed cosine distance histograms. Unreadable images are skipped and listed.
EvaluationReport evaluate_model(Model& model, const Dataset& dataset, const InferenceOptions& options = {});

}  // namespace pupembed
