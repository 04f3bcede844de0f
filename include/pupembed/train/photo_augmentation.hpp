// The training augmentation that makes tight crops of one dog look like the photos people take.
#pragma once

#include <nlohmann/json.hpp>

namespace pupembed {

/// What `augment_photo` draws from. The defaults are the shipped recipe's.
struct PhotoAugmentation {
    double min_area = 0.35;      ///< random-resized crop: share of the image's area kept, at least
    double max_aspect = 4.0 / 3; ///< and its aspect ratio within [1 / max_aspect, max_aspect]
    double colour = 0.3;         ///< brightness, contrast and saturation each scaled by 1 +- colour
    double downscale_share = 0.3;  ///< share of photos shrunk, then enlarged again (less detail)
    double max_downscale = 3;      ///< by a factor up to this
    double canvas_share = 0.2;   ///< share of photos pasted small onto a canvas (the dog off-centre)
    double canvas_min = 0.45, canvas_max = 0.85;  ///< the pasted photo's side, as a share of the canvas's
    bool flip = true;            ///< mirror half of them
};

/// As JSON and back; a missing field keeps its default.
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE_WITH_DEFAULT(PhotoAugmentation, min_area, max_aspect, colour, downscale_share,
                                                max_downscale, canvas_share, canvas_min, canvas_max, flip)

}  // namespace pupembed
