// Growing a gallery from photo files: new photos are embedded and added, changed ones (another
// SHA-256) re-embedded, unchanged ones skipped; photos whose file is gone can be pruned.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "pupembed/gallery/gallery.hpp"
#include "pupembed/gallery/gallery_model.hpp"
#include "pupembed/inference/embedder.hpp"

namespace pupembed {

struct IngestOptions {
    /// Re-embed every photo, the gallery's too; needed to switch a gallery to another model.
    bool reembed = false;
    /// An unreadable photo is listed in the report's failures; without this it is an Error.
    bool skip_bad = true;
};

struct IngestReport {
    int64_t added = 0, updated = 0, unchanged = 0;
    std::vector<std::string> failures;  ///< "path: reason"
    int64_t embedded = 0;               ///< photos run through the network
    double embed_seconds = 0;           ///< wall time of decoding, the network and the writes
    double seconds = 0;                 ///< all of it, hashing included
    std::vector<std::string> warnings;  ///< the gallery's (Gallery::take_warnings), e.g. two input settings mixed
};

/// Adds the photos `paths` to `gallery`, embedded by `embedder` (whose model `identity` names),
/// one transaction per batch, so a run that is killed keeps every batch committed before. A photo
/// another process committed meanwhile is skipped as its file is read; while another process adds
/// to the same gallery (its lock on GALLERY.adding), the photos are taken from the end, so that
/// the two runs meet in the middle. Throws Error when the gallery was built with another model
/// and `reembed` is not set, or cannot be written (Gallery::check_writable).
IngestReport add_to_gallery(Gallery& gallery, Embedder& embedder, const GalleryModel& identity,
                              const std::vector<std::string>& paths, const IngestOptions& options);

/// Removes the images whose file no longer exists and returns them.
std::vector<GalleryImage> prune_gallery(Gallery& gallery);

}  // namespace pupembed
