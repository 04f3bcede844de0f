// A teacher's embeddings of the training images, for distilling a larger network's neighbourhoods
// into a smaller one (ImageTrainingOptions::teacher).
#pragma once

#include <torch/types.h>

#include <functional>
#include <string>

#include "train/image_cache.hpp"

namespace pupembed {

/// The embeddings (Network::run's: its embedding head's, else its L2-normalised pooled features)
/// by the model file `teacher` of the cached images `images` ((N, S, S, 3) RGB): each resized to
/// the teacher's resize_shorter, its centre at the teacher's input size, normalised as the
/// teacher's preprocessing says. (N, D) float. Read from `cache_file` (a .npy, with a .json beside
/// it naming the teacher's SHA-256 and the image cache) when it holds this teacher's embeddings of
/// these images, else computed (`on_message` says so) and written there atomically.
torch::Tensor teacher_embeddings(const std::string& teacher, const CachedImages& images, const std::string& cache_file,
                                 const std::function<void(const std::string&)>& on_message);

}  // namespace pupembed
