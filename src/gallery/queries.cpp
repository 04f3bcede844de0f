#include "pupembed/gallery/queries.hpp"

#include <torch/torch.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <map>
#include <numeric>

#include "pupembed/core/error.hpp"
#include "pupembed/inference/embed.hpp"
#include "pupembed/model/model.hpp"

namespace fs = std::filesystem;

namespace pupembed {

std::optional<QueryPhoto> gallery_photo(const Gallery& gallery, int64_t id, const std::string& text) {
    const auto image = gallery.find(id);
    if (!image) return std::nullopt;
    QueryPhoto photo;
    photo.text = text;
    photo.path = image->path;
    photo.gallery_id = image->id;
    photo.vector = gallery.vector(id);
    photo.breed = image->breed;
    photo.breed_probability = image->breed_probability;
    return photo;
}

bool needs_model(const std::vector<std::string>& texts) {
    long long id = 0;
    return std::any_of(texts.begin(), texts.end(), [&](const std::string& text) { return !parse_gallery_id(text, id); });
}

std::vector<QueryPhoto> resolve_photos(Model* model, const std::vector<std::string>& texts, Gallery* gallery,
                                       const InferenceOptions& options) {
    std::vector<QueryPhoto> photos(texts.size());
    std::vector<std::string> files;
    std::vector<size_t> file_rows;
    for (size_t i = 0; i < texts.size(); ++i) {
        QueryPhoto& photo = photos[i];
        photo.text = texts[i];
        long long id = 0;
        if (parse_gallery_id(texts[i], id)) {
            if (!gallery) throw Error(texts[i], "a gallery id needs --db GALLERY");
            auto stored = gallery_photo(*gallery, id, texts[i]);
            if (!stored) throw Error(texts[i], "no such image in " + gallery->path());
            photo = std::move(*stored);
            continue;
        }
        std::error_code error;
        if (!fs::is_regular_file(texts[i], error)) throw Error(texts[i], "no such photo file");
        photo.path = fs::absolute(texts[i]).lexically_normal().string();
        if (gallery)
            if (const auto image = gallery->find_path(photo.path)) photo.gallery_id = image->id;
        files.push_back(texts[i]);
        file_rows.push_back(i);
    }
    if (!files.empty()) {
        if (!model) throw Error("internal: photo files need a model");
        for_each_embedded_batch(*model, files, options, false, true, [&](const EmbeddedBatch& batch) {
            const torch::Tensor vectors = batch.embeddings.to(torch::kFloat32).contiguous();
            for (size_t r = 0; r < batch.indices.size(); ++r) {
                QueryPhoto& photo = photos[file_rows[batch.indices[r]]];
                const float* row = vectors.data_ptr<float>() + r * size_t(vectors.size(1));
                photo.vector.assign(row, row + vectors.size(1));
                if (batch.probabilities.defined()) {
                    const auto [probability, index] = batch.probabilities[int64_t(r)].max(0);
                    photo.breed = model->info.class_names.at(size_t(index.item<int64_t>()));
                    photo.breed_probability = probability.item<double>();
                }
            }
        });
    }
    if (gallery && !photos.empty()) {
        const int64_t dimension = gallery->model().dimension;
        for (const auto& photo : photos)
            if (dimension > 0 && int64_t(photo.vector.size()) != dimension)
                throw Error(photo.text, "embeds to " + std::to_string(photo.vector.size()) + " values, the gallery holds " +
                                            std::to_string(dimension) + "-d vectors (another model?)");
    }
    return photos;
}

IndexChoice index_choice_from_name(const std::string& name) {
    if (name == "auto") return IndexChoice::Automatic;
    if (name == "exact") return IndexChoice::Exact;
    if (name == "hnsw") return IndexChoice::Hnsw;
    throw Error("--index \"" + name + "\"", "unknown (auto, exact or hnsw)");
}

std::vector<Neighbour> search_gallery(Gallery& gallery, const std::vector<float>& query, int k,
                                      const std::vector<int64_t>& exclude, IndexChoice choice) {
    if (k < 1) throw Error("-k", "must be at least 1");
    const int64_t size = gallery.size();
    if (size == 0) return {};
    if (int64_t(query.size()) != gallery.model().dimension)
        throw Error("query has " + std::to_string(query.size()) + " values, the gallery " +
                    std::to_string(gallery.model().dimension));
    const bool approximate = choice == IndexChoice::Hnsw || (choice == IndexChoice::Automatic && size >= kApproximateSearchFrom);
    const VectorIndex& index = gallery.index(approximate ? IndexKind::Hnsw : IndexKind::Exact);
    const auto hits = index.search(query.data(), 1, k, exclude);
    std::vector<Neighbour> neighbours;
    for (const auto& hit : hits.at(0)) {
        auto image = gallery.find(hit.id);
        if (!image) throw Error(gallery.path(), "damaged gallery (the index names image " + std::to_string(hit.id) + ")");
        // Rounding can put a photo's similarity to itself a hair above 1.
        const float similarity = std::min(1.0f, hit.similarity);
        neighbours.push_back({std::move(*image), similarity, 1.0f - similarity});
    }
    return neighbours;
}

std::vector<float> combine(const std::vector<QueryPhoto>& photos, const std::vector<double>& weights) {
    if (photos.empty() || photos.size() != weights.size()) throw Error("internal: combine needs one weight per photo");
    std::vector<double> sum(photos[0].vector.size(), 0.0);
    for (size_t i = 0; i < photos.size(); ++i) {
        if (photos[i].vector.size() != sum.size()) throw Error("photos of different embedding sizes");
        for (size_t j = 0; j < sum.size(); ++j) sum[j] += weights[i] * photos[i].vector[j];
    }
    for (size_t i = 0; i < photos.size(); ++i)
        if (!std::isfinite(weights[i])) throw Error(photos[i].text, "its weight is not a finite number");
    const double norm = std::sqrt(std::inner_product(sum.begin(), sum.end(), sum.begin(), 0.0));
    if (!std::isfinite(norm))
        throw Error("the expression's weights are too large: the weighted sum is not a finite vector");
    if (!(norm > 1e-6)) throw Error("the expression adds up to nothing (a zero vector): there is no direction to search");
    std::vector<float> result(sum.size());
    for (size_t j = 0; j < sum.size(); ++j) result[j] = float(sum[j] / norm);
    return result;
}

float cosine_similarity(const std::vector<float>& a, const std::vector<float>& b) {
    if (a.size() != b.size() || a.empty()) throw Error("internal: vectors of different sizes");
    double dot = 0, na = 0, nb = 0;
    for (size_t i = 0; i < a.size(); ++i) {
        dot += double(a[i]) * b[i];
        na += double(a[i]) * a[i];
        nb += double(b[i]) * b[i];
    }
    return float(dot / std::sqrt(std::max(na * nb, 1e-30)));
}

std::vector<std::vector<int64_t>> find_duplicates(Gallery& gallery, double threshold) {
    if (!(threshold >= 0 && threshold <= 2)) throw Error("--threshold", "must be a cosine distance between 0 and 2");
    std::vector<int64_t> ids;
    std::vector<float> values;
    gallery.vectors(ids, values);
    const int64_t n = int64_t(ids.size());
    if (n < 2) return {};
    const int64_t d = int64_t(values.size()) / n;
    const torch::Tensor all = torch::from_blob(values.data(), {n, d}, torch::kFloat32);
    std::vector<int64_t> parent(static_cast<size_t>(n));
    std::iota(parent.begin(), parent.end(), 0);
    auto root = [&](int64_t x) {
        while (parent[size_t(x)] != x) x = parent[size_t(x)] = parent[size_t(parent[size_t(x)])];
        return x;
    };
    torch::InferenceMode inference;
    const float minimum = float(1.0 - threshold);
    constexpr int64_t kBlock = 1024;
    for (int64_t begin = 0; begin < n; begin += kBlock) {
        const int64_t rows = std::min(kBlock, n - begin);
        const torch::Tensor similar = all.narrow(0, begin, rows).matmul(all.t()).ge(minimum).nonzero().contiguous();
        const int64_t* pairs = similar.data_ptr<int64_t>();
        for (int64_t p = 0; p < similar.size(0); ++p) {
            const int64_t a = begin + pairs[2 * p], b = pairs[2 * p + 1];
            if (a < b) parent[size_t(root(a))] = root(b);
        }
    }
    std::map<int64_t, std::vector<int64_t>> groups;
    for (int64_t i = 0; i < n; ++i) groups[root(i)].push_back(ids[size_t(i)]);
    std::vector<std::vector<int64_t>> result;
    for (auto& [key, members] : groups)
        if (members.size() > 1) result.push_back(std::move(members));
    std::stable_sort(result.begin(), result.end(), [](const auto& a, const auto& b) { return a.size() > b.size(); });
    return result;
}

}  // namespace pupembed
