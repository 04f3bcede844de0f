// Decode once, train many times: a dataset's images decoded, resized and centre-cropped to
// size x size, kept as one uint8 tensor on disk and reused while the images are unchanged.
#pragma once

#include <torch/types.h>

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "pupembed/io/dataset.hpp"
#include "pupembed/io/image.hpp"

namespace pupembed {

struct ImageCacheOptions {
    int size = 146;           ///< shorter side resized to this, then the centre size x size square kept
    std::string dir;          ///< where cache files live; "" means default_cache_dir()
    bool strict = false;      ///< an unreadable image is an error instead of being skipped
    ImageLoadOptions load;
    /// Called while decoding with (images done, total); may be empty.
    std::function<void(int64_t, int64_t)> on_progress;
};

struct CachedImages {
    torch::Tensor pixels;               ///< (N, size, size, 3) uint8, RGB
    torch::Tensor labels;               ///< (N) int64, indices into the dataset's class_names
    std::vector<std::string> skipped;   ///< "path: reason" for each unreadable image left out
    std::string file;                   ///< the cache file
    bool reused = false;                ///< true when read from an existing cache file
};

/// $XDG_CACHE_HOME/pupembed, else ~/.cache/pupembed, else a folder under the system temp folder.
std::string default_cache_dir();

/// Returns the dataset's images from the cache file named after a hash of every image's path,
/// label and contents and of `options.size`; builds and writes that file (atomically) when
/// there is none. So a changed, added or removed image, or another size, gives a new cache.
/// Throws Error for a damaged cache file, for an unreadable image when `strict`, or when no
/// image at all can be read.
CachedImages load_image_cache(const Dataset& dataset, const ImageCacheOptions& options);

}  // namespace pupembed
