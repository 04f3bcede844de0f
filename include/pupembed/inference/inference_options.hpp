// How a model runs over many photos: batch size, decoding limits, progress.
#pragma once

#include <cstdint>
#include <functional>

#include "pupembed/io/image.hpp"

namespace pupembed {

/// Settings for running a model over many images.
struct InferenceOptions {
    int batch_size = 64;
    ImageLoadOptions load;
    /// Called after each batch with (images done, total); may be empty.
    std::function<void(int64_t, int64_t)> on_progress;
};

}  // namespace pupembed
