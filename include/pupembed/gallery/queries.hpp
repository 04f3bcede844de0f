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
#include "pupembed/inference/embedder.hpp"

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

/// A photo to resolve into a QueryPhoto: a file, a decoded image (an upload, an array) or a
/// gallery image.
struct PhotoInput {
    enum class Kind { File, Decoded, GalleryId };
    Kind kind = Kind::File;
    std::string text;              ///< how the caller named it: a path, "#12", an upload's name
    const Image* image = nullptr;  ///< Kind::Decoded (not owned)
    int64_t id = -1;               ///< Kind::GalleryId

    /// "#12" as a gallery id, anything else as a file path.
    static PhotoInput named(const std::string& text);
    static PhotoInput decoded(const std::string& name, const Image& image);
    static PhotoInput gallery_image(int64_t id, const std::string& text);
};

/// PhotoInput::named of each text.
std::vector<PhotoInput> photo_inputs(const std::vector<std::string>& texts);

/// True when some inputs are not gallery ids: they need a model.
bool needs_model(const std::vector<PhotoInput>& inputs);

/// Resolves photos for a query. A gallery id takes the stored vector and breed of that image
/// (an Error without a gallery; of kind NotFound for an unknown id). Files and decoded images are
/// embedded by `embedder` (which may be null when needs_model() is false); a file already in the
/// gallery gets its gallery id, so searches can leave it out. A missing file is an Error of kind
/// BadInput.
std::vector<QueryPhoto> resolve_photos(Embedder* embedder, const std::vector<PhotoInput>& inputs, const Gallery* gallery);

/// `photo` with the embedding and most probable breed of `embedded` (by `model`'s classes).
void set_embedding(QueryPhoto& photo, EmbeddedPhoto embedded, const Model& model);

struct Neighbour {
    GalleryImage image;
    float similarity = 0;  ///< cosine similarity
    float distance = 0;    ///< cosine distance, 1 - similarity
};

/// Which index a search uses: exact below kApproximateSearchFrom images, else HNSW; or as told.
enum class IndexChoice { Automatic, Exact, Hnsw };
IndexChoice index_choice_from_name(const std::string& name);  ///< "auto", "exact", "hnsw"

/// The index a search of `gallery` with a `dimension`-d query uses (see IndexChoice): a snapshot
/// that may be searched without the gallery (see Gallery::index); null for an empty gallery.
/// Throws Error when the gallery holds vectors of another size.
std::shared_ptr<const VectorIndex> search_index(Gallery& gallery, size_t dimension, IndexChoice choice = IndexChoice::Automatic);

/// The gallery rows of an index's hits, in order (leaving out images removed since the index was made).
std::vector<Neighbour> neighbours_of(const Gallery& gallery, const std::vector<SearchHit>& hits);

/// The `k` gallery images most similar to `query` (a unit vector), most similar first, leaving
/// out the ids in `exclude`. Throws Error (BadInput) for a query with an infinite or NaN value.
std::vector<Neighbour> search_gallery(Gallery& gallery, const std::vector<float>& query, int k,
                                      const std::vector<int64_t>& exclude = {}, IndexChoice choice = IndexChoice::Automatic);

/// The normalised weighted sum of the photos' vectors. Throws Error when it is (nearly) zero,
/// e.g. for "a.jpg - a.jpg".
std::vector<float> combine(const std::vector<QueryPhoto>& photos, const std::vector<double>& weights);

/// Cosine similarity of two unit vectors.
float cosine_similarity(const std::vector<float>& a, const std::vector<float>& b);

/// Groups of gallery images whose cosine distance to another member is at most `threshold`
/// (linked transitively), largest group first; each group's ids ascending. The distance is that
/// of the vectors' appearance columns (GalleryModel::appearance_dimension) where the model gives
/// fewer than all, so a breed posterior in the embedding does not make two photos of one breed
/// near-duplicates.
std::vector<std::vector<int64_t>> find_duplicates(Gallery& gallery, double threshold);

/// What a gallery holds, as `index stats` shows it.
struct GalleryStats {
    int64_t photos = 0;
    int64_t missing_files = 0;  ///< photos whose file is gone
    GalleryModel model;
    int64_t generation = 0;
    int64_t file_bytes = 0;     ///< the gallery file's size (0 when it cannot be read)
    std::vector<std::pair<std::string, int64_t>> breeds;  ///< photos per guessed breed, most first ("(none)" without one)
};
GalleryStats gallery_stats(const Gallery& gallery);

}  // namespace pupembed
