// Breed (class) prediction with a model's classifier: the top classes of photos, and how a
// dataset's classes match the model's.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "pupembed/inference/inference_options.hpp"
#include "pupembed/io/dataset.hpp"
#include "pupembed/io/image.hpp"

namespace pupembed {

struct Model;

struct ClassScore {
    int index = 0;  ///< the model's class index
    std::string id;
    std::string name;
    float probability = 0;
};

struct Prediction {
    std::string path;
    std::vector<ClassScore> top;  ///< most probable first
};

/// The `k` most probable classes of each image (softmax over all the model's classes).
/// Throws Error if the model has no classifier, k < 1, or an image cannot be loaded.
std::vector<Prediction> predict_classes(Model& model, const std::vector<std::string>& paths, int k,
                                        const InferenceOptions& options = {});

/// The `k` most probable classes (fewer when the model has fewer) of one photo's class
/// probabilities (one per class of `model`), most probable first; ties keep class order.
/// Empty when `probabilities` is (a model without a classifier).
std::vector<ClassScore> top_classes(const Model& model, const std::vector<float>& probabilities, int k);

/// For each dataset class, the index of the matching model class: by WordNet id (the
/// `n02085620` of `n02085620-Chihuahua`) or by exact id or name; -1 for a class the model lacks.
std::vector<int64_t> match_classes(const Model& model, const std::vector<std::string>& class_names);

}  // namespace pupembed
