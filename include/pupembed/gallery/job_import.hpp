// Loading a job folder's shards (inference/embedding_job.hpp), embedded on any number of machines,
// into a gallery without running the network.
#pragma once

#include <cstdint>
#include <functional>
#include <string>

#include "pupembed/gallery/gallery.hpp"

namespace pupembed {

struct JobImportReport {
    int64_t shards = 0;          ///< finished shards imported
    int64_t missing_shards = 0;  ///< shards not finished yet (not imported)
    int64_t rows = 0;            ///< photos read from the shards
    int64_t added = 0, updated = 0, unchanged = 0;
    double seconds = 0;
    std::vector<std::string> warnings;  ///< the gallery's (Gallery::take_warnings), e.g. two input settings mixed
};

/// Puts the photos of every finished shard of the job in `folder` into `gallery`, one transaction
/// per shard: an import that is killed keeps the shards committed before, and a rerun leaves the
/// photos already there with the same contents (SHA-256) and model unchanged. Throws Error when the
/// gallery holds another model's vectors (require_gallery_model), cannot be written, or a shard is
/// damaged. `on_progress(shards done, shards)` after each shard.
JobImportReport import_embedding_job(Gallery& gallery, const std::string& folder,
                                     const std::function<void(int64_t, int64_t)>& on_progress = {});

}  // namespace pupembed
