#include "pupembed/gallery/queries.hpp"
#include "pupembed/gallery/search.hpp"

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <map>
#include <numeric>

#include "inference/similar_pairs.hpp"
#include "pupembed/core/error.hpp"
#include "pupembed/gallery/algebra.hpp"
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
    if (photo.vector.empty()) return std::nullopt;  // removed (by another thread or process) since find()
    photo.breed = image->breed;
    photo.breed_probability = image->breed_probability;
    return photo;
}

PhotoInput PhotoInput::named(const std::string& text) {
    long long id = 0;
    if (parse_gallery_id(text, id)) return gallery_image(id, text);
    PhotoInput input;
    input.text = text;
    return input;
}

PhotoInput PhotoInput::decoded(const std::string& name, const Image& image) {
    PhotoInput input;
    input.kind = Kind::Decoded;
    input.text = name;
    input.image = &image;
    return input;
}

PhotoInput PhotoInput::gallery_image(int64_t id, const std::string& text) {
    PhotoInput input;
    input.kind = Kind::GalleryId;
    input.text = text;
    input.id = id;
    return input;
}

std::vector<PhotoInput> photo_inputs(const std::vector<std::string>& texts) {
    std::vector<PhotoInput> inputs;
    for (const auto& text : texts) inputs.push_back(PhotoInput::named(text));
    return inputs;
}

bool needs_model(const std::vector<PhotoInput>& inputs) {
    return std::any_of(inputs.begin(), inputs.end(),
                       [](const PhotoInput& input) { return input.kind != PhotoInput::Kind::GalleryId; });
}

void set_embedding(QueryPhoto& photo, EmbeddedPhoto embedded, const Model& model) {
    photo.vector = std::move(embedded.vector);
    const auto top = top_classes(model, embedded.probabilities, 1);
    if (!top.empty()) {
        photo.breed = top[0].name;
        photo.breed_probability = top[0].probability;
    }
}

std::vector<QueryPhoto> resolve_photos(Embedder* embedder, const std::vector<PhotoInput>& inputs, const Gallery* gallery) {
    std::vector<QueryPhoto> photos(inputs.size());
    std::vector<std::string> files;
    std::vector<size_t> file_rows;
    for (size_t i = 0; i < inputs.size(); ++i) {
        const PhotoInput& input = inputs[i];
        QueryPhoto& photo = photos[i];
        photo.text = input.text;
        if (input.kind == PhotoInput::Kind::GalleryId) {
            if (!gallery) throw Error(input.text, "a gallery id needs --db GALLERY", ErrorKind::BadInput);
            auto stored = gallery_photo(*gallery, input.id, input.text);
            if (!stored)
                throw Error(input.text, "no image with id " + std::to_string(input.id) + " in the gallery",
                            ErrorKind::NotFound);
            photo = std::move(*stored);
            continue;
        }
        if (!embedder) throw Error("internal: photos need a model");
        if (input.kind == PhotoInput::Kind::Decoded) {
            set_embedding(photo, embedder->embed_image(*input.image), embedder->model());
            continue;
        }
        std::error_code error;
        if (!fs::is_regular_file(input.text, error)) throw Error(input.text, "no such photo file", ErrorKind::BadInput);
        photo.path = gallery_path_key(input.text);
        if (gallery)
            if (const auto image = gallery->find_path(photo.path)) photo.gallery_id = image->id;
        files.push_back(input.text);
        file_rows.push_back(i);
    }
    if (!files.empty())
        embedder->embed_files(files, false, [&](const EmbeddedBatch& batch) {
            for (size_t r = 0; r < batch.indices.size(); ++r) {
                EmbeddedPhoto embedded;
                embedded.vector = batch.embeddings.row_vector(int64_t(r));
                if (!batch.probabilities.empty()) embedded.probabilities = batch.probabilities.row_vector(int64_t(r));
                set_embedding(photos[file_rows[batch.indices[r]]], std::move(embedded), embedder->model());
            }
        });
    return photos;
}

