// Training on images (train_on_images.cpp): the data, cached decoded, and the validation of a
// model on it.
#pragma once

#include "pupembed/io/dataset.hpp"
#include "pupembed/train/train_on_images.hpp"
#include "train/image_cache.hpp"

namespace pupembed {

struct Model;

struct TrainingData {
    Dataset train_set, val_set;
    CachedImages train, val;
};

/// Loads the train and val sets (val split off train when options.val_data is empty) and their
/// image caches, checking them: fewer than two classes, different classes in train and val, a
/// list naming a missing file each throw Error.
TrainingData prepare_data(const ImageTrainingOptions& options, const TrainingCallbacks& callbacks);

struct Validation {
    double top1 = 0, top5 = 0;
    double recall_at_1 = -1, map_at_r = -1;  ///< with an embedding head
};

/// Breed top-1/top-5 on the centre crops of `val` and, when the model has an embedding head,
/// Recall@1 and MAP@R of its embeddings.
Validation evaluate(Model& model, const CachedImages& val);

}  // namespace pupembed
