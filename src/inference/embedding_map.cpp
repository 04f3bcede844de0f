#include "pupembed/inference/embedding_map.hpp"

#include <torch/torch.h>

#include <cmath>
#include <limits>
#include <map>
#include <random>
#include <unordered_map>

#include "pupembed/core/error.hpp"

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

GalleryMap umap_layout(const std::vector<int64_t>& ids, const std::vector<float>& values, int64_t max_points,
                       int neighbours, int epochs) {
    GalleryMap map = project_on_principal_plane(ids, values, max_points);
    const int64_t n = int64_t(map.points.size());
    if (n < 4) return map;  // too few for a neighbour graph: the PCA picture
    const int k = int(std::min<int64_t>(neighbours, n - 1));
    const int64_t d = int64_t(values.size()) / int64_t(ids.size());
    torch::InferenceMode inference;
    std::unordered_map<int64_t, int64_t> row_of_id;
    for (size_t i = 0; i < ids.size(); ++i) row_of_id[ids[i]] = int64_t(i);
    std::vector<int64_t> rows;
    for (const auto& point : map.points) rows.push_back(row_of_id.at(point.id));
    const torch::Tensor all = torch::from_blob(const_cast<float*>(values.data()), {int64_t(ids.size()), d}, torch::kFloat32);
    const torch::Tensor x = all.index_select(0, torch::tensor(rows, torch::kLong)).contiguous();

    // 1. The k nearest neighbours of each point by cosine distance (blocked exact search).
    std::vector<int64_t> neighbour(size_t(n * k));
    std::vector<float> distance(size_t(n * k));
    constexpr int64_t kBlock = 1024;
    for (int64_t begin = 0; begin < n; begin += kBlock) {
        const int64_t count = std::min(kBlock, n - begin);
        torch::Tensor similarity = x.narrow(0, begin, count).mm(x.t());
        similarity.narrow(1, begin, count).fill_diagonal_(-10);  // not its own neighbour
        const auto [best, index] = similarity.topk(k, 1);
        const torch::Tensor b = best.contiguous(), i = index.contiguous();
        for (int64_t r = 0; r < count; ++r)
            for (int j = 0; j < k; ++j) {
                neighbour[size_t((begin + r) * k + j)] = i.data_ptr<int64_t>()[r * k + j];
                distance[size_t((begin + r) * k + j)] = std::max(0.0f, 1.0f - b.data_ptr<float>()[r * k + j]);
            }
    }
    // 2. Fuzzy memberships: each point's nearest neighbour at 1, the rest decaying with a
    //    per-point scale whose memberships sum to log2(k); then the fuzzy union of both directions.
    std::map<std::pair<int64_t, int64_t>, double> weight;
    const double target = std::log2(double(k));
    for (int64_t i = 0; i < n; ++i) {
        const float* di = distance.data() + i * k;
        const double rho = di[0];
        double low = 0, high = std::numeric_limits<double>::infinity(), sigma = 1;
        for (int step = 0; step < 64; ++step) {
            double sum = 0;
            for (int j = 0; j < k; ++j) sum += std::exp(-std::max(0.0, di[j] - rho) / sigma);
            if (std::fabs(sum - target) < 1e-5) break;
            if (sum > target) high = sigma;
            else low = sigma;
            sigma = std::isinf(high) ? sigma * 2 : (low + high) / 2;
        }
        for (int j = 0; j < k; ++j) {
            const int64_t other = neighbour[size_t(i * k + j)];
            const double w = std::exp(-std::max(0.0, di[j] - rho) / std::max(sigma, 1e-12));
            auto key = std::minmax(i, other);
            auto [it, fresh] = weight.emplace(key, w);
            if (!fresh) it->second = it->second + w - it->second * w;
        }
    }
    // 3. Layout by stochastic gradient descent from the PCA picture: edges pull their ends
    //    together as often as their weight says; random pairs push apart (UMAP's forces with
    //    min_dist 0.1: a = 1.577, b = 0.895).
    const double a = 1.577, b = 0.8951;
    std::vector<double> y(size_t(n * 2));
    {
        double scale = 0;
        for (const auto& p : map.points) scale = std::max({scale, std::fabs(double(p.x)), std::fabs(double(p.y))});
        for (int64_t i = 0; i < n; ++i) {
            y[size_t(2 * i)] = 10 * map.points[size_t(i)].x / std::max(scale, 1e-12);
            y[size_t(2 * i + 1)] = 10 * map.points[size_t(i)].y / std::max(scale, 1e-12);
        }
    }
    struct Edge {
        int64_t i, j;
        double every, next;
    };
    std::vector<Edge> edges;
    double heaviest = 0;
    for (const auto& [key, w] : weight) heaviest = std::max(heaviest, w);
    for (const auto& [key, w] : weight)
        if (w >= heaviest / double(epochs)) edges.push_back({key.first, key.second, heaviest / w, heaviest / w});
    std::mt19937_64 random(42);
    std::uniform_int_distribution<int64_t> any(0, n - 1);
    auto clip = [](double g) { return std::max(-4.0, std::min(4.0, g)); };
    constexpr int kNegatives = 5;
    for (int epoch = 1; epoch <= epochs; ++epoch) {
        const double rate = 1.0 - double(epoch - 1) / double(epochs);
        for (auto& edge : edges) {
            if (edge.next > double(epoch)) continue;
            edge.next += edge.every;
            double* yi = &y[size_t(2 * edge.i)];
            double* yj = &y[size_t(2 * edge.j)];
            double dx = yi[0] - yj[0], dy = yi[1] - yj[1];
            double squared = dx * dx + dy * dy;
            if (squared > 0) {
                const double c = -2 * a * b * std::pow(squared, b - 1) / (a * std::pow(squared, b) + 1);
                const double gx = clip(c * dx) * rate, gy = clip(c * dy) * rate;
                yi[0] += gx, yi[1] += gy, yj[0] -= gx, yj[1] -= gy;
            }
            for (int s = 0; s < kNegatives; ++s) {
                const int64_t other = any(random);
                if (other == edge.i) continue;
                const double* yk = &y[size_t(2 * other)];
                dx = yi[0] - yk[0], dy = yi[1] - yk[1];
                squared = dx * dx + dy * dy;
                const double c = 2 * b / ((0.001 + squared) * (a * std::pow(squared, b) + 1));
                yi[0] += (c > 0 ? clip(c * dx) : 4.0) * rate;
                yi[1] += (c > 0 ? clip(c * dy) : 4.0) * rate;
            }
        }
    }
    for (int64_t i = 0; i < n; ++i) {
        map.points[size_t(i)].x = float(y[size_t(2 * i)]);
        map.points[size_t(i)].y = float(y[size_t(2 * i + 1)]);
    }
    return map;
}

}  // namespace pupembed