std::vector<float> combine(const std::vector<QueryPhoto>& photos, const std::vector<double>& weights) {
    if (photos.empty() || photos.size() != weights.size()) throw Error("internal: combine needs one weight per photo");
    std::vector<double> sum(photos[0].vector.size(), 0.0);
    for (size_t i = 0; i < photos.size(); ++i) {
        if (photos[i].vector.size() != sum.size()) throw Error("photos of different embedding sizes");
        for (size_t j = 0; j < sum.size(); ++j) sum[j] += weights[i] * photos[i].vector[j];
    }
    for (size_t i = 0; i < photos.size(); ++i)
        if (!std::isfinite(weights[i])) throw Error(photos[i].text, "its weight is not a finite number", ErrorKind::BadInput);
    const double norm = std::sqrt(std::inner_product(sum.begin(), sum.end(), sum.begin(), 0.0));
    if (!std::isfinite(norm))
        throw Error("the expression's weights are too large: the weighted sum is not a finite vector", ErrorKind::BadInput);
    if (!(norm > 1e-6))
        throw Error("the expression adds up to nothing (a zero vector): there is no direction to search", ErrorKind::BadInput);
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
    int64_t d = int64_t(values.size()) / n;
    const int64_t appearance = gallery.model().appearance_dimension;
    if (appearance > 0 && appearance < d) {
        // The photo's own columns, unit length again: a breed posterior would make any two photos
        // the classifier is sure are of one breed look like near-duplicates.
        std::vector<float> own(static_cast<size_t>(n * appearance));
        for (int64_t i = 0; i < n; ++i) {
            const float* from = values.data() + i * d;
            double norm = 0;
            for (int64_t c = 0; c < appearance; ++c) norm += double(from[c]) * from[c];
            const float scale = norm > 0 ? float(1 / std::sqrt(norm)) : 0.f;
            for (int64_t c = 0; c < appearance; ++c) own[size_t(i * appearance + c)] = from[c] * scale;
        }
        values.swap(own);
        d = appearance;
    }
    std::vector<int64_t> parent(static_cast<size_t>(n));
    std::iota(parent.begin(), parent.end(), 0);
    auto root = [&](int64_t x) {
        while (parent[size_t(x)] != x) x = parent[size_t(x)] = parent[size_t(parent[size_t(x)])];
        return x;
    };
    for_each_similar_pair(values.data(), n, d, float(1.0 - threshold),
                          [&](int64_t a, int64_t b) { parent[size_t(root(a))] = root(b); });
    std::map<int64_t, std::vector<int64_t>> groups;
    for (int64_t i = 0; i < n; ++i) groups[root(i)].push_back(ids[size_t(i)]);
    std::vector<std::vector<int64_t>> result;
    for (auto& [key, members] : groups)
        if (members.size() > 1) result.push_back(std::move(members));
    std::stable_sort(result.begin(), result.end(), [](const auto& a, const auto& b) { return a.size() > b.size(); });
    return result;
}

GalleryStats gallery_stats(const Gallery& gallery, FileCheck check_files) {
    GalleryStats stats;
    stats.photos = gallery.size();
    stats.model = gallery.model();
    stats.generation = gallery.generation();
    for (auto [breed, count] : gallery.breed_counts()) stats.breeds.push_back({breed.empty() ? "(none)" : breed, count});
    const bool check = check_files == FileCheck::Always || (check_files == FileCheck::BySize && stats.photos < kApproximateSearchFrom);
    stats.missing_files = check ? 0 : -1;
    if (check) {
        for (const auto& image : gallery.images()) {
            std::error_code error;
            if (!fs::exists(image.path, error)) ++stats.missing_files;
        }
    }
    std::error_code error;
    const auto bytes = fs::file_size(gallery.path(), error);
    stats.file_bytes = error ? 0 : int64_t(bytes);
    stats.index_chosen = !gallery.chosen_index().empty();
    stats.index = index_kind_name(index_kind_for(gallery, IndexChoice::Automatic));
    for (const char* suffix : {".index", ".ivfpq", ".vectors"}) {
        const auto size = fs::file_size(gallery.path() + suffix, error);
        if (!error) stats.index_files.push_back({gallery.path() + suffix, int64_t(size)});
    }
    return stats;
}

}  // namespace pupembed
