#include "gallery_map.hpp"

#include <torch/torch.h>

#include "pupembed/error.hpp"

namespace pupembed {

GalleryMap project_on_principal_plane(const std::vector<int64_t>& ids, const std::vector<float>& values,
                                      int64_t max_points) {
    GalleryMap map;
    const int64_t n = int64_t(ids.size());
    map.total = n;
    if (n == 0) return map;
    if (values.size() % ids.size() != 0) throw Error("internal: vectors and ids of different counts");
    const int64_t d = int64_t(values.size()) / n;
    torch::InferenceMode inference;
    torch::Tensor all = torch::from_blob(const_cast<float*>(values.data()), {n, d}, torch::kFloat32).to(torch::kFloat64);
    const int64_t shown = std::min(n, std::max<int64_t>(1, max_points));
    const torch::Tensor rows = torch::linspace(0, double(n - 1), shown, torch::kFloat64).round().to(torch::kLong);
    const torch::Tensor x = all.index_select(0, rows);
    const torch::Tensor centred = x - x.mean(0);
    torch::Tensor axes = torch::zeros({d, 2}, torch::kFloat64);
    if (shown > 1) {
        const auto [eigenvalues, eigenvectors] = torch::linalg_eigh(centred.t().mm(centred));  // ascending
        const int64_t components = std::min<int64_t>(2, d);
        for (int64_t c = 0; c < components; ++c) {
            torch::Tensor axis = eigenvectors.select(1, d - 1 - c);
            if (axis[axis.abs().argmax()].item<double>() < 0) axis = -axis;
            axes.select(1, c).copy_(axis);
        }
        const double variance = eigenvalues.sum().item<double>();
        if (variance > 0)
            for (int64_t c = 0; c < components; ++c) map.explained[c] = eigenvalues[d - 1 - c].item<double>() / variance;
    }
    const torch::Tensor plane = centred.mm(axes).to(torch::kFloat32).contiguous();
    const int64_t* row = rows.data_ptr<int64_t>();
    const float* xy = plane.data_ptr<float>();
    map.points.resize(size_t(shown));
    for (int64_t i = 0; i < shown; ++i) map.points[size_t(i)] = {ids[size_t(row[i])], xy[2 * i], xy[2 * i + 1]};
    return map;
}

}  // namespace pupembed
