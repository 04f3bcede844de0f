// The questions a gallery answers: the nearest photos to a photo, two photos' similarity,
// puppy algebra, and groups of near-duplicates.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "pupembed/gallery/algebra.hpp"
#include "pupembed/gallery/gallery.hpp"
#include "pupembed/inference/classify.hpp"

namespace pupembed {

struct Model;

/// A photo asked about: a file, or with a gallery a gallery id ("#12").
struct QueryPhoto {
    std::string text;         ///< as given
    std::string path;         ///< the file (the gallery's file for an id)
    int64_t gallery_id = -1;  ///< the gallery image it is, when known (-1: none)
    std::vector<float> vector;
    std::string breed;        ///< most probable breed ("" without a classifier)
    double breed_probability = 0;
};

/// Gallery image `id` as a query photo (its stored vector and breed), or nothing when the
/// gallery has no such image; `text` is how the caller named it.
std::optional<QueryPhoto> gallery_photo(const Gallery& gallery, int64_t id, const std::string& text);

/// True when some of `texts` are photo files rather than gallery ids: they need a model.
bool needs_model(const std::vector<std::string>& texts);

/// Embeds photo files with `model` (which may be null when needs_model() is false); "#<id>" takes
/// the stored vector and breed of that gallery image (an Error without a gallery or for an
/// unknown id). A file already in the gallery (same path) gets its gallery id, so searches can
/// leave it out.
std::vector<QueryPhoto> resolve_photos(Model* model, const std::vector<std::string>& texts, Gallery* gallery,
                                       const InferenceOptions& options);

struct Neighbour {
    GalleryImage image;
    float similarity = 0;  ///< cosine similarity
    float distance = 0;    ///< cosine distance, 1 - similarity
};

/// Which index a search uses: exact below kApproximateSearchFrom images, else HNSW; or as told.
enum class IndexChoice { Automatic, Exact, Hnsw };
IndexChoice index_choice_from_name(const std::string& name);  ///< "auto", "exact", "hnsw"

/// The `k` gallery images most similar to `query` (a unit vector), most similar first, leaving
/// out the ids in `exclude`.
std::vector<Neighbour> search_gallery(Gallery& gallery, const std::vector<float>& query, int k,
                                      const std::vector<int64_t>& exclude = {}, IndexChoice choice = IndexChoice::Automatic);

/// The normalised weighted sum of the photos' vectors. Throws Error when it is (nearly) zero,
/// e.g. for "a.jpg - a.jpg".
std::vector<float> combine(const std::vector<QueryPhoto>& photos, const std::vector<double>& weights);

/// Cosine similarity of two unit vectors.
float cosine_similarity(const std::vector<float>& a, const std::vector<float>& b);

/// Groups of gallery images whose cosine distance to another member is at most `threshold`
/// (linked transitively), largest group first; each group's ids ascending.
std::vector<std::vector<int64_t>> find_duplicates(Gallery& gallery, double threshold);

}  // namespace pupembed
