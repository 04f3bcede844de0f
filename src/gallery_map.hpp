// A 2-D picture of a gallery: its vectors projected on their two principal components.
#pragma once

#include <cstdint>
#include <vector>

namespace pupembed {

struct MapPoint {
    int64_t id = 0;
    float x = 0, y = 0;
};

struct GalleryMap {
    std::vector<MapPoint> points;
    int64_t total = 0;             ///< vectors in the gallery (points holds at most max_points of them)
    double explained[2] = {0, 0};  ///< share of the variance along each axis
};

/// Projects `values` (ids.size() x dimension, row after row) on their first two principal
/// components. Above `max_points` vectors an evenly spaced subset is shown (and used for the
/// components). The axes' signs are fixed so the same gallery always gives the same picture.
GalleryMap project_on_principal_plane(const std::vector<int64_t>& ids, const std::vector<float>& values,
                                      int64_t max_points);

}  // namespace pupembed
