// The photos a gallery is asked about (files, decoded images, gallery ids) and what is computed
// from them besides searches (search.hpp): two photos' similarity, algebra's weighted sum, groups
// of near-duplicates, what a gallery holds.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

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

/// The normalised weighted sum of the photos' vectors. Throws Error (BadInput) when it is
/// (nearly) zero, e.g. for "a.jpg - a.jpg", or not finite.
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
    int64_t missing_files = 0;  ///< photos whose file is gone; -1: not checked
    GalleryModel model;
    int64_t generation = 0;
    int64_t file_bytes = 0;     ///< the gallery file's size (0 when it cannot be read)
    /// The index automatic searches use ("exact", "hnsw", "ivfpq") and whether `index build` chose
    /// it (else the size did); the index files beside the gallery and their sizes.
    std::string index;
    bool index_chosen = false;
    std::vector<std::pair<std::string, int64_t>> index_files;
    std::vector<std::pair<std::string, int64_t>> breeds;  ///< photos per guessed breed, most first ("(none)" without one)
};
/// Files are looked for (a stat() each: 10 million take minutes) when `check_files` says so, by
/// default below kApproximateSearchFrom photos.
enum class FileCheck { BySize, Always, Never };
GalleryStats gallery_stats(const Gallery& gallery, FileCheck check_files = FileCheck::BySize);

}  // namespace pupembed
