// Augmentations that make the training crops (tight 64 px boxes around one dog) look more like
// the photos people take: the dog at any scale and place, other aspect ratios, other light,
// less detail. Deterministic for a random generator's state; labels are the caller's, untouched.
#pragma once

#include <torch/types.h>

#include <cstdint>
#include <random>

#include "pupembed/io/image.hpp"
#include "pupembed/train/photo_augmentation.hpp"

namespace pupembed {

/// One augmented `size` x `size` RGB photo into `out` (size * size * 3 bytes) from the `stored` x
/// `stored` RGB image `image`; `background` (another image of the same size) is what the canvas
/// is made of, blurred past recognition. Draws only from `rng`.
void augment_photo(const uint8_t* image, const uint8_t* background, int stored, int size, const PhotoAugmentation& options,
                   std::mt19937_64& rng, uint8_t* out);

/// augment_photo for the cached (N, S, S, 3) uint8 images `indices` (each one's background another
/// cached image drawn from `rng`), normalised by `preprocessing`, as an (n, 3, size, size)
/// channels_last float tensor.
torch::Tensor augmented_batch(const torch::Tensor& pixels, const int64_t* indices, int64_t count, int size,
                              const PhotoAugmentation& options, std::mt19937_64& rng, const Preprocessing& preprocessing);

}  // namespace pupembed
