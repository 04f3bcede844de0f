// Photos in, embeddings out: batched, with decoding on a worker thread overlapping the network.
#pragma once

#include <array>
#include <functional>
#include <string>
#include <vector>

#include "pupembed/core/float_rows.hpp"
#include "pupembed/inference/classify.hpp"

namespace pupembed {

struct Model;

struct EmbeddingSet {
    FloatRows vectors;                   ///< N x D unit vectors, one per photo embedded
    std::vector<std::string> paths;      ///< the photo of each row
    std::vector<std::string> failures;   ///< "path: reason" of photos skipped
    double seconds = 0;                  ///< wall time, decoding included
};

/// The image files named by `inputs`: files as given, folders searched recursively for
/// .jpg/.jpeg/.png/.webp/.bmp (sorted). Throws Error for an input that does not exist. A folder
/// entry with such a name that is no file (a dangling or looping symbolic link, a FIFO) and a
/// subfolder that cannot be read are passed over, and listed as "path: reason" in `passed_over`
/// when it is given.
std::vector<std::string> collect_image_paths(const std::vector<std::string>& inputs,
                                             std::vector<std::string>* passed_over = nullptr);

/// One batch of photos embedded.
struct EmbeddedBatch {
    std::vector<size_t> indices;            ///< positions in the path list of the photos embedded
    std::vector<std::array<int, 2>> sizes;  ///< each photo's width and height
    FloatRows embeddings;                   ///< n x D unit vectors
    FloatRows probabilities;                ///< n x classes when asked for and the model has a classifier
    std::vector<std::string> failures;      ///< "path: reason" of photos that could not be read
};

/// Decides from a photo file's bytes (and its index in the list) whether to decode and embed it;
/// called from the loading threads, so it must be thread-safe.
using FileFilter = std::function<bool(size_t index, const std::string& bytes)>;

/// Runs the model over `paths` batch by batch, decoding the next batch on another thread while
/// the network runs, and hands each batch to `on_batch`. With `skip_bad`, unreadable photos are
/// listed in the batch's failures; without, the first is thrown as Error.
/// A photo that `admit` (when given) refuses is read once, not decoded, and in no batch.
void for_each_embedded_batch(Model& model, const std::vector<std::string>& paths, const InferenceOptions& options,
                             bool skip_bad, bool with_probabilities,
                             const std::function<void(const EmbeddedBatch&)>& on_batch, const FileFilter& admit = {});

/// Embeds `paths` with the model's embedding head (or its normalised pooled features). With
/// `skip_bad` an unreadable photo is listed in `failures` and skipped; without it, it is an Error.
EmbeddingSet embed_images(Model& model, const std::vector<std::string>& paths, const InferenceOptions& options,
                          bool skip_bad);

struct Image;

/// A photo run through the model.
struct EmbeddedPhoto {
    std::vector<float> vector;         ///< unit embedding
    std::vector<float> probabilities;  ///< one per class, empty for a model without a classifier
};

/// Embeds decoded images in one batch (preprocessed with the model's settings), with the class
/// probabilities when `with_probabilities` and the model has a classifier.
std::vector<EmbeddedPhoto> embed_decoded(Model& model, const std::vector<const Image*>& images,
                                            bool with_probabilities);

/// Writes the vectors to `npy_path` and, beside it (.tsv), a `# pupembed embeddings v1` line,
/// a `# model<TAB>FILE` line and one path per row.
void write_embedding_set(const std::string& npy_path, const EmbeddingSet& set, const std::string& model_file);

}  // namespace pupembed
